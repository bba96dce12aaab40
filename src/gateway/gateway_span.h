// The gateway span of one invoke request: the trace context the request came with
// (traceparent/tracestate, else X-Amzn-Trace-Id, else a new trace), the span id of the
// gateway's own span, and the finished span once the answer is known.
#pragma once

#include <cstdint>
#include <string>

#include "http/types.h"
#include "observability/span.h"
#include "observability/trace_context.h"

namespace nimbus::gateway {

struct GatewayTrace {
  observability::TraceContext incoming;  // span_id: the caller's span, may be empty
  observability::TraceContext own;       // same trace, span_id: the gateway span
  int64_t start_unix_ns = 0;
};

GatewayTrace startGatewayTrace(const http::Request& req, bool sampled_if_new);
observability::Span gatewaySpan(const GatewayTrace& trace, const std::string& function,
                                const std::string& invocation_type, const http::Response& res);

}  // namespace nimbus::gateway
