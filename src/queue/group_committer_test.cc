// GroupCommitter: events submitted together are written in few transactions, every
// submitter hears the outcome of its own batch.
#include "queue/group_committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <set>

namespace nimbus::queue {
namespace {

namespace asio = boost::asio;

store::AsyncEvent eventNamed(int i) {
  store::AsyncEvent e;
  e.request_id = "id-" + std::to_string(i);
  return e;
}

// Submits n events at once from coroutines on one io_context and runs it to the end.
std::vector<Result<std::string>> submitAll(GroupCommitter& committer, int n) {
  asio::io_context ioc;
  std::vector<Result<std::string>> results(n, makeError(ErrorCode::kInternal, "not answered"));
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        ioc,
        [&committer, &results, i]() -> asio::awaitable<void> {
          store::AsyncEvent e = eventNamed(i);
          results[i] = co_await committer.submit(std::move(e));
        },
        asio::detached);
  }
  ioc.run();
  return results;
}

TEST(GroupCommitterTest, BatchesEventsThatArriveTogether) {
  std::mutex mutex;
  std::vector<size_t> batch_sizes;
  std::set<std::string> written;
  GroupCommitter committer(
      [&](const std::vector<store::AsyncEvent>& events) -> Result<std::vector<std::string>> {
        std::lock_guard lock(mutex);
        batch_sizes.push_back(events.size());
        std::vector<std::string> ids;
        for (const auto& e : events) {
          written.insert(e.request_id);
          ids.push_back(e.request_id);
        }
        return ids;
      },
      std::chrono::milliseconds(20));
  auto results = submitAll(committer, 500);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(results[i].ok());
    EXPECT_EQ(*results[i], "id-" + std::to_string(i));  // each hears its own answer
  }
  EXPECT_EQ(written.size(), 500u);
  EXPECT_EQ(committer.events(), 500u);
  // 500 submissions within one 20 ms window: a handful of transactions, not 500.
  EXPECT_LE(batch_sizes.size(), 5u);
}

TEST(GroupCommitterTest, RespectsTheBatchLimit) {
  std::atomic<size_t> largest{0};
  GroupCommitter committer(
      [&](const std::vector<store::AsyncEvent>& events) -> Result<std::vector<std::string>> {
        size_t n = events.size();
        size_t seen = largest.load();
        while (n > seen && !largest.compare_exchange_weak(seen, n)) {
        }
        return std::vector<std::string>(events.size());
      },
      std::chrono::milliseconds(20), 50);
  auto results = submitAll(committer, 300);
  for (const auto& r : results) EXPECT_TRUE(r.ok());
  EXPECT_LE(largest.load(), 50u);
  EXPECT_GE(committer.batches(), 6u);
}

TEST(GroupCommitterTest, AFailedBatchFailsEachOfItsEvents) {
  GroupCommitter committer(
      [](const std::vector<store::AsyncEvent>&) -> Result<std::vector<std::string>> {
        return makeError(ErrorCode::kInternal, "disk full");
      });
  auto results = submitAll(committer, 10);
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "disk full");
  }
}

TEST(GroupCommitterTest, EachSubmitterHearsTheIdThatStandsForItsEvent) {
  // The store answers an earlier request id for events whose idempotency key is taken.
  GroupCommitter committer(
      [](const std::vector<store::AsyncEvent>& events) -> Result<std::vector<std::string>> {
        std::vector<std::string> ids;
        for (const auto& e : events) ids.push_back(e.request_id == "id-3" ? "first" : e.request_id);
        return ids;
      });
  auto results = submitAll(committer, 5);
  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(*results[3], "first");
  EXPECT_EQ(*results[2], "id-2");
}

}  // namespace
}  // namespace nimbus::queue
