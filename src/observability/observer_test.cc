// Tests of the Observer against a real (in-memory) SQLite store: records and log lines
// reach the store in batches, long lines are cut, retention sweeps delete, and
// records off keeps nothing.
#include "observability/observer.h"

#include <gtest/gtest.h>

#include "base/time.h"
#include "store/sqlite_store.h"

namespace nimbus::observability {
namespace {

std::unique_ptr<store::SqliteStore> memoryStore() {
  auto s = store::SqliteStore::open(":memory:");
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

model::InvocationRecord record(const std::string& id, int64_t start_ms) {
  model::InvocationRecord r;
  r.request_id = id;
  r.function_name = "f";
  r.version = "$LATEST";
  r.trigger = "sync";
  r.start_ms = start_ms;
  r.outcome = model::kOutcomeSuccess;
  return r;
}

TEST(ObserverTest, RecordsAndLinesReachTheStore) {
  auto s = memoryStore();
  Observer o(*s, ObserverOptions{});
  for (int i = 0; i < 30; ++i) {
    o.invocationStarted("f", "$LATEST");
    o.invocationFinished(record("r" + std::to_string(i), systemNowMillis()));
    o.logLine("f", "r" + std::to_string(i), systemNowMillis(), "line " + std::to_string(i));
  }
  o.drain();
  store::RecordQuery q;
  q.function_name = "f";
  q.limit = 100;
  auto page = s->queryInvocationRecords(q);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->records.size(), 30u);
  auto lines = s->queryLogLines(store::LogQuery{"f", "r7", 0, 0, 100});
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0].message, "line 7");
}

TEST(ObserverTest, LongLinesAreCutWithAMarker) {
  auto s = memoryStore();
  ObserverOptions options;
  options.max_line_bytes = 10;
  Observer o(*s, options);
  o.logLine("f", "r", systemNowMillis(), std::string(100, 'x'));
  o.drain();
  auto lines = s->queryLogLines(store::LogQuery{"f", "", 0, 0, 10});
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0].message, std::string(10, 'x') + kLineTruncatedMarker);
}

TEST(ObserverTest, RetentionSweepDeletesByAgeAndCount) {
  auto s = memoryStore();
  ObserverOptions options;
  options.retention.records_hours = 1;
  options.retention.records_max = 5;
  options.sweep_interval = std::chrono::milliseconds(20);
  Observer o(*s, options);
  const int64_t now = systemNowMillis();
  o.invocationFinished(record("old", now - 2 * 3600 * 1000));
  for (int i = 0; i < 8; ++i) o.invocationFinished(record("new" + std::to_string(i), now));
  o.drain();
  store::RecordQuery q;
  q.limit = 100;
  for (int i = 0; i < 200; ++i) {
    auto page = s->queryInvocationRecords(q);
    ASSERT_TRUE(page.ok());
    if (page->records.size() == 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto page = s->queryInvocationRecords(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->records.size(), 5u);
  EXPECT_EQ(page->records.front().request_id, "new7");  // the newest stay
  EXPECT_EQ(page->records.back().request_id, "new3");
}

TEST(ObserverTest, RecordsOffKeepsNothingButMetrics) {
  auto s = memoryStore();
  ObserverOptions options;
  options.records = false;
  Observer o(*s, options);
  o.invocationStarted("f", "$LATEST");
  o.invocationFinished(record("r", systemNowMillis()));
  o.logLine("f", "r", systemNowMillis(), "x");
  o.drain();
  store::RecordQuery q;
  auto page = s->queryInvocationRecords(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->records.empty());
  EXPECT_NE(o.renderMetrics().find(R"(outcome="success"} 1)"), std::string::npos);
}

}  // namespace
}  // namespace nimbus::observability
