// SqliteStore's async queue (async_events) and event invoke configs. Each method is one
// transaction, so a claim, a retry or an end of an event is never half-written.
#include "base/time.h"
#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr std::string_view kEventColumns =
    "request_id, function_name, qualifier, payload, client_context, trace_id, attempts,"
    " received_ms, next_attempt_ms, status, last_error, replay_count, tracestate, correlation_id";

AsyncEvent readEvent(const Statement& s) {
  AsyncEvent e;
  e.request_id = s.columnText(0);
  e.function_name = s.columnText(1);
  e.qualifier = s.columnText(2);
  e.payload = s.columnText(3);
  e.client_context = s.columnText(4);
  e.trace_id = s.columnText(5);
  e.attempts = s.columnInt(6);
  e.received_ms = s.columnInt64(7);
  e.next_attempt_ms = s.columnInt64(8);
  e.status = s.columnText(9);
  e.last_error = s.columnText(10);
  e.replay_count = s.columnInt(11);
  e.tracestate = s.columnText(12);
  e.correlation_id = s.columnText(13);
  return e;
}

EventInvokeConfig readConfig(const Statement& s) {
  EventInvokeConfig c;
  c.function_name = s.columnText(0);
  c.qualifier = s.columnText(1);
  c.maximum_retry_attempts = s.columnInt(2);
  c.maximum_event_age_seconds = s.columnInt(3);
  c.on_success = s.columnText(4);
  c.on_failure = s.columnText(5);
  c.last_modified_ms = s.columnInt64(6);
  return c;
}

constexpr std::string_view kConfigColumns =
    "function_name, qualifier, maximum_retry_attempts, maximum_event_age_seconds, on_success,"
    " on_failure, last_modified_ms";

}  // namespace

Result<std::vector<std::string>> SqliteStore::enqueueEvents(const std::vector<AsyncEvent>& events) {
  std::vector<std::string> ids;
  if (events.empty()) return ids;
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  // One prepare per batch; the batch's one transaction (one fsync) is what matters most.
  Result<Statement> insert =
      db_.prepare("INSERT INTO async_events (" + std::string(kEventColumns) +
                  ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (!insert.ok()) return insert.error();
  for (const AsyncEvent& e : events) {
    if (!e.idempotency_key.empty()) {
      IdempotencyRecord claim;
      claim.function_name = e.function_name;
      claim.kind = "async";
      claim.key = e.idempotency_key;
      claim.request_id = e.request_id;
      claim.status = "done";  // accepted is as far as an async claim goes
      claim.created_ms = e.received_ms;
      claim.expires_ms = e.idempotency_expires_ms;
      Result<IdempotencyRecord> holder = claimKeyLocked(claim);
      if (!holder.ok()) return holder.error();
      if (holder->request_id != e.request_id) {
        ids.push_back(holder->request_id);
        continue;
      }
    }
    insert->reset();
    insert->bind(1, e.request_id)
        .bind(2, e.function_name)
        .bind(3, e.qualifier)
        .bind(4, e.payload)
        .bind(5, e.client_context)
        .bind(6, e.trace_id)
        .bind(7, e.attempts)
        .bind(8, e.received_ms)
        .bind(9, e.next_attempt_ms)
        .bind(10, e.status)
        .bind(11, e.last_error)
        .bind(12, e.replay_count)
        .bind(13, e.tracestate)
        .bind(14, e.correlation_id);
    if (Result<void> r = insert->run(); !r.ok()) {
      if (r.error().message.find("UNIQUE") != std::string::npos) {
        return makeError(ErrorCode::kConflict, "async event " + e.request_id + " already queued");
      }
      return r.error();
    }
    ids.push_back(e.request_id);
  }
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return ids;
}

Result<std::vector<AsyncEvent>> SqliteStore::claimDueEvents(int64_t now_ms, int limit) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<Statement> select =
      db_.prepare("SELECT " + std::string(kEventColumns) +
                  " FROM async_events WHERE status = 'queued' AND next_attempt_ms <= ?1"
                  " ORDER BY next_attempt_ms, received_ms LIMIT ?2");
  if (!select.ok()) return select.error();
  select->bind(1, now_ms).bind(2, limit);
  std::vector<AsyncEvent> events;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    events.push_back(readEvent(*select));
  }
  for (AsyncEvent& e : events) {
    Result<Statement> mark =
        db_.prepare("UPDATE async_events SET status = 'running' WHERE request_id = ?1");
    if (!mark.ok()) return mark.error();
    mark->bind(1, e.request_id);
    if (Result<void> r = mark->run(); !r.ok()) return r.error();
    e.status = "running";
  }
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return events;
}

Result<void> SqliteStore::requeueEvent(const std::string& request_id, int attempts,
                                       int64_t next_attempt_ms, const std::string& last_error) {
  std::lock_guard lock(mutex_);
  Result<Statement> update = db_.prepare(
      "UPDATE async_events SET status = 'queued', attempts = ?2, next_attempt_ms = ?3,"
      " last_error = ?4 WHERE request_id = ?1");
  if (!update.ok()) return update.error();
  update->bind(1, request_id).bind(2, attempts).bind(3, next_attempt_ms).bind(4, last_error);
  if (Result<void> r = update->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return makeError(ErrorCode::kNotFound, "no async event " + request_id);
  return {};
}

Result<void> SqliteStore::finishEvent(const std::string& request_id, int attempts,
                                      const std::string& status, const std::string& last_error) {
  std::lock_guard lock(mutex_);
  // Finished rows stay for inspection until sweep() deletes them.
  Result<Statement> update = db_.prepare(
      "UPDATE async_events SET status = ?2, attempts = ?3, last_error = ?4, finished_ms = ?5"
      " WHERE request_id = ?1");
  if (!update.ok()) return update.error();
  update->bind(1, request_id)
      .bind(2, status)
      .bind(3, attempts)
      .bind(4, last_error)
      .bind(5, systemNowMillis());
  if (Result<void> r = update->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return makeError(ErrorCode::kNotFound, "no async event " + request_id);
  return {};
}

Result<int> SqliteStore::requeueRunningEvents(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Result<Statement> update = db_.prepare(
      "UPDATE async_events SET status = 'queued', next_attempt_ms = ?1 WHERE status = 'running'");
  if (!update.ok()) return update.error();
  update->bind(1, now_ms);
  if (Result<void> r = update->run(); !r.ok()) return r.error();
  return static_cast<int>(db_.changes());
}

Result<std::map<std::string, int>> SqliteStore::countEvents(const std::string& function_name) {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(
      "SELECT status, COUNT(*) FROM async_events WHERE function_name = ?1 GROUP BY status");
  if (!select.ok()) return select.error();
  select->bind(1, function_name);
  std::map<std::string, int> counts;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    counts[select->columnText(0)] = select->columnInt(1);
  }
  return counts;
}

Result<void> SqliteStore::putEventInvokeConfig(const EventInvokeConfig& c) {
  std::lock_guard lock(mutex_);
  Result<Statement> upsert = db_.prepare(
      "INSERT INTO event_invoke_configs (" + std::string(kConfigColumns) +
      ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM functions WHERE name = ?1)"
      " ON CONFLICT (function_name, qualifier) DO UPDATE SET"
      " maximum_retry_attempts = excluded.maximum_retry_attempts,"
      " maximum_event_age_seconds = excluded.maximum_event_age_seconds,"
      " on_success = excluded.on_success, on_failure = excluded.on_failure,"
      " last_modified_ms = excluded.last_modified_ms");
  if (!upsert.ok()) return upsert.error();
  upsert->bind(1, c.function_name)
      .bind(2, c.qualifier)
      .bind(3, c.maximum_retry_attempts)
      .bind(4, c.maximum_event_age_seconds)
      .bind(5, c.on_success)
      .bind(6, c.on_failure)
      .bind(7, c.last_modified_ms);
  if (Result<void> r = upsert->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) {
    return makeError(ErrorCode::kNotFound, "Function not found: " + c.function_name);
  }
  return {};
}

Result<EventInvokeConfig> SqliteStore::getEventInvokeConfig(const std::string& function_name,
                                                            const std::string& qualifier) {
  std::lock_guard lock(mutex_);
  Result<Statement> select =
      db_.prepare("SELECT " + std::string(kConfigColumns) +
                  " FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2");
  if (!select.ok()) return select.error();
  select->bind(1, function_name).bind(2, qualifier);
  Result<bool> row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) {
    return makeError(ErrorCode::kNotFound,
                     "The function " + function_name + " doesn't have an EventInvokeConfig");
  }
  return readConfig(*select);
}

Result<void> SqliteStore::deleteEventInvokeConfig(const std::string& function_name,
                                                  const std::string& qualifier) {
  std::lock_guard lock(mutex_);
  Result<Statement> del =
      db_.prepare("DELETE FROM event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2");
  if (!del.ok()) return del.error();
  del->bind(1, function_name).bind(2, qualifier);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) {
    return makeError(ErrorCode::kNotFound,
                     "The function " + function_name + " doesn't have an EventInvokeConfig");
  }
  return {};
}

Result<std::vector<EventInvokeConfig>> SqliteStore::listEventInvokeConfigs(
    const std::string& function_name) {
  std::lock_guard lock(mutex_);
  Result<Statement> select =
      db_.prepare("SELECT " + std::string(kConfigColumns) +
                  " FROM event_invoke_configs WHERE function_name = ?1 ORDER BY qualifier");
  if (!select.ok()) return select.error();
  select->bind(1, function_name);
  std::vector<EventInvokeConfig> configs;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    configs.push_back(readConfig(*select));
  }
  return configs;
}

}  // namespace nimbus::store
