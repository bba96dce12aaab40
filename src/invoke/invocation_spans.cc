// Invocation span assembly. The runtime's run is timed by the pool (duration_ms ends
// when the answer came); init is placed just before it, as long as the pool measured.
#include "invoke/invocation_spans.h"

#include <algorithm>

#include "base/time.h"

namespace nimbus::invoke {

using observability::Span;
using observability::SpanKind;
using observability::TraceContext;

InvocationTrace traceInvocation(model::InvokeRequest& request, bool sampled_if_new) {
  InvocationTrace t;
  auto incoming = observability::incomingTraceContext(request.traceparent, request.tracestate,
                                                      request.trace_id);
  if (incoming) {
    t.parent = std::move(*incoming);
  } else {
    t.parent.trace_id = observability::newTraceId(systemNowMillis() / 1000);
    t.parent.sampled = sampled_if_new;
  }
  t.invoke_span_id = observability::newSpanId();
  TraceContext mine = t.parent;
  mine.span_id = t.invoke_span_id;
  request.trace_id = observability::formatXrayHeader(mine);
  request.traceparent = observability::formatTraceparent(mine);
  request.tracestate = t.parent.tracestate;
  return t;
}

namespace {

Span childOf(const InvocationTrace& trace, std::string span_id, std::string name) {
  Span s;
  s.trace_id = trace.parent.trace_id;
  s.span_id = std::move(span_id);
  s.parent_span_id = trace.parent.span_id;
  s.tracestate = trace.parent.tracestate;
  s.name = std::move(name);
  return s;
}

void addCommon(Span& s, const model::InvocationRecord& r, const std::string& arn) {
  s.attributes.emplace_back("faas.invocation_id", r.request_id);
  s.attributes.emplace_back("faas.name", r.function_name);
  s.attributes.emplace_back("faas.version", r.version);
  s.attributes.emplace_back("faas.trigger", std::string(r.trigger == "sync" ? "http" : "other"));
  s.attributes.emplace_back("cloud.resource_id", arn);
  s.attributes.emplace_back("nimbus.trigger", r.trigger);
  s.attributes.emplace_back("nimbus.attempt", static_cast<int64_t>(r.attempt));
}

}  // namespace

std::vector<Span> invocationSpans(const InvocationTrace& trace, const model::InvocationRecord& r,
                                  const std::string& arn, int64_t queued_since_ms, int64_t begin_ns,
                                  int64_t end_ns) {
  std::vector<Span> spans;
  if (queued_since_ms > 0) {
    Span q = childOf(trace, observability::newSpanId(), "nimbus.queue_wait");
    q.start_unix_ns = std::min(queued_since_ms * 1000000, begin_ns);
    q.end_unix_ns = begin_ns;
    addCommon(q, r, arn);
    spans.push_back(std::move(q));
  }
  // The run: from when the runtime took the event; without one (throttled, platform
  // error), the whole attempt.
  const bool ran =
      r.outcome != model::kOutcomeThrottled && r.outcome != model::kOutcomePlatformError;
  int64_t run_start = begin_ns;
  if (ran) {
    run_start = std::max(begin_ns, end_ns - static_cast<int64_t>(r.duration_ms * 1e6));
  }
  if (r.cold_start && r.init_ms > 0) {
    Span init = childOf(trace, observability::newSpanId(), "nimbus.init");
    init.start_unix_ns = std::max(begin_ns, run_start - static_cast<int64_t>(r.init_ms * 1e6));
    init.end_unix_ns = run_start;
    addCommon(init, r, arn);
    init.attributes.emplace_back("faas.coldstart", true);
    init.attributes.emplace_back("nimbus.instance_id", r.instance_id);
    spans.push_back(std::move(init));
  }
  Span inv = childOf(trace, trace.invoke_span_id, "nimbus.invoke");
  inv.start_unix_ns = run_start;
  inv.end_unix_ns = end_ns;
  addCommon(inv, r, arn);
  inv.attributes.emplace_back("faas.coldstart", r.cold_start);
  inv.attributes.emplace_back("faas.max_memory", static_cast<int64_t>(r.memory_size_mb) << 20);
  inv.attributes.emplace_back("nimbus.outcome", r.outcome);
  if (!r.instance_id.empty()) inv.attributes.emplace_back("nimbus.instance_id", r.instance_id);
  if (r.outcome != model::kOutcomeSuccess) {
    inv.error = true;
    inv.status_message = r.error_type.empty() ? r.outcome : r.error_type;
  }
  spans.push_back(std::move(inv));
  return spans;
}

}  // namespace nimbus::invoke
