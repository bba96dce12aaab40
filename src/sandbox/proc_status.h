// Reading a live process's peak resident memory (VmHWM) from /proc/<pid>/status. The
// /proc root is a parameter so tests can hand in a fake tree.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace nimbus::sandbox {

// Returns VmHWM in bytes from the text of a /proc/<pid>/status file, 0 if the line is
// missing or malformed (a zombie or kernel thread has none).
int64_t parseVmHwmBytes(std::string_view status_text);

// Reads <proc_root>/<pid>/status; 0 if the file cannot be read. The caller must keep the
// pid from being reused (i.e. not have reaped it) for the answer to mean anything.
int64_t readVmHwmBytes(const std::string& proc_root, pid_t pid);

}  // namespace nimbus::sandbox
