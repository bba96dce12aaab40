// Delivery of queued async events: claims due events from the store, invokes them
// through invoke::Invoker (the same pool and concurrency limits as sync invokes), and
// applies the retry policy and destinations (functions, or built-in named queues).
// Clock and randomness are injected. Threading: start() and stop() from any thread;
// deliveries run on the io_context, their store calls on the BlockingWorker.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <vector>

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
  // How soon to claim again while events may be waiting (a full claim, or every
  // worker busy).
  std::chrono::milliseconds poll{20};
  // With nothing waiting, the loop sleeps until woken (a commit of new events, a
  // retry falling due) or this long at most: the fallback for events the dispatcher
  // is not told of (replays, retries queued by an earlier run).
  std::chrono::milliseconds idle_poll{250};
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
  void stop() {
    stopped_ = true;
    wake();
  }
  // New events are committed: claim now instead of at the next idle poll. Any thread.
  void wake();

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

  // When the loop should claim again, given what it knows: the earliest retry it
  // queued that is not due yet, else the idle poll.
  std::chrono::milliseconds idleSleep(int64_t now_ms);

  boost::asio::io_context& ioc_;
  // The claim loop, its timer and wake() run on this strand.
  boost::asio::strand<boost::asio::io_context::executor_type> strand_{
      boost::asio::make_strand(ioc_)};
  boost::asio::steady_timer timer_{strand_};
  bool wake_requested_ = false;  // on strand_
  std::mutex due_mutex_;
  // Due times (clock ms) of retries queued by this run, earliest first.
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> retry_due_;
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

// Lets the GroupCommitter, built before the Dispatcher, wake it after each commit.
// Callable from any thread, also before a dispatcher is attached and after it is
// detached; Attachment detaches when it goes, so declare it after the dispatcher.
class DispatcherWakeup {
 public:
  class Attachment {
   public:
    Attachment(DispatcherWakeup& wakeup, Dispatcher& dispatcher) : wakeup_(wakeup) {
      wakeup_.set(&dispatcher);
    }
    ~Attachment() { wakeup_.set(nullptr); }
    Attachment(const Attachment&) = delete;
    Attachment& operator=(const Attachment&) = delete;

   private:
    DispatcherWakeup& wakeup_;
  };

  void operator()() {
    std::lock_guard lock(mutex_);
    if (dispatcher_ != nullptr) dispatcher_->wake();
  }

 private:
  void set(Dispatcher* dispatcher) {
    std::lock_guard lock(mutex_);
    dispatcher_ = dispatcher;
  }
  std::mutex mutex_;
  Dispatcher* dispatcher_ = nullptr;
};

}  // namespace nimbus::queue
