// Gateway span assembly.
#include "gateway/gateway_span.h"

#include "base/time.h"

namespace nimbus::gateway {

GatewayTrace startGatewayTrace(const http::Request& req, bool sampled_if_new) {
  GatewayTrace t;
  t.start_unix_ns = observability::unixNanosNow();
  auto incoming = observability::incomingTraceContext(req["traceparent"], req["tracestate"],
                                                      req["X-Amzn-Trace-Id"]);
  if (incoming) {
    t.incoming = std::move(*incoming);
  } else {
    t.incoming.trace_id = observability::newTraceId(systemNowMillis() / 1000);
    t.incoming.sampled = sampled_if_new;
  }
  t.own = t.incoming;
  t.own.span_id = observability::newSpanId();
  return t;
}

observability::Span gatewaySpan(const GatewayTrace& trace, const std::string& function,
                                const std::string& invocation_type, const http::Response& res) {
  observability::Span s;
  s.trace_id = trace.own.trace_id;
  s.span_id = trace.own.span_id;
  s.parent_span_id = trace.incoming.span_id;
  s.tracestate = trace.own.tracestate;
  s.name = "nimbus.gateway";
  s.kind = observability::SpanKind::kServer;
  s.start_unix_ns = trace.start_unix_ns;
  s.end_unix_ns = observability::unixNanosNow();
  const int status = static_cast<int>(res.result_int());
  s.attributes.emplace_back("http.request.method", std::string("POST"));
  s.attributes.emplace_back("http.route", std::string("/2015-03-31/functions/{name}/invocations"));
  s.attributes.emplace_back("http.response.status_code", static_cast<int64_t>(status));
  s.attributes.emplace_back("faas.invoked_name", function);
  s.attributes.emplace_back("nimbus.invocation_type", invocation_type);
  if (auto id = res.find("x-amzn-RequestId"); id != res.end()) {
    s.attributes.emplace_back("faas.invocation_id", std::string(id->value()));
  }
  if (status >= 500) s.error = true;
  return s;
}

}  // namespace nimbus::gateway
