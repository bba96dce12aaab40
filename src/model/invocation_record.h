// What an invocation leaves behind for operators: its record (one per run, retries
// included) and the log lines of its output. Written by observability, kept by store,
// served by control.
#pragma once

#include <cstdint>
#include <string>

namespace nimbus::model {

// Outcome names as records and metrics spell them.
inline constexpr const char* kOutcomeSuccess = "success";
inline constexpr const char* kOutcomeFunctionError = "function_error";
inline constexpr const char* kOutcomeTimeout = "timeout";
inline constexpr const char* kOutcomeOutOfMemory = "out_of_memory";
inline constexpr const char* kOutcomeThrottled = "throttled";
inline constexpr const char* kOutcomePlatformError = "platform_error";

struct InvocationRecord {
  int64_t id = 0;  // assigned by the store; orders records by when they were written
  std::string request_id;
  std::string function_name;
  std::string version;    // the version that ran ($LATEST, 1, ...)
  std::string qualifier;  // as the caller gave it (alias, version or empty)
  std::string trigger;    // sync | async | ...
  int64_t start_ms = 0;   // wall clock, when nimbus took the invocation
  double duration_ms = 0;
  int64_t billed_ms = 0;
  double init_ms = 0;  // cold starts only
  bool cold_start = false;
  std::string instance_id;
  int64_t max_memory_mb = 0;
  int memory_size_mb = 0;
  std::string outcome;     // one of the kOutcome* names
  std::string error_type;  // empty on success
  int attempt = 1;
  std::string trace_id;
  std::string correlation_id;
};

struct LogLine {
  // Assigned by the store; strictly increasing, a follower's cursor: the id of the
  // line's chunk times 2^16 plus its index in the chunk.
  int64_t id = 0;
  int64_t timestamp_ms = 0;
  std::string function_name;
  std::string request_id;  // empty for output outside any invocation (init)
  std::string message;
};

// Consecutive lines of one invocation's log, stored as one row: an invocation that
// prints little costs one row, not one per line (START/END/REPORT included).
struct LogChunk {
  int64_t id = 0;            // assigned by the store
  int64_t timestamp_ms = 0;  // of the first line
  std::string function_name;
  std::string request_id;
  std::string text;  // the lines, joined by '\n'
  int line_count = 0;
};
inline constexpr int kMaxLinesPerChunk = 65535;  // line index fits the cursor's low 16 bits

}  // namespace nimbus::model
