// SqliteStore's idempotency keys (claim, complete, release), the async visibility
// figures, and retention: the sweep of finished events and expired keys.
#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr std::string_view kKeyColumns =
    "function_name, kind, key, request_id, status, response, created_ms, expires_ms";

IdempotencyRecord readRecord(const Statement& s) {
  IdempotencyRecord r;
  r.function_name = s.columnText(0);
  r.kind = s.columnText(1);
  r.key = s.columnText(2);
  r.request_id = s.columnText(3);
  r.status = s.columnText(4);
  r.response = s.columnText(5);
  r.created_ms = s.columnInt64(6);
  r.expires_ms = s.columnInt64(7);
  return r;
}

}  // namespace

Result<IdempotencyRecord> SqliteStore::claimKeyLocked(const IdempotencyRecord& c) {
  // Takes the key when it is free or its claim has expired; otherwise leaves it.
  Result<Statement> upsert = db_.prepare(
      "INSERT INTO idempotency_keys (" + std::string(kKeyColumns) +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
      " ON CONFLICT (function_name, kind, key) DO UPDATE SET request_id = excluded.request_id,"
      " status = excluded.status, response = excluded.response,"
      " created_ms = excluded.created_ms, expires_ms = excluded.expires_ms"
      " WHERE idempotency_keys.expires_ms <= excluded.created_ms");
  if (!upsert.ok()) return upsert.error();
  upsert->bind(1, c.function_name)
      .bind(2, c.kind)
      .bind(3, c.key)
      .bind(4, c.request_id)
      .bind(5, c.status)
      .bind(6, c.response)
      .bind(7, c.created_ms)
      .bind(8, c.expires_ms);
  if (Result<void> r = upsert->run(); !r.ok()) return r.error();
  if (db_.changes() == 1) return c;
  Result<Statement> q =
      db_.prepare("SELECT " + std::string(kKeyColumns) +
                  " FROM idempotency_keys WHERE function_name = ?1 AND kind = ?2 AND key = ?3");
  if (!q.ok()) return q.error();
  q->bind(1, c.function_name).bind(2, c.kind).bind(3, c.key);
  Result<bool> row = q->step();
  if (!row.ok()) return row.error();
  if (!*row) return makeError(ErrorCode::kInternal, "idempotency key vanished while claimed");
  return readRecord(*q);
}

Result<IdempotencyRecord> SqliteStore::claimIdempotencyKey(const IdempotencyRecord& record) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<IdempotencyRecord> holder = claimKeyLocked(record);
  if (!holder.ok()) return holder.error();
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return holder;
}

Result<void> SqliteStore::completeIdempotencyKey(const std::string& function_name,
                                                 const std::string& kind, const std::string& key,
                                                 const std::string& response) {
  std::lock_guard lock(mutex_);
  Result<Statement> update = db_.prepare(
      "UPDATE idempotency_keys SET status = 'done', response = ?4"
      " WHERE function_name = ?1 AND kind = ?2 AND key = ?3");
  if (!update.ok()) return update.error();
  update->bind(1, function_name).bind(2, kind).bind(3, key).bind(4, response);
  return update->run();
}

Result<void> SqliteStore::releaseIdempotencyKey(const std::string& function_name,
                                                const std::string& kind, const std::string& key,
                                                const std::string& request_id) {
  std::lock_guard lock(mutex_);
  // Only our own claim: a later one may hold the key by now.
  Result<Statement> del = db_.prepare(
      "DELETE FROM idempotency_keys WHERE function_name = ?1 AND kind = ?2 AND key = ?3"
      " AND request_id = ?4");
  if (!del.ok()) return del.error();
  del->bind(1, function_name).bind(2, kind).bind(3, key).bind(4, request_id);
  return del->run();
}

Result<int> SqliteStore::releaseRunningSyncKeys() {
  std::lock_guard lock(mutex_);
  Result<Statement> del =
      db_.prepare("DELETE FROM idempotency_keys WHERE kind = 'sync' AND status = 'running'");
  if (!del.ok()) return del.error();
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  return static_cast<int>(db_.changes());
}

Result<std::pair<int64_t, int>> SqliteStore::eventAgeAndRetries(const std::string& function_name) {
  std::lock_guard lock(mutex_);
  // A retry is every run after an event's first: attempts beyond one.
  Result<Statement> q = db_.prepare(
      "SELECT COALESCE(MIN(CASE WHEN status = 'queued' THEN received_ms END), 0),"
      " COALESCE(SUM(MAX(attempts - 1, 0)), 0) FROM async_events WHERE function_name = ?1");
  if (!q.ok()) return q.error();
  q->bind(1, function_name);
  Result<bool> row = q->step();
  if (!row.ok()) return row.error();
  return std::pair<int64_t, int>{q->columnInt64(0), q->columnInt(1)};
}

Result<int> SqliteStore::sweep(int64_t now_ms, int64_t finished_before_ms) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<Statement> events =
      db_.prepare("DELETE FROM async_events WHERE status IN ('done', 'dead') AND finished_ms < ?1");
  if (!events.ok()) return events.error();
  events->bind(1, finished_before_ms);
  if (Result<void> r = events->run(); !r.ok()) return r.error();
  int64_t deleted = db_.changes();
  Result<Statement> keys = db_.prepare("DELETE FROM idempotency_keys WHERE expires_ms <= ?1");
  if (!keys.ok()) return keys.error();
  keys->bind(1, now_ms);
  if (Result<void> r = keys->run(); !r.ok()) return r.error();
  deleted += db_.changes();
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return static_cast<int>(deleted);
}

}  // namespace nimbus::store
