// Tests of the batch writer: batching, drain, drop-and-count when full, failures.
#include "observability/batch_writer.h"

#include <gtest/gtest.h>

#include <future>

namespace nimbus::observability {
namespace {

using namespace std::chrono_literals;

TEST(BatchWriterTest, DrainWritesEverythingInBatches) {
  std::mutex m;
  std::vector<size_t> batches;
  std::vector<int> seen;
  BatchWriter<int> w({"t", 1000, 10, 50ms}, [&](const std::vector<int>& b) -> Result<void> {
    std::lock_guard lock(m);
    batches.push_back(b.size());
    seen.insert(seen.end(), b.begin(), b.end());
    return {};
  });
  for (int i = 0; i < 95; ++i) ASSERT_TRUE(w.push(i));
  w.drain();
  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 95u);
  for (int i = 0; i < 95; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  for (size_t b : batches) EXPECT_LE(b, 10u);
  EXPECT_EQ(w.written(), 95u);
  EXPECT_EQ(w.dropped(), 0u);
}

TEST(BatchWriterTest, FullQueueDropsAndCountsInsteadOfBlocking) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> flushes{0};
  BatchWriter<int> w({"t", 5, 1, 1ms}, [&](const std::vector<int>&) -> Result<void> {
    ++flushes;
    released.wait();  // the store is stuck
    return {};
  });
  ASSERT_TRUE(w.push(0));
  // Wait until the writer holds item 0 inside flush, so the queue is empty again.
  for (int i = 0; i < 1000 && flushes == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(flushes, 1);
  const auto start = std::chrono::steady_clock::now();
  int accepted = 0;
  for (int i = 1; i <= 20; ++i) accepted += w.push(i) ? 1 : 0;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);  // never blocked
  EXPECT_EQ(accepted, 5);
  EXPECT_EQ(w.dropped(), 15u);
  release.set_value();
  w.drain();
  EXPECT_EQ(w.written(), 6u);
}

TEST(BatchWriterTest, FailedFlushIsCountedAndWriterGoesOn) {
  std::atomic<bool> fail{true};
  BatchWriter<int> w({"t", 100, 100, 10ms}, [&](const std::vector<int>&) -> Result<void> {
    if (fail) return makeError(ErrorCode::kInternal, "disk full");
    return {};
  });
  ASSERT_TRUE(w.push(1));
  w.drain();
  EXPECT_EQ(w.failed(), 1u);
  fail = false;
  ASSERT_TRUE(w.push(2));
  w.drain();
  EXPECT_EQ(w.written(), 1u);
}

TEST(BatchWriterTest, StopWritesWhatIsQueuedThenRefuses) {
  std::atomic<int> written{0};
  auto w = std::make_unique<BatchWriter<int>>(BatchWriterOptions{"t", 100, 100, 10s},
                                              [&](const std::vector<int>& b) -> Result<void> {
                                                written += static_cast<int>(b.size());
                                                return {};
                                              });
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(w->push(i));
  w->stop();
  EXPECT_EQ(written, 7);
  EXPECT_FALSE(w->push(8));
  w.reset();  // destructor after stop() is fine
}

}  // namespace
}  // namespace nimbus::observability
