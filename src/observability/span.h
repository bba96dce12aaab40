// One finished span as nimbus records it (gateway, queue wait, init, invoke), before
// it is encoded for export.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace nimbus::observability {

// Wall clock, epoch nanoseconds: span times.
inline int64_t unixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// OTLP span kinds (the numbers are the protocol's).
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct Span {
  std::string trace_id;        // 32 hex
  std::string span_id;         // 16 hex
  std::string parent_span_id;  // 16 hex, or empty for a root span
  std::string tracestate;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  bool error = false;  // status code ERROR, with `status_message`
  std::string status_message;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
};

}  // namespace nimbus::observability
