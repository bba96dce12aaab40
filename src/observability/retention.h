// Retention of invocation records (by age and count) and log lines (by age and total
// size): one sweep deletes what is beyond the limits; the Observer runs it
// periodically on a thread of its own.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "store/store.h"

namespace nimbus::observability {

struct RetentionPolicy {
  double records_hours = 168;  // 7 days
  int64_t records_max = 1000000;
  double logs_hours = 168;
  int64_t logs_max_bytes = 1024LL * 1024 * 1024;  // 1 GiB of messages
};

struct SweepResult {
  int64_t records_deleted = 0;
  int64_t log_chunks_deleted = 0;
};

Result<SweepResult> sweepOnce(store::Store& store, const RetentionPolicy& policy, int64_t now_ms);

}  // namespace nimbus::observability
