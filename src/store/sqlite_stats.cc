// SqliteStore's reads for function health summaries: a function's invocation records
// in a time window, found without a time index (ids follow write order, and a record
// is written when its invocation ends, at most the longest timeout after its start),
// and the dead async events of the window.
#include <algorithm>

#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

using sqlite::Statement;

// A record's start precedes its write by at most the longest function timeout (900 s)
// plus the queue and init around it.
constexpr int64_t kStartToWriteSlackMs = 960 * 1000;
constexpr int kPage = 4096;

}  // namespace

Result<void> SqliteStore::scanInvocationRecords(
    const std::string& function_name, int64_t since_ms, int64_t until_ms,
    const std::function<void(const model::InvocationRecord&)>& visit) {
  // The first id worth reading, by binary search over ids: a record that started
  // before since - slack was written before `since`, and so was every record before
  // it, so none of them started in the window. Probes that find a later start only
  // lower the bound (read more), never skip a record of the window.
  int64_t lo = 0, hi = 0;
  {
    std::lock_guard lock(mutex_);
    Result<Statement> range =
        db_.prepare("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM invocation_records");
    if (!range.ok()) return range.error();
    Result<bool> row = range->step();
    if (!row.ok()) return row.error();
    lo = range->columnInt64(0);
    hi = range->columnInt64(1) + 1;
    Result<Statement> probe =
        db_.prepare("SELECT start_ms FROM invocation_records WHERE id >= ?1 ORDER BY id LIMIT 1");
    if (!probe.ok()) return probe.error();
    const int64_t cutoff = since_ms - kStartToWriteSlackMs;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      probe->reset();
      probe->bind(1, mid);
      Result<bool> found = probe->step();
      if (!found.ok()) return found.error();
      if (*found && probe->columnInt64(0) < cutoff) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
  }
  int64_t after = lo - 1;
  for (;;) {
    std::vector<model::InvocationRecord> page;
    {
      std::lock_guard lock(mutex_);
      Result<Statement> select = db_.prepare(
          "SELECT id, start_ms, duration_ms, billed_ms, init_ms, cold_start, memory_size_mb,"
          " outcome FROM invocation_records WHERE function_name = ?1 AND id > ?2"
          " ORDER BY id LIMIT " +
          std::to_string(kPage));
      if (!select.ok()) return select.error();
      select->bind(1, function_name).bind(2, after);
      for (;;) {
        Result<bool> row = select->step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        model::InvocationRecord r;
        r.id = select->columnInt64(0);
        r.function_name = function_name;
        r.start_ms = select->columnInt64(1);
        r.duration_ms = select->columnDouble(2);
        r.billed_ms = select->columnInt64(3);
        r.init_ms = select->columnDouble(4);
        r.cold_start = select->columnInt(5) != 0;
        r.memory_size_mb = select->columnInt(6);
        r.outcome = select->columnText(7);
        page.push_back(std::move(r));
      }
    }
    for (const auto& r : page) {
      if (r.start_ms >= since_ms && r.start_ms < until_ms) visit(r);
    }
    if (static_cast<int>(page.size()) < kPage) break;
    after = page.back().id;
  }
  return {};
}

Result<int64_t> SqliteStore::countDeadEvents(const std::string& function_name, int64_t since_ms,
                                             int64_t until_ms) {
  std::lock_guard lock(mutex_);
  Result<Statement> count = db_.prepare(
      "SELECT COUNT(*) FROM async_events WHERE status = 'dead' AND function_name = ?1"
      " AND received_ms >= ?2 AND received_ms < ?3");
  if (!count.ok()) return count.error();
  count->bind(1, function_name).bind(2, since_ms).bind(3, until_ms);
  Result<bool> row = count->step();
  if (!row.ok()) return row.error();
  return count->columnInt64(0);
}

}  // namespace nimbus::store
