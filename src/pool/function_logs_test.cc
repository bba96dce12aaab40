// Tests for the in-memory function log ring: per-function caps, sequence numbers, the
// newest-first tail for a first read, follow cursors, line truncation and drop().
#include "pool/function_logs.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/time.h"

namespace nimbus::pool {
namespace {

std::vector<std::string> messages(const std::vector<LogEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.message);
  return out;
}

void appendN(FunctionLogs& logs, const std::string& fn, int n, int first = 1) {
  for (int i = first; i < first + n; ++i) logs.append(fn, "req", "line " + std::to_string(i));
}

TEST(FunctionLogs, ReadsBackWhatWasAppended) {
  FunctionLogs logs;
  int64_t before = systemNowMillis();
  logs.append("f", "req-1", "hello");
  logs.append("f", "req-2", "world");
  auto events = logs.read("f", 0, 100);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].message, "hello");
  EXPECT_EQ(events[0].request_id, "req-1");
  EXPECT_EQ(events[1].request_id, "req-2");
  EXPECT_GE(events[0].timestamp_ms, before);
  EXPECT_LE(events[1].timestamp_ms, systemNowMillis());
  EXPECT_TRUE(logs.read("unknown", 0, 100).empty());
}

TEST(FunctionLogs, SequenceIsStrictlyIncreasingAcrossFunctions) {
  FunctionLogs logs;
  logs.append("f", "r", "f1");
  logs.append("g", "r", "g1");
  logs.append("f", "r", "f2");
  auto f = logs.read("f", 0, 10);
  auto g = logs.read("g", 0, 10);
  ASSERT_EQ(f.size(), 2u);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_LT(f[0].seq, g[0].seq);
  EXPECT_LT(g[0].seq, f[1].seq);
  EXPECT_GT(f[0].seq, 0);
}

TEST(FunctionLogs, CapIsPerFunctionAndDropsTheOldest) {
  FunctionLogs logs(/*max_lines_per_function=*/3);
  appendN(logs, "f", 5);
  appendN(logs, "g", 2);
  EXPECT_EQ(messages(logs.read("f", 0, 100)),
            (std::vector<std::string>{"line 3", "line 4", "line 5"}));
  EXPECT_EQ(messages(logs.read("g", 0, 100)), (std::vector<std::string>{"line 1", "line 2"}));
}

TEST(FunctionLogs, FirstReadReturnsTheNewestLimitLines) {
  FunctionLogs logs;
  appendN(logs, "f", 10);
  EXPECT_EQ(messages(logs.read("f", 0, 3)),
            (std::vector<std::string>{"line 8", "line 9", "line 10"}));
  EXPECT_TRUE(logs.read("f", 0, 0).empty());
}

TEST(FunctionLogs, ReadAfterACursorReturnsOnlyLaterLines) {
  FunctionLogs logs;
  appendN(logs, "f", 5);
  auto all = logs.read("f", 0, 100);
  ASSERT_EQ(all.size(), 5u);
  auto after = logs.read("f", all[2].seq, 100);
  EXPECT_EQ(messages(after), (std::vector<std::string>{"line 4", "line 5"}));
  EXPECT_TRUE(logs.read("f", all[4].seq, 100).empty());
}

TEST(FunctionLogs, FollowerPagesThroughWithoutMissingOrRepeatingLines) {
  FunctionLogs logs;
  appendN(logs, "f", 2);
  auto first = logs.read("f", 0, 100);
  ASSERT_EQ(first.size(), 2u);
  int64_t cursor = first.back().seq;

  appendN(logs, "f", 7, 3);  // lines 3..9 arrive while the follower waits
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto got = logs.read("f", cursor, 3);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 3u);
    for (const auto& e : got) {
      EXPECT_GT(e.seq, cursor);
      cursor = e.seq;
      seen.push_back(e.message);
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"line 3", "line 4", "line 5", "line 6", "line 7",
                                            "line 8", "line 9"}));
}

TEST(FunctionLogs, LongLinesAreTruncated) {
  FunctionLogs logs(10, /*max_line_bytes=*/8);
  logs.append("f", "r", "0123456789abcdef");
  logs.append("f", "r", "short");
  auto events = logs.read("f", 0, 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].message.substr(0, 8), "01234567");
  EXPECT_NE(events[0].message.find("truncated"), std::string::npos);
  EXPECT_EQ(events[0].message.find("89ab"), std::string::npos);
  EXPECT_EQ(events[1].message, "short");
}

TEST(FunctionLogs, DropForgetsOneFunction) {
  FunctionLogs logs;
  appendN(logs, "f", 3);
  appendN(logs, "g", 1);
  auto before = logs.read("f", 0, 10);
  logs.drop("f");
  EXPECT_TRUE(logs.read("f", 0, 10).empty());
  EXPECT_EQ(logs.read("g", 0, 10).size(), 1u);
  logs.drop("never-existed");
  // A re-created function starts a new log whose seqs still move forward.
  logs.append("f", "r", "new");
  auto after = logs.read("f", 0, 10);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].message, "new");
  EXPECT_GT(after[0].seq, before.back().seq);
}

TEST(FunctionLogs, ConcurrentAppendsGetUniqueSeqs) {
  FunctionLogs logs(100000);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&logs] { appendN(logs, "f", 500); });
  }
  for (auto& w : writers) w.join();
  auto events = logs.read("f", 0, 100000);
  ASSERT_EQ(events.size(), 2000u);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_LT(events[i - 1].seq, events[i].seq);
}

}  // namespace
}  // namespace nimbus::pool
