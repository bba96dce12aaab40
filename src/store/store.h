// The persistence interface for function state. The SQLite backend (sqlite_store.h) is
// the embedded default; a PostgreSQL backend will implement the same interface.
// Implementations are thread-safe: any thread may call any method.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation_record.h"

namespace nimbus::store {

// One async invocation in the durable queue (table async_events).
struct AsyncEvent {
  std::string request_id;  // kept across retries and restarts: at-least-once, same id
  std::string function_name;
  std::string qualifier;  // empty: $LATEST
  std::string payload;
  std::string client_context;
  std::string trace_id;
  std::string tracestate;      // W3C tracestate as the caller sent it
  std::string correlation_id;  // X-Correlation-Id: follows every attempt
  int attempts = 0;            // invocations that ran (throttled tries do not count)
  int64_t received_ms = 0;
  int64_t next_attempt_ms = 0;
  std::string status = "queued";  // queued | running | done | dead
  std::string last_error;
  int replay_count = 0;  // times replayed from a dead-letter queue
  // When set, enqueueing is a claim on this key (QueueStore's idempotency keys, kind
  // "async"): a live earlier claim means the event is not queued again.
  std::string idempotency_key;
  int64_t idempotency_expires_ms = 0;
};

// PutFunctionEventInvokeConfig's settings for one function qualifier.
struct EventInvokeConfig {
  std::string function_name;
  std::string qualifier = "$LATEST";
  int maximum_retry_attempts = 2;
  int maximum_event_age_seconds = 21600;
  std::string on_success;  // destination ARN, empty: none
  std::string on_failure;
  int64_t last_modified_ms = 0;
};

// PutProvisionedConcurrencyConfig's request for one function qualifier. Only what the
// user asked for is stored; allocation state lives in the pool.
struct ProvisionedConcurrencyConfig {
  std::string function_name;
  std::string qualifier = "$LATEST";
  int requested = 0;
  int64_t last_modified_ms = 0;
};

struct FunctionPage {
  std::vector<model::FunctionConfig> functions;
  std::optional<std::string> next_marker;  // present when more remain
};

// Filters of GET /v1/invocations; empty strings and zero times mean "any".
struct RecordQuery {
  std::string function_name;
  std::string outcome;
  std::string request_id;
  int64_t since_ms = 0;   // start_ms >= since_ms
  int64_t until_ms = 0;   // start_ms < until_ms, when non-zero
  int64_t before_id = 0;  // paging cursor: records with id < before_id (0: from the newest)
  int limit = 100;
};

struct RecordPage {
  std::vector<model::InvocationRecord> records;  // newest first
  std::optional<int64_t> next_before_id;         // present when more may remain
};

// Filters of GET /v1/logs. With after_id (a LogLine id), the lines after that cursor,
// oldest first (a follower); without, the newest `limit` matching lines, oldest first
// (a tail). since_ms applies to chunks (the time of their first line).
struct LogQuery {
  std::string function_name;
  std::string request_id;
  int64_t since_ms = 0;
  int64_t after_id = 0;
  int limit = 100;
};

// Async queue figures of one function, for the metrics scrape.
struct AsyncQueueStat {
  std::string function_name;
  int64_t queued = 0;
  int64_t running = 0;
  int64_t dead = 0;
  int64_t oldest_queued_ms = 0;  // received_ms of the oldest queued event; 0 when none
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts a new function at version "$LATEST". kConflict if the name exists.
  virtual Result<void> createFunction(const model::FunctionConfig& config) = 0;
  // kNotFound if the function or that version does not exist.
  virtual Result<model::FunctionConfig> getFunction(const std::string& name,
                                                    const std::string& version) = 0;
  // Replaces the stored row for (config.name, config.version). kNotFound if absent.
  virtual Result<void> updateFunction(const model::FunctionConfig& config) = 0;
  // Deletes the function and every version of it. kNotFound if absent.
  virtual Result<void> deleteFunction(const std::string& name) = 0;
  // $LATEST of every function in name order, starting after `marker` (an opaque token
  // returned as next_marker), at most max_items (1..10000).
  virtual Result<FunctionPage> listFunctions(const std::optional<std::string>& marker,
                                             int max_items) = 0;
  // Reserved concurrency of a function (nullopt: none). kNotFound if no such function.
  virtual Result<std::optional<int>> getReservedConcurrency(const std::string& name) = 0;
  virtual Result<void> setReservedConcurrency(const std::string& name,
                                              std::optional<int> reserved) = 0;
  // Every function that has a reservation, for loading admission state at start.
  virtual Result<std::map<std::string, int>> reservedConcurrencies() = 0;
  // Every code digest still referenced by some function version (for garbage collection).
  virtual Result<std::vector<std::string>> referencedCodeDigests() = 0;

  // --- The async queue. Every call is one transaction. ---
  // Inserts every event in one transaction (one fsync): all or none. kConflict if a
  // request id is already queued. Returns, per event, the request id that now stands
  // for it: its own, or that of an earlier event holding the same idempotency key.
  virtual Result<std::vector<std::string>> enqueueEvents(const std::vector<AsyncEvent>& events) = 0;
  // Marks up to `limit` queued events with next_attempt_ms <= now_ms as running and
  // returns them, oldest due first.
  virtual Result<std::vector<AsyncEvent>> claimDueEvents(int64_t now_ms, int limit) = 0;
  // Puts a running event back in the queue for a later attempt.
  virtual Result<void> requeueEvent(const std::string& request_id, int attempts,
                                    int64_t next_attempt_ms, const std::string& last_error) = 0;
  // Ends an event: status "done" or "dead".
  virtual Result<void> finishEvent(const std::string& request_id, int attempts,
                                   const std::string& status, const std::string& last_error) = 0;
  // At start: events a killed nimbus left running go back to queued, due now. Returns
  // how many.
  virtual Result<int> requeueRunningEvents(int64_t now_ms) = 0;
  // Events per status, for visibility and tests.
  virtual Result<std::map<std::string, int>> countEvents(const std::string& function_name) = 0;

  // --- Event invoke configs. kNotFound when the function (or config) is absent. ---
  virtual Result<void> putEventInvokeConfig(const EventInvokeConfig& config) = 0;
  virtual Result<EventInvokeConfig> getEventInvokeConfig(const std::string& function_name,
                                                         const std::string& qualifier) = 0;
  virtual Result<void> deleteEventInvokeConfig(const std::string& function_name,
                                               const std::string& qualifier) = 0;
  virtual Result<std::vector<EventInvokeConfig>> listEventInvokeConfigs(
      const std::string& function_name) = 0;

  // --- Provisioned concurrency configs (deleted with their function). ---
  // Inserts or replaces. kNotFound when the function is absent.
  virtual Result<void> putProvisionedConcurrency(const ProvisionedConcurrencyConfig& config) = 0;
  // kNotFound when there is no such config.
  virtual Result<void> deleteProvisionedConcurrency(const std::string& function_name,
                                                    const std::string& qualifier) = 0;
  // The configs of one function in qualifier order; of every function when the name is
  // empty (loaded at start to provision again).
  virtual Result<std::vector<ProvisionedConcurrencyConfig>> listProvisionedConcurrency(
      const std::string& function_name) = 0;

  // --- Observability: invocation records and function log lines. Defaults answer
  // kInternal so that test doubles need not implement them. ---
  // Appends every record (or line) in one transaction.
  virtual Result<void> appendInvocationRecords(const std::vector<model::InvocationRecord>&) {
    return unsupported("invocation records");
  }
  virtual Result<RecordPage> queryInvocationRecords(const RecordQuery&) {
    return unsupported("invocation records");
  }
  // Deletes records that started before older_than_ms, then the oldest beyond keep_max
  // (0: no count limit). Returns how many went.
  virtual Result<int64_t> pruneInvocationRecords(int64_t /*older_than_ms*/, int64_t /*keep_max*/) {
    return unsupported("invocation records");
  }
  virtual Result<void> appendLogChunks(const std::vector<model::LogChunk>&) {
    return unsupported("log lines");
  }
  virtual Result<std::vector<model::LogLine>> queryLogLines(const LogQuery&) {
    return unsupported("log lines");
  }
  // Deletes chunks older than older_than_ms, then the oldest until the text left totals
  // at most max_bytes (0: no size limit). Returns how many chunks went.
  virtual Result<int64_t> pruneLogLines(int64_t /*older_than_ms*/, int64_t /*max_bytes*/) {
    return unsupported("log lines");
  }
  // Calls `visit` with every record of `function_name` that started in [since_ms,
  // until_ms), in id order; reads in pages, so writers are not held up for long.
  virtual Result<void> scanInvocationRecords(
      const std::string& /*function_name*/, int64_t /*since_ms*/, int64_t /*until_ms*/,
      const std::function<void(const model::InvocationRecord&)>& /*visit*/) {
    return unsupported("invocation records");
  }
  // Async events of the function that were received in [since_ms, until_ms) and are
  // dead (given up on: sent to the DLQ / on-failure destination).
  virtual Result<int64_t> countDeadEvents(const std::string& /*function_name*/,
                                          int64_t /*since_ms*/, int64_t /*until_ms*/) {
    return unsupported("async events");
  }
  virtual Result<std::vector<AsyncQueueStat>> asyncQueueStats() {
    return unsupported("async queue statistics");
  }

 private:
  static Error unsupported(const char* what) {
    return makeError(ErrorCode::kInternal, std::string(what) + " are not kept by this store");
  }
};

}  // namespace nimbus::store
