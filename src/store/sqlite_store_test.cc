// Tests of the SQLite store: CRUD, pagination, cascades, migrations, WAL and threads.
// In-memory databases where the file does not matter, a temporary directory where it does.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_db.h"
#include "store/sqlite_migrations.h"

namespace nimbus::store {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nimbus-sqlite-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<SqliteStore> openOrDie(const fs::path& file) {
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(file);
  EXPECT_TRUE(store.ok()) << store.error().message;
  return store.ok() ? std::move(*store) : nullptr;
}

model::FunctionConfig sampleConfig(const std::string& name) {
  model::FunctionConfig c;
  c.name = name;
  c.runtime = "python3.11";
  c.handler = "app.handler";
  c.memory_mb = 256;
  c.timeout_s = 30;
  c.code_sha256_b64 = "c2hhMjU2";
  c.code_digest_hex = "ab12";
  c.code_size = 1234;
  c.last_modified_ms = 1700000000123;
  c.revision_id = "rev-" + name;
  return c;
}

// Reads one integer with a raw query, for checks the Store interface cannot make.
int64_t queryInt(sqlite::Database& db, const std::string& sql, const std::string& param = "") {
  Result<sqlite::Statement> stmt = db.prepare(sql);
  EXPECT_TRUE(stmt.ok()) << stmt.error().message;
  if (!param.empty()) stmt->bind(1, param);
  Result<bool> row = stmt->step();
  EXPECT_TRUE(row.ok() && *row) << (row.ok() ? "no row" : row.error().message);
  return stmt->columnInt64(0);
}

sqlite::Database openRaw(const fs::path& file) {
  Result<sqlite::Database> db = sqlite::Database::open(file.string());
  EXPECT_TRUE(db.ok()) << db.error().message;
  return std::move(*db);
}

TEST(SqliteStoreTest, CreateAndGetRoundTripEveryField) {
  auto store = openOrDie(":memory:");
  model::FunctionConfig c = sampleConfig("round-trip");
  c.version = "7";  // createFunction always makes $LATEST
  c.runtime = "provided.al2023";
  c.handler = "";
  c.role = "arn:aws:iam::123456789012:role/lambda-role";
  c.description = "Grüße, 世界 🚀";
  c.ephemeral_storage_mb = 2048;
  c.code_size = int64_t{5} << 32;  // beyond 32 bits
  c.network_mode = model::NetworkMode::kEgress;
  c.keep_alive_s = 86400;
  c.dead_letter_target = "arn:nimbus:queue:us-east-1:000000000000:orders-dlq";
  c.environment = {{"EMPTY", ""},
                   {"UNICODE", "naïve café — 日本語 — 🙂"},
                   {"QUOTES", "a \"quoted\" \\ back\\slash\nnew line\ttab"},
                   {"NUL", std::string("before\0after", 12)}};
  ASSERT_TRUE(store->createFunction(c).ok());

  Result<model::FunctionConfig> got = store->getFunction("round-trip", model::kLatest);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->name, "round-trip");
  EXPECT_EQ(got->version, "$LATEST");
  EXPECT_EQ(got->runtime, c.runtime);
  EXPECT_EQ(got->handler, "");
  EXPECT_EQ(got->role, c.role);
  EXPECT_EQ(got->description, c.description);
  EXPECT_EQ(got->memory_mb, 256);
  EXPECT_EQ(got->timeout_s, 30);
  EXPECT_EQ(got->ephemeral_storage_mb, 2048);
  EXPECT_EQ(got->environment, c.environment);
  EXPECT_EQ(got->code_sha256_b64, c.code_sha256_b64);
  EXPECT_EQ(got->code_digest_hex, c.code_digest_hex);
  EXPECT_EQ(got->code_size, c.code_size);
  EXPECT_EQ(got->last_modified_ms, c.last_modified_ms);
  EXPECT_EQ(got->revision_id, c.revision_id);
  EXPECT_EQ(got->network_mode, model::NetworkMode::kEgress);
  EXPECT_EQ(got->keep_alive_s, 86400);
  EXPECT_EQ(got->dead_letter_target, c.dead_letter_target);
}

TEST(SqliteStoreTest, SettingsDefaultToIsolatedAndHostKeepAlive) {
  auto store = openOrDie(":memory:");
  ASSERT_TRUE(store->createFunction(sampleConfig("defaults")).ok());
  Result<model::FunctionConfig> got = store->getFunction("defaults", model::kLatest);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->network_mode, model::NetworkMode::kIsolated);
  EXPECT_EQ(got->keep_alive_s, 0);
  EXPECT_EQ(got->dead_letter_target, "");
}

TEST(SqliteStoreTest, EmptyEnvironmentRoundTrips) {
  auto store = openOrDie(":memory:");
  ASSERT_TRUE(store->createFunction(sampleConfig("no-env")).ok());
  Result<model::FunctionConfig> got = store->getFunction("no-env", model::kLatest);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->environment.empty());
}

TEST(SqliteStoreTest, InvalidUtf8EnvironmentIsRefused) {
  auto store = openOrDie(":memory:");
  model::FunctionConfig c = sampleConfig("bad-env");
  c.environment = {{"KEY", "\xff\xfe"}};
  Result<void> r = store->createFunction(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  // Nothing was written: the name is still free.
  c.environment.clear();
  EXPECT_TRUE(store->createFunction(c).ok());
}

TEST(SqliteStoreTest, DuplicateCreateIsConflict) {
  auto store = openOrDie(":memory:");
  ASSERT_TRUE(store->createFunction(sampleConfig("dup")).ok());
  model::FunctionConfig again = sampleConfig("dup");
  again.description = "second";
  Result<void> r = store->createFunction(again);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(r.error().message, "Function already exist: dup");
  // The first one is untouched.
  EXPECT_EQ(store->getFunction("dup", model::kLatest)->description, "");
}

TEST(SqliteStoreTest, MissingFunctionOrVersionIsNotFound) {
  auto store = openOrDie(":memory:");
  Result<model::FunctionConfig> missing = store->getFunction("nope", model::kLatest);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "Function not found: nope");

  ASSERT_TRUE(store->createFunction(sampleConfig("only-latest")).ok());
  Result<model::FunctionConfig> v1 = store->getFunction("only-latest", "1");
  ASSERT_FALSE(v1.ok());
  EXPECT_EQ(v1.error().code, ErrorCode::kNotFound);

  Result<void> del = store->deleteFunction("nope");
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().code, ErrorCode::kNotFound);
}

TEST(SqliteStoreTest, UpdateReplacesTheRow) {
  auto store = openOrDie(":memory:");
  ASSERT_TRUE(store->createFunction(sampleConfig("upd")).ok());
  model::FunctionConfig c = sampleConfig("upd");
  c.runtime = "nodejs20.x";
  c.handler = "index.handler";
  c.memory_mb = 1024;
  c.timeout_s = 900;
  c.environment = {{"A", "1"}};
  c.code_digest_hex = "cd34";
  c.revision_id = "rev-2";
  c.last_modified_ms += 1000;
  c.network_mode = model::NetworkMode::kEgress;
  c.keep_alive_s = 60;
  c.dead_letter_target = "arn:aws:sqs:us-east-1:000000000000:dlq";
  ASSERT_TRUE(store->updateFunction(c).ok());

  Result<model::FunctionConfig> got = store->getFunction("upd", model::kLatest);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->runtime, "nodejs20.x");
  EXPECT_EQ(got->handler, "index.handler");
  EXPECT_EQ(got->memory_mb, 1024);
  EXPECT_EQ(got->timeout_s, 900);
  EXPECT_EQ(got->environment, c.environment);
  EXPECT_EQ(got->code_digest_hex, "cd34");
  EXPECT_EQ(got->revision_id, "rev-2");
  EXPECT_EQ(got->last_modified_ms, c.last_modified_ms);
  EXPECT_EQ(got->network_mode, model::NetworkMode::kEgress);
  EXPECT_EQ(got->keep_alive_s, 60);
  EXPECT_EQ(got->dead_letter_target, "arn:aws:sqs:us-east-1:000000000000:dlq");

  // Dropping every variable must clear them, not keep the old ones; the same for the
  // dead-letter target (UpdateFunctionConfiguration with TargetArn "").
  c.environment.clear();
  c.dead_letter_target.clear();
  ASSERT_TRUE(store->updateFunction(c).ok());
  EXPECT_TRUE(store->getFunction("upd", model::kLatest)->environment.empty());
  EXPECT_EQ(store->getFunction("upd", model::kLatest)->dead_letter_target, "");
}

// A file written before the dead-letter step (schema 7) gets the column with '' for
// its existing versions, which then read back as "no DeadLetterConfig".
TEST(SqliteStoreTest, DeadLetterStepKeepsOlderRowsWithoutATarget) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  {
    sqlite::Database raw = openRaw(file);
    auto steps = sqlite::schemaMigrations().first(7);
    Result<int> r = sqlite::migrate(raw, steps);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(raw.exec("INSERT INTO functions (name, created_at_ms) VALUES ('old', 1);"
                         "INSERT INTO function_versions (function_name, version, runtime,"
                         " memory_mb, timeout_s, ephemeral_storage_mb, last_modified_ms)"
                         " VALUES ('old', '$LATEST', 'python3.11', 128, 3, 512, 1)",
                         "seed")
                    .ok());
  }
  auto store = openOrDie(file);
  ASSERT_NE(store, nullptr);
  Result<model::FunctionConfig> got = store->getFunction("old", model::kLatest);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->dead_letter_target, "");
  model::FunctionConfig c = *got;
  c.dead_letter_target = "arn:nimbus:queue:us-east-1:000000000000:q";
  ASSERT_TRUE(store->updateFunction(c).ok());
  EXPECT_EQ(store->getFunction("old", model::kLatest)->dead_letter_target, c.dead_letter_target);
}

TEST(SqliteStoreTest, UpdateOfMissingFunctionOrVersionIsNotFound) {
  auto store = openOrDie(":memory:");
  Result<void> r = store->updateFunction(sampleConfig("ghost"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store->createFunction(sampleConfig("real")).ok());
  model::FunctionConfig v3 = sampleConfig("real");
  v3.version = "3";
  r = store->updateFunction(v3);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST(SqliteStoreTest, DeleteCascadesToEveryVersion) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  auto store = openOrDie(file);
  ASSERT_TRUE(store->createFunction(sampleConfig("gone")).ok());
  ASSERT_TRUE(store->createFunction(sampleConfig("kept")).ok());

  // A published version, as the future PublishVersion will write it.
  sqlite::Database raw = openRaw(file);
  Result<sqlite::Statement> publish = raw.prepare(
      "INSERT INTO function_versions (function_name, version, runtime, memory_mb, timeout_s,"
      " ephemeral_storage_mb, last_modified_ms) VALUES (?1, '1', 'python3.11', 128, 3, 512, 0)");
  ASSERT_TRUE(publish.ok());
  publish->bind(1, "gone");
  ASSERT_TRUE(publish->run().ok());
  ASSERT_TRUE(store->getFunction("gone", "1").ok());

  ASSERT_TRUE(store->deleteFunction("gone").ok());
  EXPECT_EQ(store->getFunction("gone", model::kLatest).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store->getFunction("gone", "1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(
      queryInt(raw, "SELECT COUNT(*) FROM function_versions WHERE function_name = ?1", "gone"), 0);
  EXPECT_TRUE(store->getFunction("kept", model::kLatest).ok());
  EXPECT_EQ(store->deleteFunction("gone").error().code, ErrorCode::kNotFound);
  // The name is free again.
  EXPECT_TRUE(store->createFunction(sampleConfig("gone")).ok());
}

TEST(SqliteStoreTest, ListPaginatesWithoutDuplicatesOrGaps) {
  auto store = openOrDie(":memory:");
  std::vector<std::string> names;
  for (int i = 0; i < 25; ++i)
    names.push_back("fn-" + std::string(i < 10 ? "0" : "") + std::to_string(i));
  std::vector<std::string> shuffled = names;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  for (const auto& name : shuffled) ASSERT_TRUE(store->createFunction(sampleConfig(name)).ok());

  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  std::optional<std::string> marker;
  do {
    Result<FunctionPage> page = store->listFunctions(marker, 10);
    ASSERT_TRUE(page.ok()) << page.error().message;
    page_sizes.push_back(page->functions.size());
    for (const auto& f : page->functions) {
      EXPECT_EQ(f.version, "$LATEST");
      EXPECT_EQ(f.revision_id, "rev-" + f.name);
      seen.push_back(f.name);
    }
    marker = page->next_marker;
    ASSERT_LE(page_sizes.size(), 3u) << "pagination does not end";
  } while (marker.has_value());

  EXPECT_EQ(page_sizes, (std::vector<size_t>{10, 10, 5}));
  EXPECT_EQ(seen, names);  // sorted, each exactly once
}

TEST(SqliteStoreTest, ListEdgeCases) {
  auto store = openOrDie(":memory:");
  Result<FunctionPage> empty = store->listFunctions(std::nullopt, 50);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->functions.empty());
  EXPECT_FALSE(empty->next_marker.has_value());

  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->createFunction(sampleConfig("f" + std::to_string(i))).ok());
  }
  // A page that ends exactly at the last function has no next marker.
  Result<FunctionPage> exact = store->listFunctions(std::nullopt, 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->functions.size(), 10u);
  EXPECT_FALSE(exact->next_marker.has_value());

  // max_items is clamped to 1..10000.
  Result<FunctionPage> zero = store->listFunctions(std::nullopt, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->functions.size(), 1u);
  EXPECT_TRUE(zero->next_marker.has_value());
  Result<FunctionPage> huge = store->listFunctions(std::nullopt, 1 << 30);
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->functions.size(), 10u);

  Result<FunctionPage> bad = store->listFunctions(std::string("not base64!"), 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidParameter);
}

TEST(SqliteStoreTest, ReferencedCodeDigestsAreDistinct) {
  auto store = openOrDie(":memory:");
  model::FunctionConfig a = sampleConfig("a");
  a.code_digest_hex = "11";
  model::FunctionConfig b = sampleConfig("b");
  b.code_digest_hex = "11";
  model::FunctionConfig c = sampleConfig("c");
  c.code_digest_hex = "22";
  model::FunctionConfig d = sampleConfig("d");
  d.code_digest_hex = "";  // no code yet: nothing to keep
  for (const auto& f : {a, b, c, d}) ASSERT_TRUE(store->createFunction(f).ok());

  Result<std::vector<std::string>> digests = store->referencedCodeDigests();
  ASSERT_TRUE(digests.ok());
  EXPECT_EQ(*digests, (std::vector<std::string>{"11", "22"}));

  ASSERT_TRUE(store->deleteFunction("c").ok());
  EXPECT_EQ(*store->referencedCodeDigests(), (std::vector<std::string>{"11"}));
}

TEST(SqliteStoreTest, ReopenKeepsDataAndRunsNoMigrationTwice) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  {
    auto store = openOrDie(file);
    ASSERT_TRUE(store->createFunction(sampleConfig("durable")).ok());
  }
  sqlite::Database raw = openRaw(file);
  const int64_t steps = static_cast<int64_t>(sqlite::schemaMigrations().size());
  ASSERT_EQ(queryInt(raw, "SELECT COUNT(*) FROM schema_migrations"), steps);
  const int64_t applied_at = queryInt(raw, "SELECT MAX(applied_at_ms) FROM schema_migrations");

  auto reopened = openOrDie(file);
  Result<model::FunctionConfig> got = reopened->getFunction("durable", model::kLatest);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->revision_id, "rev-durable");
  EXPECT_EQ(queryInt(raw, "SELECT COUNT(*) FROM schema_migrations"), steps);
  EXPECT_EQ(queryInt(raw, "SELECT MAX(applied_at_ms) FROM schema_migrations"), applied_at);
}

TEST(SqliteStoreTest, FileFromNewerSchemaIsRefused) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  { openOrDie(file); }
  {
    sqlite::Database raw = openRaw(file);
    ASSERT_TRUE(raw.exec("INSERT INTO schema_migrations (version, name, applied_at_ms)"
                         " VALUES (999, 'from the future', 0)",
                         "test insert")
                    .ok());
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::open(file);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find("schema version 999 is newer"), std::string::npos)
      << store.error().message;
}

TEST(SqliteStoreTest, FileDatabaseIsInWalMode) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  auto store = openOrDie(file);
  // WAL is a property of the file, so a second connection sees it.
  sqlite::Database raw = openRaw(file);
  Result<sqlite::Statement> mode = raw.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->step());
  EXPECT_EQ(mode->columnText(0), "wal");
}

TEST(SqliteStoreTest, UnopenablePathIsAnError) {
  TempDir dir;
  Result<std::unique_ptr<SqliteStore>> store =
      SqliteStore::open(dir.path() / "missing-dir" / "nimbus.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_EQ(store.error().message.rfind("sqlite: open ", 0), 0u) << store.error().message;
}

TEST(SqliteStoreTest, ConcurrentUseFromFourThreads) {
  TempDir dir;
  auto store = openOrDie(dir.path() / "nimbus.db");
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto check = [&](bool ok) {
        if (!ok) ++failures;
      };
      // Each iteration is one op, cycling create, get, update, list, delete; names are
      // per thread so every op is expected to succeed whatever the interleaving.
      for (int i = 0; i < kOpsPerThread; ++i) {
        const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i / 5);
        model::FunctionConfig c = sampleConfig(name);
        switch (i % 5) {
          case 0:
            check(store->createFunction(c).ok());
            break;
          case 1:
            check(store->getFunction(name, model::kLatest).ok());
            break;
          case 2:
            c.revision_id = "updated";
            check(store->updateFunction(c).ok());
            break;
          case 3:
            check(store->listFunctions(std::nullopt, 10).ok());
            break;
          case 4:
            // Keep every other function so the end state is checkable.
            check((i / 5) % 2 == 0 ? store->deleteFunction(name).ok()
                                   : store->referencedCodeDigests().ok());
            break;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  Result<FunctionPage> all = store->listFunctions(std::nullopt, 10000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->functions.size(), static_cast<size_t>(kThreads * kOpsPerThread / 5 / 2));
  for (const auto& f : all->functions) EXPECT_EQ(f.revision_id, "updated") << f.name;
}

// Two stores on one file stand for a second process (say the CLI beside the server):
// the busy timeout and BEGIN IMMEDIATE must turn lock contention into waiting, not errors.
TEST(SqliteStoreTest, TwoConnectionsOnOneFileWaitInsteadOfFailing) {
  TempDir dir;
  const fs::path file = dir.path() / "nimbus.db";
  auto first = openOrDie(file);
  auto second = openOrDie(file);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    SqliteStore* store = (t % 2 == 0 ? first : second).get();
    threads.emplace_back([&failures, store, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string name = "c" + std::to_string(t) + "-" + std::to_string(i);
        if (!store->createFunction(sampleConfig(name)).ok()) ++failures;
        if (!store->listFunctions(std::nullopt, 5).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(first->listFunctions(std::nullopt, 10000)->functions.size(), 200u);
}

// The migration runner, with made-up steps.

constexpr sqlite::Migration kStepA{1, "a", "CREATE TABLE a (x INTEGER)"};
constexpr sqlite::Migration kStepB{2, "b", "CREATE TABLE b (x INTEGER)"};
constexpr sqlite::Migration kStepC{3, "c", "CREATE TABLE c (x INTEGER)"};

TEST(SqliteMigrationsTest, AppliesOnlyNewSteps) {
  sqlite::Database db = openRaw(":memory:");
  std::vector<sqlite::Migration> steps = {kStepA, kStepB};
  Result<int> first = sqlite::migrate(db, steps);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 2);
  EXPECT_EQ(*sqlite::schemaVersion(db), 2);

  EXPECT_EQ(*sqlite::migrate(db, steps), 0);
  steps.push_back(kStepC);
  EXPECT_EQ(*sqlite::migrate(db, steps), 1);
  EXPECT_EQ(*sqlite::schemaVersion(db), 3);
  EXPECT_EQ(queryInt(db, "SELECT COUNT(*) FROM c"), 0);
}

TEST(SqliteMigrationsTest, FailedStepIsRolledBackWhole) {
  sqlite::Database db = openRaw(":memory:");
  const sqlite::Migration broken{2, "broken", "CREATE TABLE half (x INTEGER); NOT SQL AT ALL"};
  Result<int> r = sqlite::migrate(db, std::vector<sqlite::Migration>{kStepA, broken});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("migration 2 (broken)"), std::string::npos) << r.error().message;
  EXPECT_EQ(*sqlite::schemaVersion(db), 1);
  EXPECT_EQ(queryInt(db, "SELECT COUNT(*) FROM sqlite_schema WHERE name = ?1", "half"), 0);
}

TEST(SqliteMigrationsTest, MisnumberedStepsAreRefused) {
  sqlite::Database db = openRaw(":memory:");
  Result<int> r = sqlite::migrate(db, std::vector<sqlite::Migration>{kStepA, kStepC});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("has version 3, want 2"), std::string::npos)
      << r.error().message;
}

TEST(SqliteMigrationsTest, ShippedStepsAreNumberedFromOne) {
  sqlite::Database db = openRaw(":memory:");
  Result<int> r = sqlite::migrate(db, sqlite::schemaMigrations());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, static_cast<int>(sqlite::schemaMigrations().size()));
}

}  // namespace
}  // namespace nimbus::store

namespace nimbus::store {
namespace {

TEST(SqliteStoreReservedConcurrencyTest, SetGetClearAndList) {
  auto store = SqliteStore::open(":memory:");
  ASSERT_TRUE(store.ok());
  model::FunctionConfig c;
  c.name = "f";
  c.runtime = "python3.11";
  c.handler = "app.handler";
  ASSERT_TRUE((*store)->createFunction(c).ok());
  EXPECT_FALSE((*store)->getReservedConcurrency("f")->has_value());
  ASSERT_TRUE((*store)->setReservedConcurrency("f", 0).ok());
  EXPECT_EQ((*store)->getReservedConcurrency("f")->value(), 0);
  EXPECT_EQ((*store)->reservedConcurrencies()->at("f"), 0);
  ASSERT_TRUE((*store)->setReservedConcurrency("f", std::nullopt).ok());
  EXPECT_FALSE((*store)->getReservedConcurrency("f")->has_value());
  EXPECT_TRUE((*store)->reservedConcurrencies()->empty());
  EXPECT_EQ((*store)->getReservedConcurrency("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ((*store)->setReservedConcurrency("nope", 1).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace nimbus::store

namespace nimbus::store {
namespace {

TEST(SqliteStoreProvisionedConcurrencyTest, PutListDeleteAndCascade) {
  auto store = SqliteStore::open(":memory:");
  ASSERT_TRUE(store.ok());
  for (const char* name : {"f", "g"}) {
    model::FunctionConfig c;
    c.name = name;
    c.runtime = "python3.11";
    c.handler = "app.handler";
    ASSERT_TRUE((*store)->createFunction(c).ok());
  }
  ASSERT_TRUE((*store)->putProvisionedConcurrency({"f", "$LATEST", 3, 1000}).ok());
  ASSERT_TRUE((*store)->putProvisionedConcurrency({"f", "$LATEST", 5, 2000}).ok());  // replaces
  ASSERT_TRUE((*store)->putProvisionedConcurrency({"g", "$LATEST", 1, 3000}).ok());
  auto f = (*store)->listProvisionedConcurrency("f");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].requested, 5);
  EXPECT_EQ((*f)[0].last_modified_ms, 2000);
  EXPECT_EQ((*store)->listProvisionedConcurrency("")->size(), 2u);
  EXPECT_EQ((*store)->putProvisionedConcurrency({"nope", "$LATEST", 1, 1}).error().code,
            ErrorCode::kNotFound);

  ASSERT_TRUE((*store)->deleteProvisionedConcurrency("f", "$LATEST").ok());
  EXPECT_EQ((*store)->deleteProvisionedConcurrency("f", "$LATEST").error().code,
            ErrorCode::kNotFound);
  ASSERT_TRUE((*store)->deleteFunction("g").ok());  // its config goes with it
  EXPECT_TRUE((*store)->listProvisionedConcurrency("")->empty());
}

}  // namespace
}  // namespace nimbus::store
