// Trace context: the W3C `traceparent`/`tracestate` headers and AWS X-Ray's
// `X-Amzn-Trace-Id`, which name the same 128-bit trace id (X-Ray's Root is
// 1-<first 8 hex>-<remaining 24 hex>, as AWS maps them) and the same 64-bit parent
// span id. Parsing, formatting and generation; no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nimbus::observability {

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string
      span_id;  // 16 lower-case hex digits: the caller's span (parent of ours); may be empty
  bool sampled = false;
  std::string tracestate;  // W3C tracestate, passed on as given (may be empty)
};

// `00-<32 hex>-<16 hex>-<2 hex>` (later versions: the first four fields). nullopt when
// malformed, as the W3C spec says to then ignore it.
std::optional<TraceContext> parseTraceparent(std::string_view header);
std::string formatTraceparent(const TraceContext& context);
// `Root=1-<8 hex>-<24 hex>[;Parent=<16 hex>][;Sampled=0|1]`, fields in any order.
std::optional<TraceContext> parseXrayHeader(std::string_view header);
std::string formatXrayHeader(const TraceContext& context);

// A new trace id whose first 8 hex digits are the epoch seconds (so it is also a valid
// X-Ray Root), and a new span id; both from the per-thread id generator.
std::string newTraceId(int64_t epoch_seconds);
std::string newSpanId();

// The context of an incoming request: a valid traceparent wins (with its tracestate),
// else a valid X-Amzn-Trace-Id, else nullopt (the caller starts a new trace).
std::optional<TraceContext> incomingTraceContext(std::string_view traceparent,
                                                 std::string_view tracestate,
                                                 std::string_view xray);

}  // namespace nimbus::observability
