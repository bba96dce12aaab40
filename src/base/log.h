// Structured logging: one JSON object per line on stderr (and optionally a file), with
// level, time, component and, where there is one, the request id. Thread-safe.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace nimbus::log {

enum class Level { kDebug, kInfo, kWarn, kError };

using Field = std::pair<std::string_view, std::string>;

void setMinLevel(Level level);
// Writes one line: {"level","time","component","msg",fields...}. A field named
// "request_id" is how invocation-scoped lines carry their id.
void write(Level level, std::string_view component, std::string_view msg,
           std::initializer_list<Field> fields = {});

inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kInfo, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kWarn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kError, c, m, f);
}
inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::kDebug, c, m, f);
}

}  // namespace nimbus::log
