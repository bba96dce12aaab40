// Keep-alive and reservation-aware memory accounting.
#include "pool/policy.h"

#include <algorithm>

namespace nimbus::pool::policy {

int64_t keepAliveMs(const model::FunctionConfig& config, std::chrono::seconds host_default) {
  if (config.keep_alive_s > 0) return int64_t{config.keep_alive_s} * 1000;
  return std::chrono::duration_cast<std::chrono::milliseconds>(host_default).count();
}

int64_t heldForReservations(const std::map<std::string, ReservationUse>& uses,
                            const std::string& except) {
  int64_t held = 0;
  for (const auto& [name, use] : uses) {
    if (name == except) continue;
    held += int64_t{std::max(0, use.reserved - use.live)} * use.memory_mb;
  }
  return held;
}

bool reapFreesMemory(const std::map<std::string, ReservationUse>& uses, const std::string& function,
                     const std::string& except) {
  if (function == except) return true;
  auto it = uses.find(function);
  if (it == uses.end()) return true;  // no reservation
  return it->second.live > it->second.reserved;
}

}  // namespace nimbus::pool::policy
