// SqliteStore's built-in named queues: the queues table, their messages (peek, receive
// with a visibility timeout, delete, purge) and replay of a message into the async
// event queue.
#include "base/encoding.h"
#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr std::string_view kMessageColumns =
    "queue_name, message_id, body, attributes, sent_ms, visible_after_ms, receive_count,"
    " receipt_handle";

QueueMessage readMessage(const Statement& s) {
  QueueMessage m;
  m.queue = s.columnText(0);
  m.message_id = s.columnText(1);
  m.body = s.columnText(2);
  m.attributes = s.columnText(3);
  m.sent_ms = s.columnInt64(4);
  m.visible_after_ms = s.columnInt64(5);
  m.receive_count = s.columnInt(6);
  m.receipt_handle = s.columnText(7);
  return m;
}

Result<std::vector<QueueMessage>> readMessages(Statement& q) {
  std::vector<QueueMessage> messages;
  for (;;) {
    Result<bool> row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return messages;
    messages.push_back(readMessage(q));
  }
}

Error queueNotFound(const std::string& name) {
  return makeError(ErrorCode::kNotFound, "Queue not found: " + name);
}

Error messageNotFound(const std::string& queue, const std::string& id) {
  return makeError(ErrorCode::kNotFound, "Message " + id + " not found in queue " + queue);
}

// Fills depth, in-flight and oldest figures of `info` from its messages.
Result<void> readQueueFigures(sqlite::Database& db, QueueInfo& info, int64_t now_ms) {
  Result<Statement> q = db.prepare(
      "SELECT COUNT(*), COALESCE(SUM(visible_after_ms > ?2), 0), COALESCE(MIN(sent_ms), 0)"
      " FROM queue_messages WHERE queue_name = ?1");
  if (!q.ok()) return q.error();
  q->bind(1, info.name).bind(2, now_ms);
  Result<bool> row = q->step();
  if (!row.ok()) return row.error();
  info.depth = q->columnInt(0);
  info.in_flight = q->columnInt(1);
  info.oldest_sent_ms = q->columnInt64(2);
  return {};
}

}  // namespace

Result<bool> SqliteStore::queueExistsLocked(const std::string& name) {
  Result<Statement> q = db_.prepare("SELECT 1 FROM queues WHERE name = ?1");
  if (!q.ok()) return q.error();
  q->bind(1, name);
  return q->step();
}

Result<void> SqliteStore::createQueue(const std::string& name, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Result<Statement> insert =
      db_.prepare("INSERT INTO queues (name, created_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!insert.ok()) return insert.error();
  insert->bind(1, name).bind(2, now_ms);
  if (Result<void> r = insert->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return makeError(ErrorCode::kConflict, "Queue already exists: " + name);
  return {};
}

Result<void> SqliteStore::deleteQueue(const std::string& name) {
  std::lock_guard lock(mutex_);
  Result<Statement> del = db_.prepare("DELETE FROM queues WHERE name = ?1");
  if (!del.ok()) return del.error();
  del->bind(1, name);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return queueNotFound(name);
  return {};
}

Result<std::vector<QueueInfo>> SqliteStore::listQueues(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Result<Statement> q = db_.prepare("SELECT name, created_ms FROM queues ORDER BY name");
  if (!q.ok()) return q.error();
  std::vector<QueueInfo> queues;
  for (;;) {
    Result<bool> row = q->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    queues.push_back(QueueInfo{q->columnText(0), q->columnInt64(1)});
  }
  for (QueueInfo& info : queues) {
    if (Result<void> r = readQueueFigures(db_, info, now_ms); !r.ok()) return r.error();
  }
  return queues;
}

Result<QueueInfo> SqliteStore::getQueue(const std::string& name, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Result<Statement> q = db_.prepare("SELECT name, created_ms FROM queues WHERE name = ?1");
  if (!q.ok()) return q.error();
  q->bind(1, name);
  Result<bool> row = q->step();
  if (!row.ok()) return row.error();
  if (!*row) return queueNotFound(name);
  QueueInfo info{q->columnText(0), q->columnInt64(1)};
  if (Result<void> r = readQueueFigures(db_, info, now_ms); !r.ok()) return r.error();
  return info;
}

Result<void> SqliteStore::sendMessage(const QueueMessage& m) {
  std::lock_guard lock(mutex_);
  Result<Statement> insert = db_.prepare(
      "INSERT INTO queue_messages (" + std::string(kMessageColumns) +
      ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0, '' WHERE EXISTS (SELECT 1 FROM queues WHERE name = ?1)");
  if (!insert.ok()) return insert.error();
  insert->bind(1, m.queue)
      .bind(2, m.message_id)
      .bind(3, m.body)
      .bind(4, m.attributes.empty() ? "{}" : m.attributes)
      .bind(5, m.sent_ms)
      .bind(6, m.visible_after_ms);
  if (Result<void> r = insert->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return queueNotFound(m.queue);
  return {};
}

Result<std::vector<QueueMessage>> SqliteStore::peekMessages(const std::string& queue,
                                                            const std::string& after_id,
                                                            int limit) {
  std::lock_guard lock(mutex_);
  Result<bool> exists = queueExistsLocked(queue);
  if (!exists.ok()) return exists.error();
  if (!*exists) return queueNotFound(queue);
  // An unknown `after` id pages from the start rather than failing: the message may
  // have been deleted between two pages.
  Result<Statement> q = db_.prepare(
      "SELECT " + std::string(kMessageColumns) +
      " FROM queue_messages WHERE queue_name = ?1 AND seq > COALESCE((SELECT seq FROM"
      " queue_messages WHERE message_id = ?2 AND queue_name = ?1), 0) ORDER BY seq LIMIT ?3");
  if (!q.ok()) return q.error();
  q->bind(1, queue).bind(2, after_id).bind(3, limit);
  Result<std::vector<QueueMessage>> messages = readMessages(*q);
  if (!messages.ok()) return messages.error();
  return *messages;
}

Result<QueueMessage> SqliteStore::getMessage(const std::string& queue,
                                             const std::string& message_id) {
  std::lock_guard lock(mutex_);
  Result<Statement> q =
      db_.prepare("SELECT " + std::string(kMessageColumns) +
                  " FROM queue_messages WHERE queue_name = ?1 AND message_id = ?2");
  if (!q.ok()) return q.error();
  q->bind(1, queue).bind(2, message_id);
  Result<bool> row = q->step();
  if (!row.ok()) return row.error();
  if (!*row) {
    Result<bool> exists = queueExistsLocked(queue);
    if (exists.ok() && !*exists) return queueNotFound(queue);
    return messageNotFound(queue, message_id);
  }
  return readMessage(*q);
}

Result<std::vector<QueueMessage>> SqliteStore::receiveMessages(const std::string& queue,
                                                               int64_t now_ms, int limit,
                                                               int64_t visibility_ms) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<bool> exists = queueExistsLocked(queue);
  if (!exists.ok()) return exists.error();
  if (!*exists) return queueNotFound(queue);
  Result<Statement> q = db_.prepare("SELECT " + std::string(kMessageColumns) +
                                    " FROM queue_messages WHERE queue_name = ?1 AND"
                                    " visible_after_ms <= ?2 ORDER BY seq LIMIT ?3");
  if (!q.ok()) return q.error();
  q->bind(1, queue).bind(2, now_ms).bind(3, limit);
  Result<std::vector<QueueMessage>> messages = readMessages(*q);
  if (!messages.ok()) return messages.error();
  for (QueueMessage& m : *messages) {
    m.visible_after_ms = now_ms + visibility_ms;
    m.receive_count += 1;
    m.receipt_handle = hexEncode(randomBytes(16));
    Result<Statement> hide = db_.prepare(
        "UPDATE queue_messages SET visible_after_ms = ?2, receive_count = ?3,"
        " receipt_handle = ?4 WHERE message_id = ?1");
    if (!hide.ok()) return hide.error();
    hide->bind(1, m.message_id)
        .bind(2, m.visible_after_ms)
        .bind(3, m.receive_count)
        .bind(4, m.receipt_handle);
    if (Result<void> r = hide->run(); !r.ok()) return r.error();
  }
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return *messages;
}

Result<void> SqliteStore::deleteMessage(const std::string& queue, const std::string& message_id) {
  std::lock_guard lock(mutex_);
  Result<Statement> del =
      db_.prepare("DELETE FROM queue_messages WHERE queue_name = ?1 AND message_id = ?2");
  if (!del.ok()) return del.error();
  del->bind(1, queue).bind(2, message_id);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) {
    Result<bool> exists = queueExistsLocked(queue);
    if (exists.ok() && !*exists) return queueNotFound(queue);
    return messageNotFound(queue, message_id);
  }
  return {};
}

Result<int> SqliteStore::purgeQueue(const std::string& queue) {
  std::lock_guard lock(mutex_);
  Result<bool> exists = queueExistsLocked(queue);
  if (!exists.ok()) return exists.error();
  if (!*exists) return queueNotFound(queue);
  Result<Statement> del = db_.prepare("DELETE FROM queue_messages WHERE queue_name = ?1");
  if (!del.ok()) return del.error();
  del->bind(1, queue);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  return static_cast<int>(db_.changes());
}

Result<int> SqliteStore::replayMessage(const std::string& queue, const std::string& message_id,
                                       const AsyncEvent& e) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<Statement> del =
      db_.prepare("DELETE FROM queue_messages WHERE queue_name = ?1 AND message_id = ?2");
  if (!del.ok()) return del.error();
  del->bind(1, queue).bind(2, message_id);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) return messageNotFound(queue, message_id);
  // A finished row (done, dead) opens again under the same request id; a row still
  // queued or running is already on its way and stays as it is.
  Result<Statement> upsert = db_.prepare(
      "INSERT INTO async_events (request_id, function_name, qualifier, payload, client_context,"
      " trace_id, attempts, received_ms, next_attempt_ms, status, last_error, replay_count)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7, 'queued', '', 1)"
      " ON CONFLICT (request_id) DO UPDATE SET function_name = excluded.function_name,"
      " qualifier = excluded.qualifier, payload = excluded.payload, attempts = 0,"
      " received_ms = excluded.received_ms, next_attempt_ms = excluded.next_attempt_ms,"
      " status = 'queued', last_error = '', finished_ms = 0,"
      " replay_count = async_events.replay_count + 1"
      " WHERE async_events.status IN ('done', 'dead')");
  if (!upsert.ok()) return upsert.error();
  upsert->bind(1, e.request_id)
      .bind(2, e.function_name)
      .bind(3, e.qualifier)
      .bind(4, e.payload)
      .bind(5, e.client_context)
      .bind(6, e.trace_id)
      .bind(7, e.received_ms);
  if (Result<void> r = upsert->run(); !r.ok()) return r.error();
  Result<Statement> count =
      db_.prepare("SELECT replay_count FROM async_events WHERE request_id = ?1");
  if (!count.ok()) return count.error();
  count->bind(1, e.request_id);
  Result<bool> row = count->step();
  if (!row.ok()) return row.error();
  int replays = *row ? count->columnInt(0) : 0;
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return replays;
}

}  // namespace nimbus::store
