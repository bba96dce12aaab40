// In-memory function log ring.
#include "pool/function_logs.h"

#include "base/time.h"

namespace nimbus::pool {

void FunctionLogs::append(const std::string& function, const std::string& request_id,
                          std::string message) {
  Sink sink;
  LogEvent event{systemNowMillis(), 0, request_id, std::move(message)};
  {
    std::lock_guard lock(mutex_);
    event.seq = next_seq_++;
    sink = sink_;
    LogEvent kept = event;
    if (kept.message.size() > max_line_bytes_) {
      kept.message.resize(max_line_bytes_);
      kept.message += "... [truncated]";
    }
    auto& q = lines_[function];
    q.push_back(std::move(kept));
    while (q.size() > max_lines_) q.pop_front();
  }
  // Outside the lock: the sink's work must not hold up other functions' lines.
  if (sink) sink(function, event);
}

void FunctionLogs::setSink(Sink sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

std::vector<LogEvent> FunctionLogs::read(const std::string& function, int64_t after_seq,
                                         size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<LogEvent> out;
  auto it = lines_.find(function);
  if (it == lines_.end()) return out;
  for (const auto& e : it->second) {
    if (e.seq > after_seq) out.push_back(e);
  }
  if (out.size() > limit) {
    // A first read shows the newest lines; a follower resumes just after its cursor.
    if (after_seq == 0) {
      out.erase(out.begin(), out.end() - static_cast<long>(limit));
    } else {
      out.resize(limit);
    }
  }
  return out;
}

void FunctionLogs::drop(const std::string& function) {
  std::lock_guard lock(mutex_);
  lines_.erase(function);
}

}  // namespace nimbus::pool
