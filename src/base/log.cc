// JSON-lines log writer. One mutex keeps lines whole when threads log at once.
#include "base/log.h"

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <mutex>

#include "base/time.h"

namespace nimbus::log {
namespace {
std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::mutex g_mutex;

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void setMinLevel(Level level) { g_min_level = static_cast<int>(level); }

void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  boost::json::object o;
  o["level"] = levelName(level);
  o["time"] = formatIso8601Millis(systemNowMillis());
  o["component"] = component;
  o["msg"] = msg;
  for (const auto& [k, v] : fields) {
    if (k == "request_id" && v.empty()) continue;  // only where there is one
    o[k] = v;
  }
  std::string line = boost::json::serialize(o);
  line.push_back('\n');
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace nimbus::log
