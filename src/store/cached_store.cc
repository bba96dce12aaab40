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

}  // namespace nimbus::store
