// The pool's pure decisions, kept apart from processes and locks so that they can be
// tested alone: how long an idle instance may live, and how much of the memory budget
// other functions' reserved concurrency holds back.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "model/function_config.h"

namespace nimbus::pool::policy {

// The function's own keep-alive when it has one (keep_alive_s > 0), else the host's.
int64_t keepAliveMs(const model::FunctionConfig& config, std::chrono::seconds host_default);

// What one function with reserved concurrency uses of it.
struct ReservationUse {
  int reserved = 0;   // reserved concurrency
  int live = 0;       // its live instances (and starts under way), any version
  int memory_mb = 0;  // its MemorySize; 0 when not known yet
};

// Memory that functions other than `except` still need to run their reserved
// concurrency: the sum of (reserved - live) x MemorySize over their unused slots. A new
// instance of `except` must leave it free, so a burst cannot starve a reservation.
int64_t heldForReservations(const std::map<std::string, ReservationUse>& uses,
                            const std::string& except);

// Whether reaping an idle instance of a function frees memory for `except`: not when
// the instance is within its function's reservation, since the memory would only move
// into that function's held-back share.
bool reapFreesMemory(const std::map<std::string, ReservationUse>& uses, const std::string& function,
                     const std::string& except);

}  // namespace nimbus::pool::policy
