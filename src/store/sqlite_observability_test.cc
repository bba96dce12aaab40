// Tests of the SQLite observability tables: record filters and paging, log tail and
// follow cursors, pruning by age, count and size, and the async queue figures.
#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

std::unique_ptr<SqliteStore> openMemory() {
  auto s = SqliteStore::open(":memory:");
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

model::InvocationRecord rec(const std::string& fn, const std::string& id,
                            const std::string& outcome, int64_t start) {
  model::InvocationRecord r;
  r.request_id = id;
  r.function_name = fn;
  r.version = "$LATEST";
  r.trigger = "sync";
  r.start_ms = start;
  r.duration_ms = 1.5;
  r.billed_ms = 2;
  r.cold_start = true;
  r.outcome = outcome;
  r.attempt = 1;
  r.correlation_id = "c-" + id;
  return r;
}

TEST(SqliteObservabilityTest, RecordsRoundTripWithFiltersAndPaging) {
  auto s = openMemory();
  std::vector<model::InvocationRecord> batch;
  for (int i = 0; i < 25; ++i) {
    batch.push_back(rec(i % 2 ? "odd" : "even", "id" + std::to_string(i),
                        i % 5 == 0 ? "timeout" : "success", 1000 + i));
  }
  ASSERT_TRUE(s->appendInvocationRecords(batch).ok());

  RecordQuery q;
  q.function_name = "even";
  q.limit = 5;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = s->queryInvocationRecords(q);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& r : page->records) seen.push_back(r.request_id);
    if (!page->next_before_id) break;
    q.before_id = *page->next_before_id;
  }
  ASSERT_EQ(seen.size(), 13u);      // 0, 2, ..., 24
  EXPECT_EQ(seen.front(), "id24");  // newest first
  EXPECT_EQ(seen.back(), "id0");

  RecordQuery timeouts;
  timeouts.outcome = "timeout";
  auto t = s->queryInvocationRecords(timeouts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->records.size(), 5u);
  EXPECT_FALSE(t->next_before_id);

  RecordQuery window;
  window.since_ms = 1010;
  window.until_ms = 1015;
  auto w = s->queryInvocationRecords(window);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->records.size(), 5u);

  RecordQuery by_id;
  by_id.request_id = "id7";
  auto one = s->queryInvocationRecords(by_id);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->records.size(), 1u);
  const auto& r = one->records[0];
  EXPECT_EQ(r.function_name, "odd");
  EXPECT_EQ(r.correlation_id, "c-id7");
  EXPECT_DOUBLE_EQ(r.duration_ms, 1.5);
  EXPECT_TRUE(r.cold_start);
}

TEST(SqliteObservabilityTest, PruneRecordsByAgeThenCount) {
  auto s = openMemory();
  std::vector<model::InvocationRecord> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(rec("f", "id" + std::to_string(i), "success", i));
  ASSERT_TRUE(s->appendInvocationRecords(batch).ok());
  auto gone = s->pruneInvocationRecords(3, 4);  // 0,1,2 by age; then keep the newest 4
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_EQ(*gone, 6);
  RecordQuery all;
  auto left = s->queryInvocationRecords(all);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->records.size(), 4u);
  EXPECT_EQ(left->records.back().request_id, "id6");
}

model::LogChunk chunk(const std::string& fn, const std::string& rid, int64_t ts,
                      std::vector<std::string> lines) {
  model::LogChunk c{0, ts, fn, rid, "", static_cast<int>(lines.size())};
  for (size_t i = 0; i < lines.size(); ++i) c.text += (i ? "\n" : "") + lines[i];
  return c;
}

TEST(SqliteObservabilityTest, LogTailFollowFiltersAndPruneBySize) {
  auto s = openMemory();
  // a: lines a0..a4 in chunks of 2, 2, 1; b: b0..b4 in one chunk.
  ASSERT_TRUE(
      s->appendLogChunks({chunk("a", "r1", 100, {"a0", "a1"}), chunk("a", "r2", 101, {"a2", "a3"}),
                          chunk("a", "r1", 102, {"a4"}),
                          chunk("b", "r3", 103, {"b0", "b1", "", "b3", "b4"})})
          .ok());
  auto tail = s->queryLogLines(LogQuery{"a", "", 0, 0, 3});
  ASSERT_TRUE(tail.ok()) << tail.error().message;
  std::vector<std::string> got;
  for (const auto& l : *tail) got.push_back(l.message);
  EXPECT_EQ(got, (std::vector<std::string>{"a2", "a3", "a4"}));  // the newest, oldest first

  // Following from the middle of a chunk, a page of 3 at a time, misses and repeats nothing.
  std::vector<std::string> followed;
  int64_t cursor = (*tail)[0].id;  // after a2
  for (int pages = 0; pages < 10; ++pages) {
    auto page = s->queryLogLines(LogQuery{"", "", 0, cursor, 3});
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    for (const auto& l : *page) {
      EXPECT_GT(l.id, cursor);
      followed.push_back(l.message);
      cursor = l.id;
    }
  }
  EXPECT_EQ(followed, (std::vector<std::string>{"a3", "a4", "b0", "b1", "", "b3", "b4"}));

  auto by_request = s->queryLogLines(LogQuery{"", "r1", 0, 0, 100});
  ASSERT_TRUE(by_request.ok());
  ASSERT_EQ(by_request->size(), 3u);
  EXPECT_EQ(by_request->back().message, "a4");
  EXPECT_EQ(by_request->back().request_id, "r1");
  auto since = s->queryLogLines(LogQuery{"", "", 102, 0, 100});
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(since->size(), 6u);

  // Chunk 1 goes by age; then at most 13 bytes: chunk 4 (12 bytes) fits, chunk 3 would
  // make 14, so it and everything older go.
  auto gone = s->pruneLogLines(101, 13);
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_EQ(*gone, 3);
  auto left = s->queryLogLines(LogQuery{"", "", 0, 0, 100});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 5u);
  EXPECT_EQ(left->front().message, "b0");
}

TEST(SqliteObservabilityTest, SizeKeptAcrossSweepsAndIdsNeverReused) {
  auto s = openMemory();
  ASSERT_TRUE(s->appendLogChunks({chunk("f", "r", 100, {"0123456789"})}).ok());
  ASSERT_TRUE(s->pruneLogLines(0, 25).ok());  // counts 10 bytes; nothing to do
  ASSERT_TRUE(s->appendLogChunks(
                   {chunk("f", "r", 101, {"0123456789"}), chunk("f", "r", 102, {"0123456789"})})
                  .ok());
  auto gone = s->pruneLogLines(0, 25);  // 30 bytes now: the oldest goes
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, 1);
  auto last = s->queryLogLines(LogQuery{"f", "", 0, 0, 1});
  ASSERT_TRUE(last.ok());
  const int64_t cursor = last->back().id;
  EXPECT_EQ(*s->pruneLogLines(1000, 0), 2);  // everything is old
  EXPECT_TRUE(s->queryLogLines(LogQuery{"f", "", 0, 0, 10})->empty());
  ASSERT_TRUE(s->appendLogChunks({chunk("f", "r", 2000, {"new"})}).ok());
  auto after = s->queryLogLines(LogQuery{"f", "", 0, cursor, 10});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);  // a follower's cursor still works: ids only grow
  EXPECT_EQ(after->front().message, "new");
}

TEST(SqliteObservabilityTest, AsyncQueueStats) {
  auto s = openMemory();
  std::vector<AsyncEvent> events;
  for (int i = 0; i < 4; ++i) {
    AsyncEvent e;
    e.request_id = "e" + std::to_string(i);
    e.function_name = "q";
    e.payload = "{}";
    e.received_ms = 1000 + i;
    e.next_attempt_ms = 0;
    events.push_back(e);
  }
  ASSERT_TRUE(s->enqueueEvents(events).ok());
  ASSERT_TRUE(s->finishEvent("e0", 3, "dead", "x").ok());
  ASSERT_TRUE(s->finishEvent("e1", 1, "done", "").ok());
  auto stats = s->asyncQueueStats();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].queued, 2);
  EXPECT_EQ((*stats)[0].dead, 1);
  EXPECT_EQ((*stats)[0].oldest_queued_ms, 1002);
}

}  // namespace
}  // namespace nimbus::store
