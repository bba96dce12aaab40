// The SQLite schema as an ordered list of migration steps, and the code that brings a
// database file up to the newest step when it is opened. Steps are append-only: once
// released a step is never edited; a schema change is a new step at the end.
#pragma once

#include <span>
#include <string_view>

#include "base/error.h"
#include "store/sqlite_db.h"

namespace nimbus::store::sqlite {

struct Migration {
  int version;            // 1, 2, 3, ... in order, without gaps
  std::string_view name;  // what the step does, for logs and schema_migrations
  std::string_view sql;   // one or more statements; never values from outside
};

// The schema's whole history, oldest first.
std::span<const Migration> schemaMigrations();

// The highest migration version recorded in the file: 0 for a new file.
Result<int> schemaVersion(Database& db);

// Applies every step above the file's version, each in its own transaction together
// with its schema_migrations row, so a failed step leaves the file at the step before.
// Returns how many steps ran. kInternal if a step fails, if `steps` are not numbered
// 1..N, or if the file records a version above N (it was written by a newer nimbus,
// and an older binary must not guess at a schema it does not know).
Result<int> migrate(Database& db, std::span<const Migration> steps);

}  // namespace nimbus::store::sqlite
