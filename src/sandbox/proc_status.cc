// Reading a live process's peak resident memory (VmHWM) from /proc/<pid>/status. The
// /proc root is a parameter so tests can hand in a fake tree.
#include "sandbox/proc_status.h"

#include <charconv>
#include <fstream>
#include <sstream>

namespace nimbus::sandbox {

int64_t parseVmHwmBytes(std::string_view text) {
  constexpr std::string_view kKey = "VmHWM:";
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    std::string_view line = text.substr(at, eol == std::string_view::npos ? eol : eol - at);
    at = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.starts_with(kKey)) continue;
    line.remove_prefix(kKey.size());
    size_t digits = line.find_first_not_of(" \t");
    if (digits == std::string_view::npos) return 0;
    line.remove_prefix(digits);
    int64_t kib = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    // The kernel always reports this field in kB; anything else is not what we know.
    if (ec != std::errc() || std::string_view(end, line.data() + line.size()) != " kB") {
      return 0;
    }
    return kib * 1024;
  }
  return 0;
}

int64_t readVmHwmBytes(const std::string& proc_root, pid_t pid) {
  std::ifstream in(proc_root + "/" + std::to_string(pid) + "/status");
  if (!in) return 0;
  std::ostringstream text;
  text << in.rdbuf();
  return parseVmHwmBytes(text.str());
}

}  // namespace nimbus::sandbox
