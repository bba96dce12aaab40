// Concurrency admission, as Lambda has it: a function with reserved concurrency N runs
// at most N invocations at once (0 disables it); functions without a reservation share
// what the host-wide limit leaves after every reservation. Provisioned concurrency comes
// out of the function's reservation, or else out of the unreserved pool. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "base/error.h"

namespace nimbus::pool {

class Admission {
 public:
  explicit Admission(int host_limit) : host_limit_(host_limit) {}

  // Sets or clears a function's reservation. kInvalidParameter when it would leave the
  // unreserved pool below its minimum (a tenth of the host limit, as Lambda keeps 100 of
  // 1000 unreserved).
  Result<void> setReservation(const std::string& function, std::optional<int> reserved);
  std::optional<int> reservation(const std::string& function) const;
  // Every reservation, for the pool's memory accounting.
  std::map<std::string, int> reservations() const;
  // Sets the provisioned concurrency of a function (all its versions together; 0 for
  // none). It counts against the reservation when there is one (kInvalidParameter if
  // above it), else against the unreserved pool, which must keep its minimum.
  Result<void> setProvisioned(const std::string& function, int total);
  int provisioned(const std::string& function) const;
  void forget(const std::string& function);  // the function was deleted

  // A slot taken by admit(); give it back with release().
  struct Slot {
    std::string function;
    bool shared = false;  // from the unreserved pool
  };
  // Takes one slot for `function`, or kTooManyRequests with Lambda's Reason.
  Result<Slot> admit(const std::string& function);
  void release(const Slot& slot);

  int hostLimit() const { return host_limit_; }
  int unreservedMinimum() const { return host_limit_ / 10; }
  int running(const std::string& function) const;

 private:
  int totalReservedLocked() const;
  int unreservedProvisionedLocked(const std::string& except) const;

  const int host_limit_;
  mutable std::mutex mutex_;
  std::map<std::string, int> reserved_;
  std::map<std::string, int> running_;
  std::map<std::string, int> provisioned_;
  int unreserved_running_ = 0;
};

}  // namespace nimbus::pool
