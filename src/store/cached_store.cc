// Read-through cache of function versions; writes invalidate before they return.
#include "store/cached_store.h"

namespace nimbus::store {

void CachedStore::forget(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = versions_.lower_bound({name, ""});
  while (it != versions_.end() && it->first.first == name) it = versions_.erase(it);
}

Result<void> CachedStore::createFunction(const model::FunctionConfig& config) {
  forget(config.name);
  return inner_->createFunction(config);
}

Result<model::FunctionConfig> CachedStore::getFunction(const std::string& name,
                                                       const std::string& version) {
  {
    std::lock_guard lock(mutex_);
    auto it = versions_.find({name, version});
    if (it != versions_.end()) return it->second;
  }
  auto config = inner_->getFunction(name, version);
  if (config) {
    std::lock_guard lock(mutex_);
    versions_[{name, version}] = *config;
  }
  return config;
}

Result<void> CachedStore::updateFunction(const model::FunctionConfig& config) {
  // Forget before and after: a reader that raced the write must not leave the old row.
  forget(config.name);
  auto r = inner_->updateFunction(config);
  forget(config.name);
  return r;
}

Result<void> CachedStore::deleteFunction(const std::string& name) {
  forget(name);
  auto r = inner_->deleteFunction(name);
  forget(name);
  return r;
}

Result<FunctionPage> CachedStore::listFunctions(const std::optional<std::string>& marker,
                                                int max_items) {
  return inner_->listFunctions(marker, max_items);
}

Result<std::optional<int>> CachedStore::getReservedConcurrency(const std::string& name) {
  return inner_->getReservedConcurrency(name);
}

Result<void> CachedStore::setReservedConcurrency(const std::string& name,
                                                 std::optional<int> reserved) {
  return inner_->setReservedConcurrency(name, reserved);
}

Result<std::map<std::string, int>> CachedStore::reservedConcurrencies() {
  return inner_->reservedConcurrencies();
}

Result<std::vector<std::string>> CachedStore::referencedCodeDigests() {
  return inner_->referencedCodeDigests();
}

// The queue and event invoke configs are not cached: the dispatcher is their one
// frequent reader, and a stale retry policy is worse than one SQLite read.
Result<std::vector<std::string>> CachedStore::enqueueEvents(const std::vector<AsyncEvent>& events) {
  return inner_->enqueueEvents(events);
}

Result<std::vector<AsyncEvent>> CachedStore::claimDueEvents(int64_t now_ms, int limit) {
  return inner_->claimDueEvents(now_ms, limit);
}

Result<void> CachedStore::requeueEvent(const std::string& request_id, int attempts,
                                       int64_t next_attempt_ms, const std::string& last_error) {
  return inner_->requeueEvent(request_id, attempts, next_attempt_ms, last_error);
}

Result<void> CachedStore::finishEvent(const std::string& request_id, int attempts,
                                      const std::string& status, const std::string& last_error) {
  return inner_->finishEvent(request_id, attempts, status, last_error);
}

Result<int> CachedStore::requeueRunningEvents(int64_t now_ms) {
  return inner_->requeueRunningEvents(now_ms);
}

Result<std::map<std::string, int>> CachedStore::countEvents(const std::string& function_name) {
  return inner_->countEvents(function_name);
}

Result<void> CachedStore::putEventInvokeConfig(const EventInvokeConfig& config) {
  return inner_->putEventInvokeConfig(config);
}

Result<EventInvokeConfig> CachedStore::getEventInvokeConfig(const std::string& function_name,
                                                            const std::string& qualifier) {
  return inner_->getEventInvokeConfig(function_name, qualifier);
}

Result<void> CachedStore::deleteEventInvokeConfig(const std::string& function_name,
                                                  const std::string& qualifier) {
  return inner_->deleteEventInvokeConfig(function_name, qualifier);
}

Result<std::vector<EventInvokeConfig>> CachedStore::listEventInvokeConfigs(
    const std::string& function_name) {
  return inner_->listEventInvokeConfigs(function_name);
}

// Provisioned concurrency configs are read at start and by the control plane only.
Result<void> CachedStore::putProvisionedConcurrency(const ProvisionedConcurrencyConfig& config) {
  return inner_->putProvisionedConcurrency(config);
}

Result<void> CachedStore::deleteProvisionedConcurrency(const std::string& function_name,
                                                       const std::string& qualifier) {
  return inner_->deleteProvisionedConcurrency(function_name, qualifier);
}

Result<std::vector<ProvisionedConcurrencyConfig>> CachedStore::listProvisionedConcurrency(
    const std::string& function_name) {
  return inner_->listProvisionedConcurrency(function_name);
}

}  // namespace nimbus::store
