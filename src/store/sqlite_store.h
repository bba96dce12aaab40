// The embedded default Store: one SQLite file in WAL mode, migrated to the newest
// schema when opened. Thread-safe: a mutex serialises every call on one connection.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"
#include "store/queue_store.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace nimbus::store {

class SqliteStore : public Store, public QueueStore {
 public:
  // Opens (creating if missing) the database file and applies pending migrations.
  // ":memory:" gives a private in-memory database, for tests. kInternal if the file
  // cannot be opened, a migration fails, or the file's schema is newer than this binary.
  static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& file);

  Result<void> createFunction(const model::FunctionConfig& config) override;
  Result<model::FunctionConfig> getFunction(const std::string& name,
                                            const std::string& version) override;
  Result<void> updateFunction(const model::FunctionConfig& config) override;
  Result<void> deleteFunction(const std::string& name) override;
  // The marker is an opaque token (kInvalidParameter if it is not one we issued).
  Result<FunctionPage> listFunctions(const std::optional<std::string>& marker,
                                     int max_items) override;
  Result<std::vector<std::string>> referencedCodeDigests() override;
  Result<std::optional<int>> getReservedConcurrency(const std::string& name) override;
  Result<void> setReservedConcurrency(const std::string& name,
                                      std::optional<int> reserved) override;
  Result<std::map<std::string, int>> reservedConcurrencies() override;

  Result<std::vector<std::string>> enqueueEvents(const std::vector<AsyncEvent>& events) override;
  Result<std::vector<AsyncEvent>> claimDueEvents(int64_t now_ms, int limit) override;
  Result<void> requeueEvent(const std::string& request_id, int attempts, int64_t next_attempt_ms,
                            const std::string& last_error) override;
  Result<void> finishEvent(const std::string& request_id, int attempts, const std::string& status,
                           const std::string& last_error) override;
  Result<int> requeueRunningEvents(int64_t now_ms) override;
  Result<std::map<std::string, int>> countEvents(const std::string& function_name) override;
  Result<void> putEventInvokeConfig(const EventInvokeConfig& config) override;
  Result<EventInvokeConfig> getEventInvokeConfig(const std::string& function_name,
                                                 const std::string& qualifier) override;
  Result<void> deleteEventInvokeConfig(const std::string& function_name,
                                       const std::string& qualifier) override;
  Result<std::vector<EventInvokeConfig>> listEventInvokeConfigs(
      const std::string& function_name) override;

  Result<void> putProvisionedConcurrency(const ProvisionedConcurrencyConfig& config) override;
  Result<void> deleteProvisionedConcurrency(const std::string& function_name,
                                            const std::string& qualifier) override;
  Result<std::vector<ProvisionedConcurrencyConfig>> listProvisionedConcurrency(
      const std::string& function_name) override;

  Result<void> createQueue(const std::string& name, int64_t now_ms) override;
  Result<void> deleteQueue(const std::string& name) override;
  Result<std::vector<QueueInfo>> listQueues(int64_t now_ms) override;
  Result<QueueInfo> getQueue(const std::string& name, int64_t now_ms) override;
  Result<void> sendMessage(const QueueMessage& message) override;
  Result<std::vector<QueueMessage>> peekMessages(const std::string& queue,
                                                 const std::string& after_id, int limit) override;
  Result<QueueMessage> getMessage(const std::string& queue, const std::string& message_id) override;
  Result<std::vector<QueueMessage>> receiveMessages(const std::string& queue, int64_t now_ms,
                                                    int limit, int64_t visibility_ms) override;
  Result<void> deleteMessage(const std::string& queue, const std::string& message_id) override;
  Result<int> purgeQueue(const std::string& queue) override;
  Result<int> replayMessage(const std::string& queue, const std::string& message_id,
                            const AsyncEvent& event) override;
  Result<IdempotencyRecord> claimIdempotencyKey(const IdempotencyRecord& record) override;
  Result<void> completeIdempotencyKey(const std::string& function_name, const std::string& kind,
                                      const std::string& key, const std::string& response) override;
  Result<void> releaseIdempotencyKey(const std::string& function_name, const std::string& kind,
                                     const std::string& key,
                                     const std::string& request_id) override;
  Result<int> releaseRunningSyncKeys() override;
  Result<std::pair<int64_t, int>> eventAgeAndRetries(const std::string& function_name) override;
  Result<int> sweep(int64_t now_ms, int64_t finished_before_ms) override;

  // Observability (sqlite_observability.cc).
  Result<void> appendInvocationRecords(
      const std::vector<model::InvocationRecord>& records) override;
  Result<RecordPage> queryInvocationRecords(const RecordQuery& query) override;
  Result<int64_t> pruneInvocationRecords(int64_t older_than_ms, int64_t keep_max) override;
  Result<void> appendLogChunks(const std::vector<model::LogChunk>& chunks) override;
  Result<std::vector<model::LogLine>> queryLogLines(const LogQuery& query) override;
  Result<int64_t> pruneLogLines(int64_t older_than_ms, int64_t max_bytes) override;
  Result<void> scanInvocationRecords(
      const std::string& function_name, int64_t since_ms, int64_t until_ms,
      const std::function<void(const model::InvocationRecord&)>& visit) override;
  Result<int64_t> countDeadEvents(const std::string& function_name, int64_t since_ms,
                                  int64_t until_ms) override;
  Result<std::vector<AsyncQueueStat>> asyncQueueStats() override;

 private:
  explicit SqliteStore(sqlite::Database db) : db_(std::move(db)) {}
  // The caller holds mutex_ (and usually a transaction).
  Result<IdempotencyRecord> claimKeyLocked(const IdempotencyRecord& record);
  Result<bool> queueExistsLocked(const std::string& name);

  // TODO(perf): WAL lets readers run beside the writer; a small pool of read-only
  // connections would let get/list calls stop queueing behind this one mutex.
  std::mutex mutex_;
  sqlite::Database db_;     // guarded by mutex_, as is every statement prepared on it
  int64_t log_bytes_ = -1;  // total bytes of log_chunks; -1 until a sweep counts them
};

}  // namespace nimbus::store
