// Clock readings and timestamp formatting.
#include "base/time.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace nimbus {

int64_t systemNowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t steadyNowMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

int64_t steadyNowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {
std::string format(int64_t epoch_millis, const char* suffix) {
  time_t secs = static_cast<time_t>(epoch_millis / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_millis % 1000), suffix);
  return buf;
}
}  // namespace

std::string formatLambdaTimestamp(int64_t epoch_millis) { return format(epoch_millis, "+0000"); }
std::string formatIso8601Millis(int64_t epoch_millis) { return format(epoch_millis, "Z"); }

}  // namespace nimbus
