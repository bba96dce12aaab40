// Idempotency keys (X-Nimbus-Idempotency-Key): an invoke carrying a key runs at most
// once per function and invocation type within the TTL. Sync invokes claim the key,
// run, and store their answer; async invokes claim it in the same transaction that
// queues the event (store::AsyncEvent::idempotency_key). Store calls run on the
// BlockingWorker. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "base/blocking_worker.h"
#include "base/error.h"
#include "base/time.h"
#include "store/queue_store.h"

namespace nimbus::queue {

inline constexpr const char* kIdempotencyHeader = "X-Nimbus-Idempotency-Key";
inline constexpr const char* kIdempotentReplayHeader = "X-Nimbus-Idempotent-Replay";

// 1-256 printable ASCII characters. kInvalidParameter otherwise.
Result<void> validateIdempotencyKey(const std::string& key);

struct SyncClaim {
  enum class State { kOurs, kInProgress, kDone } state = State::kOurs;
  std::string request_id;  // the claim holder's
  std::string response;    // kDone: what was stored by complete()
};

class IdempotencyKeys {
 public:
  IdempotencyKeys(store::QueueStore& store, BlockingWorker& worker, const Clock& clock,
                  std::chrono::seconds ttl)
      : store_(store), worker_(worker), clock_(clock), ttl_(ttl) {}

  boost::asio::awaitable<Result<SyncClaim>> claimSync(const std::string& function,
                                                      const std::string& key,
                                                      const std::string& request_id);
  // The invocation ran (success or function error): later repeats get `response`.
  boost::asio::awaitable<Result<void>> completeSync(const std::string& function,
                                                    const std::string& key,
                                                    const std::string& response);
  // The platform refused or failed the invocation: the key is free again.
  boost::asio::awaitable<Result<void>> releaseSync(const std::string& function,
                                                   const std::string& key,
                                                   const std::string& request_id);
  // Makes enqueueing `event` a claim on `key`.
  void stampAsync(store::AsyncEvent& event, const std::string& key) const;

 private:
  store::QueueStore& store_;
  BlockingWorker& worker_;
  const Clock& clock_;
  std::chrono::seconds ttl_;
};

}  // namespace nimbus::queue
