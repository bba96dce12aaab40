// A thin RAII layer over the SQLite C API: one connection (Database), one prepared
// statement (Statement) and one write transaction (Transaction), with SQLite failures
// turned into Error{kInternal, "sqlite: <what>: <sqlite3_errmsg>"}. Not thread-safe:
// the owner of a Database serialises every use of it and of its statements.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace nimbus::store::sqlite {

class Statement;

class Database {
 public:
  // `flags` are sqlite3_open_v2's; the default creates the file if it is missing.
  static Result<Database> open(const std::string& path,
                               int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements that take no parameters (schema scripts, pragmas).
  // Never pass SQL that contains values: those go through prepare() and bind().
  Result<void> exec(std::string_view sql, std::string_view what);
  Result<Statement> prepare(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE on this connection.
  int64_t changes() const;
  // The error for the connection's most recent failure, read before anything else runs.
  Error error(std::string_view what) const;
  sqlite3* handle() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A prepared statement. Binding never fails on its own: the first bind error is kept
// and returned by the next step(), so call sites stay a readable chain of binds.
// Parameter and column indexes follow SQLite: parameters from 1, columns from 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bindDouble(int index, double value);
  // Makes the statement ready to run again with new bindings (one prepare per batch).
  void reset();

  // true when a row is ready to read, false when the statement has finished.
  Result<bool> step();
  // Steps a statement that returns no rows (INSERT, UPDATE, DELETE, DDL).
  Result<void> run();

  std::string columnText(int index) const;  // "" for NULL
  int64_t columnInt64(int index) const;
  int columnInt(int index) const;
  double columnDouble(int index) const;
  bool columnIsNull(int index) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string sql) : stmt_(stmt), sql_(std::move(sql)) {}
  void noteBindResult(int rc, int index);

  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;  // for error messages: which statement failed
  int bind_rc_ = SQLITE_OK;
  int bind_index_ = 0;
};

// A write transaction: BEGIN IMMEDIATE takes the write lock up front, so a transaction
// that reads and then writes cannot fail half-way with SQLITE_BUSY on lock upgrade.
// Rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Database& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  Result<void> commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_ = nullptr;  // null once committed, rolled back or moved from
};

}  // namespace nimbus::store::sqlite
