// The recent log lines of each function (its output plus START/END/REPORT), kept in
// memory with a per-function cap, for `nimbus logs` and GET /v1/functions/{f}/logs.
// Every line also goes to the sink when one is set (observability persists them).
// Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace nimbus::pool {

struct LogEvent {
  int64_t timestamp_ms = 0;
  int64_t seq = 0;  // strictly increasing, so followers never miss or repeat a line
  std::string request_id;
  std::string message;
};

class FunctionLogs {
 public:
  explicit FunctionLogs(size_t max_lines_per_function = 10000, size_t max_line_bytes = 16384)
      : max_lines_(max_lines_per_function), max_line_bytes_(max_line_bytes) {}

  void append(const std::string& function, const std::string& request_id, std::string message);
  // Lines with seq > after_seq, oldest first, at most `limit`: for after_seq 0 the newest
  // ones, otherwise the ones right after the cursor, so a follower misses nothing.
  std::vector<LogEvent> read(const std::string& function, int64_t after_seq, size_t limit) const;
  void drop(const std::string& function);
  // Called with every line, whole (before the ring's own length cap), after the line is
  // in the ring, outside the log's lock (lines of different appenders may reach it out
  // of seq order). Must be thread-safe and quick.
  using Sink = std::function<void(const std::string& function, const LogEvent& event)>;
  void setSink(Sink sink);

 private:
  size_t max_lines_;
  size_t max_line_bytes_;
  mutable std::mutex mutex_;
  Sink sink_;
  int64_t next_seq_ = 1;
  std::map<std::string, std::deque<LogEvent>> lines_;
};

}  // namespace nimbus::pool
