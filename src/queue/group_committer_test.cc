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
std::vector<Result<void>> submitAll(GroupCommitter& committer, int n) {
  asio::io_context ioc;
  std::vector<Result<void>> results(n, makeError(ErrorCode::kInternal, "not answered"));
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
      [&](const std::vector<store::AsyncEvent>& events) -> Result<void> {
        std::lock_guard lock(mutex);
        batch_sizes.push_back(events.size());
        for (const auto& e : events) written.insert(e.request_id);
        return {};
      },
      std::chrono::milliseconds(20));
  auto results = submitAll(committer, 500);
  for (const auto& r : results) EXPECT_TRUE(r.ok());
  EXPECT_EQ(written.size(), 500u);
  EXPECT_EQ(committer.events(), 500u);
  // 500 submissions within one 20 ms window: a handful of transactions, not 500.
  EXPECT_LE(batch_sizes.size(), 5u);
}

TEST(GroupCommitterTest, RespectsTheBatchLimit) {
  std::atomic<size_t> largest{0};
  GroupCommitter committer(
      [&](const std::vector<store::AsyncEvent>& events) -> Result<void> {
        size_t n = events.size();
        size_t seen = largest.load();
        while (n > seen && !largest.compare_exchange_weak(seen, n)) {
        }
        return {};
      },
      std::chrono::milliseconds(20), 50);
  auto results = submitAll(committer, 300);
  for (const auto& r : results) EXPECT_TRUE(r.ok());
  EXPECT_LE(largest.load(), 50u);
  EXPECT_GE(committer.batches(), 6u);
}

TEST(GroupCommitterTest, AFailedBatchFailsEachOfItsEvents) {
  GroupCommitter committer([](const std::vector<store::AsyncEvent>&) -> Result<void> {
    return makeError(ErrorCode::kInternal, "disk full");
  });
  auto results = submitAll(committer, 10);
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "disk full");
  }
}

}  // namespace
}  // namespace nimbus::queue
