// The async side's persistence beyond the event queue itself: built-in named queues
// (destinations and dead-letter queues), idempotency keys, and retention of finished
// events. SqliteStore implements it beside Store; a PostgreSQL backend will too.
// Thread-safe; every call is one transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "store/store.h"

namespace nimbus::store {

struct QueueInfo {
  std::string name;
  int64_t created_ms = 0;
  int depth = 0;               // every message in the queue
  int in_flight = 0;           // received and not yet visible again
  int64_t oldest_sent_ms = 0;  // 0 when empty
};

struct QueueMessage {
  std::string queue;
  std::string message_id;
  std::string body;
  std::string attributes;  // a JSON object
  int64_t sent_ms = 0;
  int64_t visible_after_ms = 0;
  int receive_count = 0;
  std::string receipt_handle;  // set by receiveMessages
};

// One invocation's claim on an idempotency key. `kind` separates sync from async keys.
struct IdempotencyRecord {
  std::string function_name;
  std::string kind;  // "sync" | "async"
  std::string key;
  std::string request_id;
  std::string status;    // "running" | "done"
  std::string response;  // sync: the stored answer (a JSON document the gateway owns)
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

class QueueStore {
 public:
  virtual ~QueueStore() = default;

  // --- Named queues. kConflict if the name exists, kNotFound if absent. ---
  virtual Result<void> createQueue(const std::string& name, int64_t now_ms) = 0;
  virtual Result<void> deleteQueue(const std::string& name) = 0;
  virtual Result<std::vector<QueueInfo>> listQueues(int64_t now_ms) = 0;
  virtual Result<QueueInfo> getQueue(const std::string& name, int64_t now_ms) = 0;

  // --- Messages. kNotFound when the queue (or message) is absent. ---
  virtual Result<void> sendMessage(const QueueMessage& message) = 0;
  // Oldest first, after `after_id` (a message id; empty: from the start), no change.
  virtual Result<std::vector<QueueMessage>> peekMessages(const std::string& queue,
                                                         const std::string& after_id,
                                                         int limit) = 0;
  virtual Result<QueueMessage> getMessage(const std::string& queue,
                                          const std::string& message_id) = 0;
  // Takes up to `limit` visible messages and hides them until now + visibility.
  virtual Result<std::vector<QueueMessage>> receiveMessages(const std::string& queue,
                                                            int64_t now_ms, int limit,
                                                            int64_t visibility_ms) = 0;
  virtual Result<void> deleteMessage(const std::string& queue, const std::string& message_id) = 0;
  virtual Result<int> purgeQueue(const std::string& queue) = 0;
  // Replay: queues `event` again under its own request id (re-opening a finished row,
  // replay_count + 1) and deletes the message, in one transaction. Returns the replay
  // count the event now has.
  virtual Result<int> replayMessage(const std::string& queue, const std::string& message_id,
                                    const AsyncEvent& event) = 0;

  // --- Idempotency keys. ---
  // Claims the key for `record` unless a live (unexpired) claim exists; returns the
  // claim that holds the key afterwards (ours when we got it).
  virtual Result<IdempotencyRecord> claimIdempotencyKey(const IdempotencyRecord& record) = 0;
  virtual Result<void> completeIdempotencyKey(const std::string& function_name,
                                              const std::string& kind, const std::string& key,
                                              const std::string& response) = 0;
  virtual Result<void> releaseIdempotencyKey(const std::string& function_name,
                                             const std::string& kind, const std::string& key,
                                             const std::string& request_id) = 0;
  // At start: sync claims left running by a killed nimbus can never complete.
  virtual Result<int> releaseRunningSyncKeys() = 0;

  // --- Visibility and retention. ---
  // Queued events' oldest received time (0: none) and the retries spent by the
  // function's events still stored.
  virtual Result<std::pair<int64_t, int>> eventAgeAndRetries(const std::string& function_name) = 0;
  // Deletes done/dead events finished before `finished_before_ms` and expired keys.
  // Returns the rows deleted.
  virtual Result<int> sweep(int64_t now_ms, int64_t finished_before_ms) = 0;
};

}  // namespace nimbus::store
