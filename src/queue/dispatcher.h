// Delivery of queued async events: claims due events from the store, invokes them
// through invoke::Invoker (the same pool and concurrency limits as sync invokes), and
// applies the retry policy and destinations (functions, or built-in named queues).
// Clock and randomness are injected. Threading: start() and stop() from any thread;
// deliveries run on the io_context, their store calls on the BlockingWorker.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include "base/blocking_worker.h"
#include "base/time.h"
#include "invoke/invoker.h"
#include "queue/group_committer.h"
#include "queue/retry_policy.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::queue {

struct DispatcherOptions {
  int workers = 64;  // events in flight at once, across all functions
  std::chrono::milliseconds poll{20};
};

class Dispatcher {
 public:
  Dispatcher(boost::asio::io_context& ioc, store::Store& store, store::QueueStore& queues,
             BlockingWorker& worker, invoke::Invoker& invoker, GroupCommitter& committer,
             RetryPolicy policy, const Clock& clock, DispatcherOptions options)
      : ioc_(ioc),
        store_(store),
        queues_(queues),
        worker_(worker),
        invoker_(invoker),
        committer_(committer),
        policy_(std::move(policy)),
        clock_(clock),
        options_(options) {}

  // At start, before start(): events a killed nimbus left running are queued again
  // (at-least-once; they keep their request ids). Returns how many.
  Result<int> recover();
  void start();
  // Stops claiming; deliveries in flight finish on their own.
  void stop() { stopped_ = true; }

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<void> deliver(store::AsyncEvent event);
  store::EventInvokeConfig configFor(const store::AsyncEvent& event);
  // The event's next attempt, or its end; errors are logged (the event stays running
  // and a restart queues it again).
  boost::asio::awaitable<void> requeue(const store::AsyncEvent& event, int64_t next_attempt_ms,
                                       const std::string& last_error);
  boost::asio::awaitable<void> finish(const store::AsyncEvent& event, const std::string& status,
                                      const std::string& last_error);
  // Per-function throttle gate: after a 429, the function's other events wait without
  // asking the pool, so N queued events cost one throttled invoke, not N.
  bool throttleGateClosed(const std::string& function, int64_t now_ms);
  void closeThrottleGate(const std::string& function, int64_t until_ms);
  // Ends an event as dead and tells its OnFailure destination and its function's
  // dead-letter queue (both, as Lambda does). `error_code` is the HTTP status the DLQ
  // message reports (200: the function ran and failed).
  boost::asio::awaitable<void> giveUp(const store::AsyncEvent& event,
                                      const store::EventInvokeConfig& config,
                                      const std::string& condition,
                                      const std::optional<model::InvokeResult>& result,
                                      const std::string& error, int error_code);
  // Sends the original event to the DeadLetterConfig queue of the event's function
  // version, when it has one.
  boost::asio::awaitable<void> sendToDeadLetterQueue(
      const store::AsyncEvent& event, const std::string& condition,
      const std::optional<model::InvokeResult>& result, const std::string& error, int error_code);
  boost::asio::awaitable<void> notifyDestination(const std::string& destination,
                                                 const store::AsyncEvent& event,
                                                 const std::string& condition,
                                                 const std::optional<model::InvokeResult>& result);

  boost::asio::io_context& ioc_;
  store::Store& store_;
  store::QueueStore& queues_;
  BlockingWorker& worker_;
  invoke::Invoker& invoker_;
  GroupCommitter& committer_;
  RetryPolicy policy_;
  const Clock& clock_;
  DispatcherOptions options_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> stopped_{false};
  std::mutex gate_mutex_;
  std::map<std::string, int64_t> throttled_until_;  // guarded by gate_mutex_
};

}  // namespace nimbus::queue
