// When a failed or throttled async event runs again, and when it is given up: Lambda's
// retry rules with exponential backoff and full jitter. Pure: randomness is injected.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/store.h"

namespace nimbus::queue {

struct RetryOptions {
  // Lambda waits about a minute before the first retry and two before the second.
  int64_t base_ms = 60000;
  int64_t cap_ms = 300000;
  // A throttled event waits this long (jittered over its upper half) and tries again
  // without spending an attempt.
  int64_t throttle_delay_ms = 1000;
};

// Uniform in [0, 1).
using UniformRandom = std::function<double()>;
UniformRandom systemRandom();

struct RetryDecision {
  bool retry = false;
  int64_t next_attempt_ms = 0;  // when retry
  std::string condition;        // when not: RetriesExhausted | EventAgeExceeded
};

class RetryPolicy {
 public:
  RetryPolicy(RetryOptions options, UniformRandom random)
      : options_(options), random_(std::move(random)) {}

  // Full jitter (uniform in [0, min(cap, base * 2^(failures-1))]): retries of many
  // events that failed together spread out instead of hitting the function in waves.
  int64_t backoffMs(int failures) const;
  // After a run that failed; event.attempts already counts it.
  RetryDecision afterFailure(const store::AsyncEvent& event, const store::EventInvokeConfig& config,
                             int64_t now_ms) const;
  // After a throttle (or the pool shutting down): the attempt was not spent, so only
  // the event's age can end it.
  RetryDecision afterThrottle(const store::AsyncEvent& event,
                              const store::EventInvokeConfig& config, int64_t now_ms) const;
  bool expired(const store::AsyncEvent& event, const store::EventInvokeConfig& config,
               int64_t now_ms) const;

 private:
  RetryOptions options_;
  UniformRandom random_;
};

}  // namespace nimbus::queue
