// The process's own figures, as every Prometheus client library names them:
// process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds,
// process_start_time_seconds. Read from /proc (root passed in, so tests use a fake).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace nimbus::observability {

struct ProcessFigures {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double open_fds = 0;
  double start_time_seconds = 0;  // since the epoch
};

// Reads <proc>/self/stat, <proc>/self/fd and <proc>/stat (btime). Fields that cannot
// be read stay 0.
ProcessFigures readProcessFigures(const std::filesystem::path& proc_root, long clock_ticks,
                                  long page_size);

}  // namespace nimbus::observability
