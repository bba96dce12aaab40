// Backoff arithmetic and the give-up rules of RetryPolicy.
#include "queue/retry_policy.h"

#include <algorithm>
#include <random>

namespace nimbus::queue {

UniformRandom systemRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mutex = std::make_shared<std::mutex>();
  return [engine, mutex] {
    std::lock_guard lock(*mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
}

int64_t RetryPolicy::backoffMs(int failures) const {
  // Shift at most 30 places: beyond that the cap has long been reached, and a larger
  // shift would overflow.
  int shift = std::clamp(failures - 1, 0, 30);
  int64_t ceiling = std::min(options_.cap_ms, options_.base_ms << shift);
  return static_cast<int64_t>(random_() * static_cast<double>(ceiling + 1));
}

bool RetryPolicy::expired(const store::AsyncEvent& event, const store::EventInvokeConfig& config,
                          int64_t now_ms) const {
  return now_ms - event.received_ms > int64_t{config.maximum_event_age_seconds} * 1000;
}

RetryDecision RetryPolicy::afterFailure(const store::AsyncEvent& event,
                                        const store::EventInvokeConfig& config,
                                        int64_t now_ms) const {
  if (event.attempts > config.maximum_retry_attempts) return {false, 0, "RetriesExhausted"};
  int64_t next = now_ms + backoffMs(event.attempts);
  // A retry that could only start after the maximum age would be dropped then anyway;
  // give up now so the failure destination hears of it without the wait.
  if (next - event.received_ms > int64_t{config.maximum_event_age_seconds} * 1000) {
    return {false, 0, "EventAgeExceeded"};
  }
  return {true, next, ""};
}

RetryDecision RetryPolicy::afterThrottle(const store::AsyncEvent& event,
                                         const store::EventInvokeConfig& config,
                                         int64_t now_ms) const {
  int64_t half = options_.throttle_delay_ms / 2;
  int64_t next = now_ms + half + static_cast<int64_t>(random_() * static_cast<double>(half + 1));
  if (next - event.received_ms > int64_t{config.maximum_event_age_seconds} * 1000) {
    return {false, 0, "EventAgeExceeded"};
  }
  return {true, next, ""};
}

}  // namespace nimbus::queue
