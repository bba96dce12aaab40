// One retention sweep over the observability tables.
#include "observability/retention.h"

namespace nimbus::observability {

namespace {
int64_t cutoff(int64_t now_ms, double hours) {
  return now_ms - static_cast<int64_t>(hours * 3600.0 * 1000.0);
}
}  // namespace

Result<SweepResult> sweepOnce(store::Store& store, const RetentionPolicy& policy, int64_t now_ms) {
  SweepResult result;
  auto records =
      store.pruneInvocationRecords(cutoff(now_ms, policy.records_hours), policy.records_max);
  if (!records) return records.error();
  result.records_deleted = *records;
  auto lines = store.pruneLogLines(cutoff(now_ms, policy.logs_hours), policy.logs_max_bytes);
  if (!lines) return lines.error();
  result.log_chunks_deleted = *lines;
  return result;
}

}  // namespace nimbus::observability
