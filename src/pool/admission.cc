// Reserved and shared concurrency accounting.
#include "pool/admission.h"

namespace nimbus::pool {

int Admission::totalReservedLocked() const {
  int total = 0;
  for (const auto& [name, n] : reserved_) total += n;
  return total;
}

int Admission::unreservedProvisionedLocked(const std::string& except) const {
  int total = 0;
  for (const auto& [name, n] : provisioned_) {
    if (name != except && !reserved_.count(name)) total += n;
  }
  return total;
}

Result<void> Admission::setReservation(const std::string& function, std::optional<int> reserved) {
  std::lock_guard lock(mutex_);
  auto prov = provisioned_.find(function);
  const int provisioned = prov == provisioned_.end() ? 0 : prov->second;
  if (!reserved) {
    // Its provisioned concurrency moves to the unreserved pool, which must hold it.
    auto it = reserved_.find(function);
    if (it != reserved_.end() && provisioned > 0) {
      int others = totalReservedLocked() - it->second;
      if (host_limit_ - others - unreservedProvisionedLocked(function) - provisioned <
          unreservedMinimum()) {
        return makeError(ErrorCode::kInvalidParameter,
                         "Removing the reservation would leave the account's "
                         "UnreservedConcurrentExecution below its minimum value of [" +
                             std::to_string(unreservedMinimum()) + "].");
      }
    }
    reserved_.erase(function);
    return {};
  }
  if (*reserved < 0) {
    return makeError(ErrorCode::kInvalidParameter,
                     "ReservedConcurrentExecutions must be at least 0");
  }
  if (*reserved < provisioned) {
    return makeError(ErrorCode::kInvalidParameter,
                     "Specified ConcurrentExecutions for function is less than function's "
                     "provisioned concurrency of [" +
                         std::to_string(provisioned) + "].");
  }
  auto it = reserved_.find(function);
  int others = totalReservedLocked() - (it == reserved_.end() ? 0 : it->second);
  if (host_limit_ - others - unreservedProvisionedLocked(function) - *reserved <
      unreservedMinimum()) {
    return makeError(ErrorCode::kInvalidParameter,
                     "Specified ReservedConcurrentExecutions for function decreases account's "
                     "UnreservedConcurrentExecution below its minimum value of [" +
                         std::to_string(unreservedMinimum()) + "].");
  }
  reserved_[function] = *reserved;
  return {};
}

std::optional<int> Admission::reservation(const std::string& function) const {
  std::lock_guard lock(mutex_);
  auto it = reserved_.find(function);
  if (it == reserved_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, int> Admission::reservations() const {
  std::lock_guard lock(mutex_);
  return reserved_;
}

Result<void> Admission::setProvisioned(const std::string& function, int total) {
  std::lock_guard lock(mutex_);
  if (total <= 0) {
    provisioned_.erase(function);
    return {};
  }
  auto res = reserved_.find(function);
  if (res != reserved_.end()) {
    if (total > res->second) {
      return makeError(ErrorCode::kInvalidParameter,
                       "Requested Provisioned Concurrency should not be greater than the "
                       "reservedConcurrentExecution for function (" +
                           std::to_string(res->second) + ").");
    }
  } else if (host_limit_ - totalReservedLocked() - unreservedProvisionedLocked(function) - total <
             unreservedMinimum()) {
    return makeError(ErrorCode::kInvalidParameter,
                     "Specified ConcurrentExecutions for function decreases account's "
                     "UnreservedConcurrentExecution below its minimum value of [" +
                         std::to_string(unreservedMinimum()) + "].");
  }
  provisioned_[function] = total;
  return {};
}

int Admission::provisioned(const std::string& function) const {
  std::lock_guard lock(mutex_);
  auto it = provisioned_.find(function);
  return it == provisioned_.end() ? 0 : it->second;
}

void Admission::forget(const std::string& function) {
  std::lock_guard lock(mutex_);
  reserved_.erase(function);
  provisioned_.erase(function);
}

Result<Admission::Slot> Admission::admit(const std::string& function) {
  std::lock_guard lock(mutex_);
  auto it = reserved_.find(function);
  if (it != reserved_.end()) {
    int& running = running_[function];
    if (running >= it->second) {
      Error e = makeError(ErrorCode::kTooManyRequests, "Rate Exceeded.");
      e.reason = "ReservedFunctionConcurrentInvocationLimitExceeded";
      return e;
    }
    ++running;
    return Slot{function, false};
  }
  if (unreserved_running_ >= host_limit_ - totalReservedLocked()) {
    Error e = makeError(ErrorCode::kTooManyRequests, "Rate Exceeded.");
    e.reason = "ConcurrentInvocationLimitExceeded";
    return e;
  }
  ++unreserved_running_;
  ++running_[function];
  return Slot{function, true};
}

void Admission::release(const Slot& slot) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(slot.function);
  if (it != running_.end() && --it->second <= 0) running_.erase(it);
  if (slot.shared) --unreserved_running_;
}

int Admission::running(const std::string& function) const {
  std::lock_guard lock(mutex_);
  auto it = running_.find(function);
  return it == running_.end() ? 0 : it->second;
}

}  // namespace nimbus::pool
