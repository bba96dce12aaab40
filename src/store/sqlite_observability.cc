// SqliteStore's observability tables: invocation records and function log lines
// (batched appends, filtered and paged reads, retention pruning), and the async queue
// figures the metrics scrape reads.
#include <algorithm>

#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

using sqlite::Statement;
using sqlite::Transaction;

constexpr std::string_view kRecordColumns =
    "id, request_id, function_name, version, qualifier, trigger_kind, start_ms, duration_ms,"
    " billed_ms, init_ms, cold_start, instance_id, max_memory_mb, memory_size_mb, outcome,"
    " error_type, attempt, trace_id, correlation_id";

model::InvocationRecord readRecord(const Statement& s) {
  model::InvocationRecord r;
  r.id = s.columnInt64(0);
  r.request_id = s.columnText(1);
  r.function_name = s.columnText(2);
  r.version = s.columnText(3);
  r.qualifier = s.columnText(4);
  r.trigger = s.columnText(5);
  r.start_ms = s.columnInt64(6);
  r.duration_ms = s.columnDouble(7);
  r.billed_ms = s.columnInt64(8);
  r.init_ms = s.columnDouble(9);
  r.cold_start = s.columnInt(10) != 0;
  r.instance_id = s.columnText(11);
  r.max_memory_mb = s.columnInt64(12);
  r.memory_size_mb = s.columnInt(13);
  r.outcome = s.columnText(14);
  r.error_type = s.columnText(15);
  r.attempt = s.columnInt(16);
  r.trace_id = s.columnText(17);
  r.correlation_id = s.columnText(18);
  return r;
}

// Appends " AND <clause>" with its value bound later, in order.
struct Where {
  std::string sql;
  std::vector<std::string> texts;  // bound as ?1.. in order, then the integers
  std::vector<int64_t> ints;
  std::vector<bool> is_text;
  void text(std::string_view clause, const std::string& value) {
    sql += std::string(sql.empty() ? " WHERE " : " AND ") + std::string(clause);
    texts.push_back(value);
    is_text.push_back(true);
  }
  void integer(std::string_view clause, int64_t value) {
    sql += std::string(sql.empty() ? " WHERE " : " AND ") + std::string(clause);
    ints.push_back(value);
    is_text.push_back(false);
  }
  void bindAll(Statement& s) const {
    size_t t = 0, i = 0;
    for (size_t k = 0; k < is_text.size(); ++k) {
      if (is_text[k]) {
        s.bind(static_cast<int>(k + 1), std::string_view(texts[t++]));
      } else {
        s.bind(static_cast<int>(k + 1), ints[i++]);
      }
    }
  }
};

// FNV-1a: the indexed stand-in of a request id (collisions only cost a row compare).
int64_t requestKey(std::string_view request_id) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : request_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

}  // namespace

Result<void> SqliteStore::appendInvocationRecords(
    const std::vector<model::InvocationRecord>& records) {
  if (records.empty()) return {};
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<Statement> insert = db_.prepare(
      "INSERT INTO invocation_records (request_id, function_name, version, qualifier,"
      " trigger_kind, start_ms, duration_ms, billed_ms, init_ms, cold_start, instance_id,"
      " max_memory_mb, memory_size_mb, outcome, error_type, attempt, trace_id, correlation_id,"
      " request_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
      " ?16, ?17, ?18, ?19)");
  if (!insert.ok()) return insert.error();
  for (const model::InvocationRecord& r : records) {
    insert->reset();
    insert->bind(1, r.request_id)
        .bind(2, r.function_name)
        .bind(3, r.version)
        .bind(4, r.qualifier)
        .bind(5, r.trigger)
        .bind(6, r.start_ms)
        .bindDouble(7, r.duration_ms)
        .bind(8, r.billed_ms)
        .bindDouble(9, r.init_ms)
        .bind(10, r.cold_start ? 1 : 0)
        .bind(11, r.instance_id)
        .bind(12, r.max_memory_mb)
        .bind(13, r.memory_size_mb)
        .bind(14, r.outcome)
        .bind(15, r.error_type)
        .bind(16, r.attempt)
        .bind(17, r.trace_id)
        .bind(18, r.correlation_id)
        .bind(19, requestKey(r.request_id));
    if (Result<void> run = insert->run(); !run.ok()) return run.error();
  }
  return tx->commit();
}

Result<RecordPage> SqliteStore::queryInvocationRecords(const RecordQuery& q) {
  Where where;
  if (!q.function_name.empty()) where.text("function_name = ?", q.function_name);
  if (!q.outcome.empty()) where.text("outcome = ?", q.outcome);
  if (!q.request_id.empty()) {
    where.integer("request_key = ?", requestKey(q.request_id));
    where.text("request_id = ?", q.request_id);
  }
  if (q.since_ms > 0) where.integer("start_ms >= ?", q.since_ms);
  if (q.until_ms > 0) where.integer("start_ms < ?", q.until_ms);
  if (q.before_id > 0) where.integer("id < ?", q.before_id);
  const int limit = std::clamp(q.limit, 1, 1000);
  // One more than asked tells whether another page exists.
  const std::string sql = "SELECT " + std::string(kRecordColumns) + " FROM invocation_records" +
                          where.sql + " ORDER BY id DESC LIMIT " + std::to_string(limit + 1);
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(sql);
  if (!select.ok()) return select.error();
  where.bindAll(*select);
  RecordPage page;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    if (static_cast<int>(page.records.size()) == limit) {
      page.next_before_id = page.records.back().id;
      break;
    }
    page.records.push_back(readRecord(*select));
  }
  return page;
}

Result<int64_t> SqliteStore::pruneInvocationRecords(int64_t older_than_ms, int64_t keep_max) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  int64_t removed = 0;
  // No time index: walk from the oldest id to the first record young enough, and delete
  // what came before it (records are written as invocations end, so start times only
  // roughly follow ids: a long invocation may keep a few older neighbours a little).
  Result<Statement> by_age = db_.prepare(
      "DELETE FROM invocation_records WHERE id < COALESCE((SELECT id FROM invocation_records"
      " WHERE start_ms >= ?1 ORDER BY id LIMIT 1), (SELECT MAX(id) + 1 FROM"
      " invocation_records))");
  if (!by_age.ok()) return by_age.error();
  by_age->bind(1, older_than_ms);
  if (Result<void> r = by_age->run(); !r.ok()) return r.error();
  removed += db_.changes();
  if (keep_max > 0) {
    // Ids are contiguous (one writer, whole batches committed or not, prefixes deleted),
    // so the newest keep_max are the ids above MAX(id) - keep_max: no count scan.
    Result<Statement> by_count = db_.prepare(
        "DELETE FROM invocation_records WHERE id <= (SELECT MAX(id) FROM invocation_records)"
        " - ?1");
    if (!by_count.ok()) return by_count.error();
    by_count->bind(1, keep_max);
    if (Result<void> r = by_count->run(); !r.ok()) return r.error();
    removed += db_.changes();
  }
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return removed;
}

Result<void> SqliteStore::appendLogChunks(const std::vector<model::LogChunk>& chunks) {
  if (chunks.empty()) return {};
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  Result<Statement> insert = db_.prepare(
      "INSERT INTO log_chunks (timestamp_ms, function_name, request_id, text, line_count, bytes,"
      " request_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!insert.ok()) return insert.error();
  int64_t added = 0;
  for (const model::LogChunk& c : chunks) {
    insert->reset();
    insert->bind(1, c.timestamp_ms)
        .bind(2, c.function_name)
        .bind(3, c.request_id)
        .bind(4, c.text)
        .bind(5, c.line_count)
        .bind(6, static_cast<int64_t>(c.text.size()))
        .bind(7, requestKey(c.request_id));
    if (Result<void> r = insert->run(); !r.ok()) return r.error();
    added += static_cast<int64_t>(c.text.size());
  }
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  if (log_bytes_ >= 0) log_bytes_ += added;
  return {};
}

namespace {

constexpr int kLineBits = 16;  // LogLine id = chunk id << 16 | line index

// Splits a chunk into its lines, from line index `first` on.
void appendLines(const model::LogChunk& c, int first, std::vector<model::LogLine>& out) {
  size_t start = 0;
  for (int index = 0; start <= c.text.size(); ++index) {
    size_t end = c.text.find('\n', start);
    if (end == std::string::npos) end = c.text.size();
    if (index >= first) {
      out.push_back(model::LogLine{(c.id << kLineBits) | index, c.timestamp_ms, c.function_name,
                                   c.request_id, c.text.substr(start, end - start)});
    }
    start = end + 1;
  }
}

}  // namespace

Result<std::vector<model::LogLine>> SqliteStore::queryLogLines(const LogQuery& q) {
  const int limit = std::clamp(q.limit, 1, 10000);
  const bool forward = q.after_id > 0;  // a follower reads on from its cursor
  const int64_t after_chunk = q.after_id >> kLineBits;
  const int after_line = static_cast<int>(q.after_id & ((1 << kLineBits) - 1));
  Where where;
  if (!q.function_name.empty()) where.text("function_name = ?", q.function_name);
  if (!q.request_id.empty()) {
    where.integer("request_key = ?", requestKey(q.request_id));
    where.text("request_id = ?", q.request_id);
  }
  if (q.since_ms > 0) where.integer("timestamp_ms >= ?", q.since_ms);
  if (forward) where.integer("id >= ?", after_chunk);
  const std::string sql =
      "SELECT id, timestamp_ms, function_name, request_id, text, line_count FROM log_chunks" +
      where.sql + (forward ? " ORDER BY id ASC" : " ORDER BY id DESC");
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(sql);
  if (!select.ok()) return select.error();
  where.bindAll(*select);
  // Chunks are read until they hold `limit` lines; the surplus is trimmed below.
  std::vector<model::LogChunk> chunks;
  int lines = 0;
  while (lines < limit + (forward ? after_line + 1 : 0)) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    chunks.push_back(model::LogChunk{select->columnInt64(0), select->columnInt64(1),
                                     select->columnText(2), select->columnText(3),
                                     select->columnText(4), select->columnInt(5)});
    lines += chunks.back().line_count;
  }
  std::vector<model::LogLine> out;
  if (forward) {
    for (const auto& c : chunks) appendLines(c, c.id == after_chunk ? after_line + 1 : 0, out);
    if (out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  } else {
    for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) appendLines(*it, 0, out);
    if (out.size() > static_cast<size_t>(limit)) {
      out.erase(out.begin(), out.end() - limit);  // a tail: the newest lines
    }
  }
  return out;
}

// Both limits delete a prefix of ids, found by walking from the oldest chunk, so a sweep
// costs what it deletes, not the size of the table; the total size is kept in
// log_bytes_ (computed once, then updated by appends and sweeps).
Result<int64_t> SqliteStore::pruneLogLines(int64_t older_than_ms, int64_t max_bytes) {
  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  int64_t total = log_bytes_;
  if (total < 0) {
    Result<Statement> sum = db_.prepare("SELECT COALESCE(SUM(bytes), 0) FROM log_chunks");
    if (!sum.ok()) return sum.error();
    if (Result<bool> row = sum->step(); !row.ok()) return row.error();
    total = sum->columnInt64(0);
  }
  // The first id that stays: walk the oldest chunks until they are young enough and
  // what is left fits in max_bytes.
  Result<Statement> walk =
      db_.prepare("SELECT id, timestamp_ms, bytes FROM log_chunks ORDER BY id");
  if (!walk.ok()) return walk.error();
  int64_t first_kept = -1, freed = 0, removed = 0;
  for (;;) {
    Result<bool> row = walk->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    const bool old = walk->columnInt64(1) < older_than_ms;
    const bool over = max_bytes > 0 && total - freed > max_bytes;
    if (!old && !over) {
      first_kept = walk->columnInt64(0);
      break;
    }
    freed += walk->columnInt64(2);
    ++removed;
  }
  walk->reset();  // no read cursor open on the table while it is changed
  if (removed > 0) {
    Result<Statement> del = db_.prepare(first_kept < 0 ? "DELETE FROM log_chunks"
                                                       : "DELETE FROM log_chunks WHERE id < ?1");
    if (!del.ok()) return del.error();
    if (first_kept >= 0) del->bind(1, first_kept);
    if (Result<void> r = del->run(); !r.ok()) return r.error();
  }
  if (Result<void> r = tx->commit(); !r.ok()) {
    log_bytes_ = -1;
    return r.error();
  }
  log_bytes_ = total - freed;
  return removed;
}

Result<std::vector<AsyncQueueStat>> SqliteStore::asyncQueueStats() {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(
      "SELECT function_name,"
      " SUM(status = 'queued'), SUM(status = 'running'), SUM(status = 'dead'),"
      " COALESCE(MIN(CASE WHEN status = 'queued' THEN received_ms END), 0)"
      " FROM async_events WHERE status IN ('queued', 'running', 'dead') GROUP BY function_name "
      "ORDER BY function_name");
  if (!select.ok()) return select.error();
  std::vector<AsyncQueueStat> out;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(AsyncQueueStat{select->columnText(0), select->columnInt64(1),
                                 select->columnInt64(2), select->columnInt64(3),
                                 select->columnInt64(4)});
  }
  return out;
}

}  // namespace nimbus::store
