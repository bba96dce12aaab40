// A Store that keeps function versions in memory in front of another Store, so that a
// warm invoke resolves its function without touching SQLite. Every write goes through
// it, which is what keeps the cache exact on one node. Thread-safe.
// TODO(cluster): with several nodes on one PostgreSQL, invalidate on LISTEN/NOTIFY.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "store/store.h"

namespace nimbus::store {

class CachedStore : public Store {
 public:
  explicit CachedStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  Result<void> createFunction(const model::FunctionConfig& config) override;
  Result<model::FunctionConfig> getFunction(const std::string& name,
                                            const std::string& version) override;
  Result<void> updateFunction(const model::FunctionConfig& config) override;
  Result<void> deleteFunction(const std::string& name) override;
  Result<FunctionPage> listFunctions(const std::optional<std::string>& marker,
                                     int max_items) override;
  Result<std::optional<int>> getReservedConcurrency(const std::string& name) override;
  Result<void> setReservedConcurrency(const std::string& name,
                                      std::optional<int> reserved) override;
  Result<std::map<std::string, int>> reservedConcurrencies() override;
  Result<std::vector<std::string>> referencedCodeDigests() override;

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

  Result<void> appendInvocationRecords(
      const std::vector<model::InvocationRecord>& records) override {
    return inner_->appendInvocationRecords(records);
  }
  Result<RecordPage> queryInvocationRecords(const RecordQuery& query) override {
    return inner_->queryInvocationRecords(query);
  }
  Result<int64_t> pruneInvocationRecords(int64_t older_than_ms, int64_t keep_max) override {
    return inner_->pruneInvocationRecords(older_than_ms, keep_max);
  }
  Result<void> appendLogChunks(const std::vector<model::LogChunk>& chunks) override {
    return inner_->appendLogChunks(chunks);
  }
  Result<std::vector<model::LogLine>> queryLogLines(const LogQuery& query) override {
    return inner_->queryLogLines(query);
  }
  Result<int64_t> pruneLogLines(int64_t older_than_ms, int64_t max_bytes) override {
    return inner_->pruneLogLines(older_than_ms, max_bytes);
  }
  Result<void> scanInvocationRecords(
      const std::string& function_name, int64_t since_ms, int64_t until_ms,
      const std::function<void(const model::InvocationRecord&)>& visit) override {
    return inner_->scanInvocationRecords(function_name, since_ms, until_ms, visit);
  }
  Result<int64_t> countDeadEvents(const std::string& function_name, int64_t since_ms,
                                  int64_t until_ms) override {
    return inner_->countDeadEvents(function_name, since_ms, until_ms);
  }
  Result<std::vector<AsyncQueueStat>> asyncQueueStats() override {
    return inner_->asyncQueueStats();
  }

 private:
  void forget(const std::string& name);

  std::unique_ptr<Store> inner_;
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, model::FunctionConfig> versions_;
};

}  // namespace nimbus::store
