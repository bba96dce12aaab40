// Durable acceptance of async events: submissions that arrive while a commit is running
// (or within a short window) go into the store together, one transaction and one fsync
// per batch. Owns one committer thread, so SQLite writes stay off the I/O threads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/one_shot.h"
#include "store/store.h"

namespace nimbus::queue {

class GroupCommitter {
 public:
  // Writes one batch, all or nothing (Store::enqueueEvents); per event, the request id
  // that stands for it (an earlier one when its idempotency key was taken).
  using Sink =
      std::function<Result<std::vector<std::string>>(const std::vector<store::AsyncEvent>&)>;

  GroupCommitter(Sink sink, std::chrono::microseconds window = std::chrono::milliseconds(1),
                 size_t max_batch = 2000);
  // Stops the thread; submissions still waiting get kUnavailable.
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Completes once the event is committed (or its batch failed) with the request id
  // that stands for it. Any thread.
  boost::asio::awaitable<Result<std::string>> submit(store::AsyncEvent event);

  uint64_t batches() const;
  uint64_t events() const;

 private:
  struct Pending {
    store::AsyncEvent event;
    std::shared_ptr<OneShot<Result<std::string>>> done;
  };
  void run();  // the committer thread

  Sink sink_;
  std::chrono::microseconds window_;
  size_t max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Pending> pending_;  // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  uint64_t batches_ = 0;          // guarded by mutex_
  uint64_t events_ = 0;           // guarded by mutex_
  std::thread thread_;
};

}  // namespace nimbus::queue
