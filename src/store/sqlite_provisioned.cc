// SqliteStore's provisioned concurrency configs (table provisioned_concurrency).
#include "store/sqlite_store.h"

namespace nimbus::store {

using sqlite::Statement;

Result<void> SqliteStore::putProvisionedConcurrency(const ProvisionedConcurrencyConfig& c) {
  std::lock_guard lock(mutex_);
  Result<Statement> upsert = db_.prepare(
      "INSERT INTO provisioned_concurrency (function_name, qualifier, requested,"
      " last_modified_ms) SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM functions WHERE"
      " name = ?1) ON CONFLICT (function_name, qualifier) DO UPDATE SET"
      " requested = excluded.requested, last_modified_ms = excluded.last_modified_ms");
  if (!upsert.ok()) return upsert.error();
  upsert->bind(1, c.function_name)
      .bind(2, c.qualifier)
      .bind(3, c.requested)
      .bind(4, c.last_modified_ms);
  if (Result<void> r = upsert->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) {
    return makeError(ErrorCode::kNotFound, "Function not found: " + c.function_name);
  }
  return {};
}

Result<void> SqliteStore::deleteProvisionedConcurrency(const std::string& function_name,
                                                       const std::string& qualifier) {
  std::lock_guard lock(mutex_);
  Result<Statement> del = db_.prepare(
      "DELETE FROM provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2");
  if (!del.ok()) return del.error();
  del->bind(1, function_name).bind(2, qualifier);
  if (Result<void> r = del->run(); !r.ok()) return r.error();
  if (db_.changes() == 0) {
    return makeError(ErrorCode::kNotFound,
                     "No Provisioned Concurrency Config found for this "
                     "function");
  }
  return {};
}

Result<std::vector<ProvisionedConcurrencyConfig>> SqliteStore::listProvisionedConcurrency(
    const std::string& function_name) {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(
      "SELECT function_name, qualifier, requested, last_modified_ms FROM provisioned_concurrency"
      " WHERE ?1 = '' OR function_name = ?1 ORDER BY function_name, qualifier");
  if (!select.ok()) return select.error();
  select->bind(1, function_name);
  std::vector<ProvisionedConcurrencyConfig> out;
  for (;;) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    ProvisionedConcurrencyConfig c;
    c.function_name = select->columnText(0);
    c.qualifier = select->columnText(1);
    c.requested = select->columnInt(2);
    c.last_modified_ms = select->columnInt64(3);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace nimbus::store
