// CachedStore: reads are served from memory, writes are never hidden by the cache.
#include "store/cached_store.h"

#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

model::FunctionConfig config(const std::string& name, int memory) {
  model::FunctionConfig c;
  c.name = name;
  c.runtime = "python3.11";
  c.handler = "app.handler";
  c.memory_mb = memory;
  return c;
}

TEST(CachedStoreTest, UpdatesAndDeletesAreSeenAtOnce) {
  auto sqlite = SqliteStore::open(":memory:");
  ASSERT_TRUE(sqlite.ok());
  CachedStore store(std::move(*sqlite));
  ASSERT_TRUE(store.createFunction(config("f", 128)).ok());
  EXPECT_EQ(store.getFunction("f", model::kLatest)->memory_mb, 128);
  ASSERT_TRUE(store.updateFunction(config("f", 256)).ok());
  EXPECT_EQ(store.getFunction("f", model::kLatest)->memory_mb, 256);
  ASSERT_TRUE(store.deleteFunction("f").ok());
  EXPECT_EQ(store.getFunction("f", model::kLatest).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store.createFunction(config("f", 512)).ok());
  EXPECT_EQ(store.getFunction("f", model::kLatest)->memory_mb, 512);
}

TEST(CachedStoreTest, MissesAreNotCached) {
  auto sqlite = SqliteStore::open(":memory:");
  ASSERT_TRUE(sqlite.ok());
  CachedStore store(std::move(*sqlite));
  EXPECT_FALSE(store.getFunction("g", model::kLatest).ok());
  ASSERT_TRUE(store.createFunction(config("g", 128)).ok());
  EXPECT_TRUE(store.getFunction("g", model::kLatest).ok());
}

}  // namespace
}  // namespace nimbus::store
