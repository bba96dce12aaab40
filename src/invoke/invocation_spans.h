// The trace side of one invocation: which context the function sees (its parent is the
// invoke span) and the spans it leaves: queue wait (async), init (cold start) and
// invoke (the runtime's run), all children of the caller's span (the gateway's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation.h"
#include "model/invocation_record.h"
#include "observability/span.h"
#include "observability/trace_context.h"

namespace nimbus::invoke {

struct InvocationTrace {
  observability::TraceContext parent;  // the caller's span (span_id empty: none)
  std::string invoke_span_id;          // the invoke span; the function's parent
};

// Reads request.traceparent (else request.trace_id, X-Ray form; else a new trace) and
// rewrites the request's trace_id/traceparent to name the invoke span as parent.
InvocationTrace traceInvocation(model::InvokeRequest& request, bool sampled_if_new);

// The spans of a finished invocation. `begin_ns`/`end_ns`: when the pool was called
// and returned; `queued_since_ms`: 0 unless it waited in the async queue.
std::vector<observability::Span> invocationSpans(const InvocationTrace& trace,
                                                 const model::InvocationRecord& record,
                                                 const std::string& resource_arn,
                                                 int64_t queued_since_ms, int64_t begin_ns,
                                                 int64_t end_ns);

}  // namespace nimbus::invoke
