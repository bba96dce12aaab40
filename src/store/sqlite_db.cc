// RAII over sqlite3 / sqlite3_stmt and the one place SQLite result codes become Errors.
#include "store/sqlite_db.h"

#include <utility>

namespace nimbus::store::sqlite {
namespace {

Error sqliteError(std::string_view what, std::string_view detail) {
  return makeError(ErrorCode::kInternal,
                   "sqlite: " + std::string(what) + ": " + std::string(detail));
}

// Statements are named by their SQL in errors; the head of it is enough to find it.
std::string describe(const std::string& sql) {
  constexpr size_t kMax = 60;
  std::string head = sql.substr(0, kMax);
  for (char& c : head) {
    if (c == '\n') c = ' ';
  }
  return sql.size() > kMax ? head + "..." : head;
}

}  // namespace

Result<Database> Database::open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 hands back a handle even on failure (except out of memory); it
    // carries the message and must still be closed.
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return sqliteError("open " + path, detail);
  }
  // Extended codes name the exact constraint or I/O failure in errors and logs.
  sqlite3_extended_result_codes(db, 1);
  return Database(db);
}

Database::Database(Database&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

// close_v2 defers the close until the last statement is finalised instead of failing.
Database::~Database() { sqlite3_close_v2(db_); }

Result<void> Database::exec(std::string_view sql, std::string_view what) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return sqliteError(what, detail);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error("prepare " + describe(std::string(sql)));
  }
  return Statement(stmt, std::string(sql));
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }

Error Database::error(std::string_view what) const {
  return sqliteError(what, db_ != nullptr ? sqlite3_errmsg(db_) : "no connection");
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)),
      bind_rc_(other.bind_rc_),
      bind_index_(other.bind_index_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
    bind_rc_ = other.bind_rc_;
    bind_index_ = other.bind_index_;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::noteBindResult(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
}

Statement& Statement::bind(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies the bytes, so the caller's buffer may go away.
  noteBindResult(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  noteBindResult(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bindDouble(int index, double value) {
  noteBindResult(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
  bind_index_ = 0;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    return sqliteError("bind parameter " + std::to_string(bind_index_) + " of " + describe(sql_),
                       sqlite3_errstr(bind_rc_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError("step " + describe(sql_), sqlite3_errmsg(sqlite3_db_handle(stmt_)));
}

Result<void> Statement::run() {
  Result<bool> r = step();
  if (!r.ok()) return r.error();
  return {};
}

std::string Statement::columnText(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (text == nullptr) return {};
  // Ask for the size after the text: the conversion to text can change it.
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

int64_t Statement::columnInt64(int index) const { return sqlite3_column_int64(stmt_, index); }

int Statement::columnInt(int index) const { return sqlite3_column_int(stmt_, index); }

double Statement::columnDouble(int index) const { return sqlite3_column_double(stmt_, index); }

bool Statement::columnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

Result<Transaction> Transaction::begin(Database& db) {
  Result<void> r = db.exec("BEGIN IMMEDIATE", "begin transaction");
  if (!r.ok()) return r.error();
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  // Some failures (SQLITE_FULL, SQLITE_IOERR, ...) have already rolled back on their own.
  if (db_ == nullptr || sqlite3_get_autocommit(db_->handle()) != 0) return;
  // A failed ROLLBACK leaves nothing better to do: SQLite rolls back on its own when
  // the connection closes, and the error that brought us here is already on its way up.
  (void)db_->exec("ROLLBACK", "rollback");
}

Result<void> Transaction::commit() {
  Result<void> r = db_->exec("COMMIT", "commit");
  // On failure the destructor still rolls back; on success there is nothing left to do.
  if (r.ok()) db_ = nullptr;
  return r;
}

}  // namespace nimbus::store::sqlite
