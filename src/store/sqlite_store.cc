// SqliteStore: connection set-up (pragmas, migrations) and the function queries. Every
// value reaches SQLite as a bound parameter; SQL text is only ever made of constants.
#include "store/sqlite_store.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <utility>

#include "base/encoding.h"
#include "base/log.h"
#include "store/sqlite_migrations.h"

namespace nimbus::store {
namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;

constexpr int kBusyTimeoutMs = 5000;
constexpr int kMaxListItems = 10000;

// Every statement below names the function_versions columns in one order, the order
// readConfig() reads and bindConfig() binds (?1..?18).
constexpr std::string_view kSelectVersion =
    "SELECT function_name, version, runtime, handler, role, description, memory_mb, timeout_s,"
    " ephemeral_storage_mb, environment_json, code_sha256_b64, code_digest_hex, code_size,"
    " last_modified_ms, revision_id, network_mode, keep_alive_s, dead_letter_target"
    " FROM function_versions WHERE function_name = ?1 AND version = ?2";
// functions is the authority on which names exist; their $LATEST rows give the config.
constexpr std::string_view kSelectPage =
    "SELECT function_name, version, runtime, handler, role, description, memory_mb, timeout_s,"
    " ephemeral_storage_mb, environment_json, code_sha256_b64, code_digest_hex, code_size,"
    " last_modified_ms, revision_id, network_mode, keep_alive_s, dead_letter_target"
    " FROM functions JOIN function_versions"
    " ON function_versions.function_name = functions.name AND function_versions.version = ?2"
    " WHERE functions.name > ?1 ORDER BY functions.name LIMIT ?3";
constexpr std::string_view kInsertVersion =
    "INSERT INTO function_versions (function_name, version, runtime, handler, role, description,"
    " memory_mb, timeout_s, ephemeral_storage_mb, environment_json, code_sha256_b64,"
    " code_digest_hex, code_size, last_modified_ms, revision_id, network_mode, keep_alive_s,"
    " dead_letter_target)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
constexpr std::string_view kUpdateVersion =
    "UPDATE function_versions SET runtime = ?3, handler = ?4, role = ?5, description = ?6,"
    " memory_mb = ?7, timeout_s = ?8, ephemeral_storage_mb = ?9, environment_json = ?10,"
    " code_sha256_b64 = ?11, code_digest_hex = ?12, code_size = ?13, last_modified_ms = ?14,"
    " revision_id = ?15, network_mode = ?16, keep_alive_s = ?17, dead_letter_target = ?18"
    " WHERE function_name = ?1 AND version = ?2";

Error functionNotFound(const std::string& name) {
  return makeError(ErrorCode::kNotFound, "Function not found: " + name);
}

// Boost.JSON writes string bytes as it gets them, so invalid UTF-8 would make a row
// that can never be parsed back. Parsing the text once here refuses it at the door.
Result<std::string> encodeEnvironment(const std::map<std::string, std::string>& env) {
  boost::json::object object;
  for (const auto& [key, value] : env) object[key] = value;
  std::string text = boost::json::serialize(object);
  boost::system::error_code ec;
  (void)boost::json::parse(text, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidParameter,
                     "Environment variable names and values must be valid UTF-8");
  }
  return text;
}

Result<std::map<std::string, std::string>> decodeEnvironment(std::string_view text,
                                                             const std::string& name) {
  auto corrupt = [&] {
    return makeError(ErrorCode::kInternal,
                     "sqlite: environment_json of function " + name + " is not a string map");
  };
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return corrupt();
  std::map<std::string, std::string> env;
  for (const auto& entry : value.get_object()) {
    if (!entry.value().is_string()) return corrupt();
    env.emplace(std::string(entry.key()), std::string(entry.value().get_string()));
  }
  return env;
}

void bindConfig(Statement& stmt, const model::FunctionConfig& c, const std::string& env_json) {
  stmt.bind(1, c.name)
      .bind(2, c.version)
      .bind(3, c.runtime)
      .bind(4, c.handler)
      .bind(5, c.role)
      .bind(6, c.description)
      .bind(7, c.memory_mb)
      .bind(8, c.timeout_s)
      .bind(9, c.ephemeral_storage_mb)
      .bind(10, env_json)
      .bind(11, c.code_sha256_b64)
      .bind(12, c.code_digest_hex)
      .bind(13, c.code_size)
      .bind(14, c.last_modified_ms)
      .bind(15, c.revision_id)
      .bind(16, std::string(model::networkModeName(c.network_mode)))
      .bind(17, c.keep_alive_s)
      .bind(18, c.dead_letter_target);
}

Result<model::FunctionConfig> readConfig(const Statement& row) {
  model::FunctionConfig c;
  c.name = row.columnText(0);
  c.version = row.columnText(1);
  c.runtime = row.columnText(2);
  c.handler = row.columnText(3);
  c.role = row.columnText(4);
  c.description = row.columnText(5);
  c.memory_mb = row.columnInt(6);
  c.timeout_s = row.columnInt(7);
  c.ephemeral_storage_mb = row.columnInt(8);
  Result<std::map<std::string, std::string>> env = decodeEnvironment(row.columnText(9), c.name);
  if (!env.ok()) return env.error();
  c.environment = std::move(*env);
  c.code_sha256_b64 = row.columnText(10);
  c.code_digest_hex = row.columnText(11);
  c.code_size = row.columnInt64(12);
  c.last_modified_ms = row.columnInt64(13);
  c.revision_id = row.columnText(14);
  std::optional<model::NetworkMode> mode = model::parseNetworkMode(row.columnText(15));
  if (!mode) {
    return makeError(ErrorCode::kInternal,
                     "sqlite: network_mode of function " + c.name + " is not a known mode");
  }
  c.network_mode = *mode;
  c.keep_alive_s = row.columnInt(16);
  c.dead_letter_target = row.columnText(17);
  return c;
}

Result<std::string> pragmaValue(Database& db, std::string_view pragma) {
  Result<Statement> stmt = db.prepare(pragma);
  if (!stmt.ok()) return stmt.error();
  Result<bool> row = stmt->step();
  if (!row.ok()) return row.error();
  return *row ? stmt->columnText(0) : std::string();
}

// WAL lets readers proceed while a write commits; NORMAL sync is durable across process
// crashes and only risks the last commits on power loss, which WAL keeps consistent.
// Foreign keys are off by default in SQLite and delete cascades depend on them.
Result<void> configure(Database& db, const std::string& path) {
  if (int rc = sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs); rc != SQLITE_OK) {
    return db.error("busy_timeout");
  }
  Result<std::string> mode = pragmaValue(db, "PRAGMA journal_mode = WAL");
  if (!mode.ok()) return mode.error();
  if (*mode != "wal" && path != ":memory:") {
    // Some file systems (network mounts) cannot hold WAL's shared memory; the store
    // still works in the mode SQLite kept, only with readers waiting on writers.
    log::warn("store", "sqlite could not switch to WAL", {{"path", path}, {"mode", *mode}});
  }
  if (Result<void> r =
          db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "set pragmas");
      !r.ok()) {
    return r;
  }
  Result<std::string> fk = pragmaValue(db, "PRAGMA foreign_keys");
  if (!fk.ok()) return fk.error();
  if (*fk != "1") {
    return makeError(ErrorCode::kInternal, "sqlite: foreign keys are not supported by this build");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& file) {
  const std::string path = file.string();
  Result<Database> db = Database::open(path);
  if (!db.ok()) return db.error();
  if (Result<void> r = configure(*db, path); !r.ok()) return r.error();
  Result<int> migrated = sqlite::migrate(*db, sqlite::schemaMigrations());
  if (!migrated.ok()) return migrated.error().withContext(path);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db)));
}

Result<void> SqliteStore::createFunction(const model::FunctionConfig& config) {
  Result<std::string> env = encodeEnvironment(config.environment);
  if (!env.ok()) return env.error();
  model::FunctionConfig latest = config;
  latest.version = model::kLatest;

  std::lock_guard lock(mutex_);
  Result<Transaction> tx = Transaction::begin(db_);
  if (!tx.ok()) return tx.error();
  // DO NOTHING instead of a failed insert: a duplicate is an expected outcome, told
  // apart by the row count rather than by parsing a constraint error.
  Result<Statement> insert_function = db_.prepare(
      "INSERT INTO functions (name, created_at_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING");
  if (!insert_function.ok()) return insert_function.error();
  insert_function->bind(1, latest.name).bind(2, latest.last_modified_ms);
  if (Result<void> r = insert_function->run(); !r.ok()) return r;
  if (db_.changes() == 0) {
    return makeError(ErrorCode::kConflict, "Function already exist: " + latest.name);
  }
  Result<Statement> insert_version = db_.prepare(kInsertVersion);
  if (!insert_version.ok()) return insert_version.error();
  bindConfig(*insert_version, latest, *env);
  if (Result<void> r = insert_version->run(); !r.ok()) return r;
  return tx->commit();
}

Result<model::FunctionConfig> SqliteStore::getFunction(const std::string& name,
                                                       const std::string& version) {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(kSelectVersion);
  if (!select.ok()) return select.error();
  select->bind(1, name).bind(2, version);
  Result<bool> row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) return functionNotFound(name);
  return readConfig(*select);
}

Result<void> SqliteStore::updateFunction(const model::FunctionConfig& config) {
  Result<std::string> env = encodeEnvironment(config.environment);
  if (!env.ok()) return env.error();

  std::lock_guard lock(mutex_);
  Result<Statement> update = db_.prepare(kUpdateVersion);
  if (!update.ok()) return update.error();
  bindConfig(*update, config, *env);
  if (Result<void> r = update->run(); !r.ok()) return r;
  if (db_.changes() == 0) return functionNotFound(config.name);
  return {};
}

Result<void> SqliteStore::deleteFunction(const std::string& name) {
  std::lock_guard lock(mutex_);
  // Versions go with the functions row through ON DELETE CASCADE, in the same statement.
  Result<Statement> del = db_.prepare("DELETE FROM functions WHERE name = ?1");
  if (!del.ok()) return del.error();
  del->bind(1, name);
  if (Result<void> r = del->run(); !r.ok()) return r;
  if (db_.changes() == 0) return functionNotFound(name);
  return {};
}

Result<FunctionPage> SqliteStore::listFunctions(const std::optional<std::string>& marker,
                                                int max_items) {
  // The marker is the last name of the previous page, base64-encoded so that callers
  // treat it as a token and the format can change without breaking them.
  std::string after;  // every valid name sorts after ""
  if (marker.has_value()) {
    std::optional<std::string> decoded = base64Decode(*marker);
    if (!decoded.has_value()) {
      return makeError(ErrorCode::kInvalidParameter, "Invalid marker: " + *marker);
    }
    after = std::move(*decoded);
  }
  const int limit = std::clamp(max_items, 1, kMaxListItems);

  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(kSelectPage);
  if (!select.ok()) return select.error();
  // One row beyond the page tells whether another page follows.
  select->bind(1, after).bind(2, model::kLatest).bind(3, limit + 1);
  FunctionPage page;
  while (true) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    if (static_cast<int>(page.functions.size()) == limit) {
      page.next_marker = base64Encode(page.functions.back().name);
      break;
    }
    Result<model::FunctionConfig> config = readConfig(*select);
    if (!config.ok()) return config.error();
    page.functions.push_back(std::move(*config));
  }
  return page;
}

Result<std::vector<std::string>> SqliteStore::referencedCodeDigests() {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(
      "SELECT DISTINCT code_digest_hex FROM function_versions WHERE code_digest_hex <> ''"
      " ORDER BY code_digest_hex");
  if (!select.ok()) return select.error();
  std::vector<std::string> digests;
  while (true) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    digests.push_back(select->columnText(0));
  }
  return digests;
}

Result<std::optional<int>> SqliteStore::getReservedConcurrency(const std::string& name) {
  std::lock_guard lock(mutex_);
  Result<Statement> select =
      db_.prepare("SELECT reserved_concurrency FROM functions WHERE name = ?1");
  if (!select.ok()) return select.error();
  select->bind(1, name);
  Result<bool> row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) return functionNotFound(name);
  if (select->columnIsNull(0)) return std::optional<int>{};
  return std::optional<int>(static_cast<int>(select->columnInt64(0)));
}

Result<void> SqliteStore::setReservedConcurrency(const std::string& name,
                                                 std::optional<int> reserved) {
  std::lock_guard lock(mutex_);
  Result<Statement> update =
      reserved ? db_.prepare("UPDATE functions SET reserved_concurrency = ?2 WHERE name = ?1")
               : db_.prepare("UPDATE functions SET reserved_concurrency = NULL WHERE name = ?1");
  if (!update.ok()) return update.error();
  update->bind(1, name);
  if (reserved) update->bind(2, *reserved);
  if (Result<void> r = update->run(); !r.ok()) return r;
  if (db_.changes() == 0) return functionNotFound(name);
  return {};
}

Result<std::map<std::string, int>> SqliteStore::reservedConcurrencies() {
  std::lock_guard lock(mutex_);
  Result<Statement> select = db_.prepare(
      "SELECT name, reserved_concurrency FROM functions WHERE reserved_concurrency IS NOT NULL");
  if (!select.ok()) return select.error();
  std::map<std::string, int> out;
  while (true) {
    Result<bool> row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    out[select->columnText(0)] = static_cast<int>(select->columnInt64(1));
  }
  return out;
}

}  // namespace nimbus::store
