// /proc parsing for the process_* metrics.
#include "observability/process_metrics.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nimbus::observability {

ProcessFigures readProcessFigures(const std::filesystem::path& proc, long clock_ticks,
                                  long page_size) {
  ProcessFigures f;
  if (clock_ticks <= 0) clock_ticks = 100;
  std::ifstream stat(proc / "self" / "stat");
  std::string line;
  double start_ticks = 0;
  if (std::getline(stat, line)) {
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(line.substr(close + 2));
      std::vector<std::string> fields;  // fields[0] is field 3 (state)
      for (std::string w; rest >> w;) fields.push_back(w);
      auto field = [&](size_t n) -> double {  // n: 1-based field number of proc(5)
        size_t i = n - 3;
        return i < fields.size() ? std::strtod(fields[i].c_str(), nullptr) : 0;
      };
      f.cpu_seconds = (field(14) + field(15)) / static_cast<double>(clock_ticks);
      start_ticks = field(22);
      f.resident_bytes = field(24) * static_cast<double>(page_size);
    }
  }
  std::ifstream system_stat(proc / "stat");
  for (std::string key; system_stat >> key;) {
    if (key == "btime") {
      double btime = 0;
      system_stat >> btime;
      f.start_time_seconds = btime + start_ticks / static_cast<double>(clock_ticks);
      break;
    }
    system_stat.ignore(1 << 20, '\n');
  }
  std::error_code ec;
  int fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc / "self" / "fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  f.open_fds = fds;
  return f;
}

}  // namespace nimbus::observability
