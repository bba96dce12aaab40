// Retention of the async side: finished (done/dead) events older than the retention
// and expired idempotency keys are deleted periodically, so the store does not grow
// without bound. Runs on the io_context; the deletes run on the BlockingWorker.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

#include "base/blocking_worker.h"
#include "base/time.h"
#include "store/queue_store.h"

namespace nimbus::queue {

class Sweeper {
 public:
  Sweeper(boost::asio::io_context& ioc, store::QueueStore& store, BlockingWorker& worker,
          const Clock& clock, std::chrono::milliseconds retention,
          std::chrono::milliseconds interval = std::chrono::minutes(1))
      : ioc_(ioc),
        store_(store),
        worker_(worker),
        clock_(clock),
        retention_(retention),
        interval_(interval) {}

  void start();
  void stop() { stopped_ = true; }

 private:
  boost::asio::awaitable<void> loop();

  boost::asio::io_context& ioc_;
  store::QueueStore& store_;
  BlockingWorker& worker_;
  const Clock& clock_;
  std::chrono::milliseconds retention_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stopped_{false};
};

}  // namespace nimbus::queue
