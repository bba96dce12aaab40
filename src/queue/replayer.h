// Replay of dead-letter (or any destination) queue messages: each destination record,
// or DeadLetterConfig message (queue/dead_letter.h), goes back to its function as an
// async event under its original request id, with a replay count one higher, and
// leaves the queue in the same transaction. Whole-queue
// replays run in the background at a rate limit, one per queue at a time.
// Thread-safe; store calls run on the BlockingWorker.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <map>
#include <mutex>
#include <string>

#include "base/blocking_worker.h"
#include "base/error.h"
#include "base/time.h"
#include "model/function_ref.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::queue {

struct ReplayOutcome {
  std::string request_id;
  std::string function_name;
  int replay_count = 0;
};

struct ReplayStatus {
  bool running = false;
  int replayed = 0;   // of the last (or current) whole-queue replay
  int failed = 0;     // messages that could not be replayed; they stay in the queue
  int remaining = 0;  // not yet tried
  double rate = 0;    // messages per second
};

inline constexpr double kMinReplayRate = 0.1;
inline constexpr double kMaxReplayRate = 1000;

class Replayer {
 public:
  Replayer(boost::asio::io_context& ioc, store::Store& store, store::QueueStore& queues,
           BlockingWorker& worker, const Clock& clock)
      : ioc_(ioc), store_(store), queues_(queues), worker_(worker), clock_(clock) {}

  // kNotFound (queue, message or function gone), kInvalidParameter (not a record).
  boost::asio::awaitable<Result<ReplayOutcome>> replayOne(const std::string& queue,
                                                          const std::string& message_id);
  // Starts replaying every message now in the queue. kConflict when one is running,
  // kInvalidParameter for a rate outside [kMinReplayRate, kMaxReplayRate].
  Result<void> start(const std::string& queue, double rate);
  ReplayStatus status(const std::string& queue) const;
  // Running replays stop after their current message.
  void stop() { stopped_ = true; }

 private:
  Result<ReplayOutcome> replayNow(const std::string& queue, const std::string& message_id);
  boost::asio::awaitable<void> run(std::string queue, double rate);
  void update(const std::string& queue, bool replayed);

  boost::asio::io_context& ioc_;
  store::Store& store_;
  store::QueueStore& queues_;
  BlockingWorker& worker_;
  const Clock& clock_;
  std::atomic<bool> stopped_{false};
  mutable std::mutex mutex_;
  std::map<std::string, ReplayStatus> jobs_;  // guarded by mutex_
};

}  // namespace nimbus::queue
