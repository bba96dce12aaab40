// RetryPolicy with a scripted random source and explicit times: backoff bounds, jitter
// range, attempts and maximum age.
#include "queue/retry_policy.h"

#include <gtest/gtest.h>

namespace nimbus::queue {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

RetryPolicy policyWith(double* r, RetryOptions options = {1000, 8000, 400}) {
  return RetryPolicy(options, [r] { return *r; });
}

store::AsyncEvent eventWith(int attempts, int64_t received_ms = kT0) {
  store::AsyncEvent e;
  e.request_id = "id";
  e.attempts = attempts;
  e.received_ms = received_ms;
  return e;
}

TEST(RetryPolicyTest, BackoffDoublesUpToTheCap) {
  double r = 0.999999;  // top of the jitter range: the ceiling itself
  RetryPolicy p = policyWith(&r);
  EXPECT_EQ(p.backoffMs(1), 1000);
  EXPECT_EQ(p.backoffMs(2), 2000);
  EXPECT_EQ(p.backoffMs(3), 4000);
  EXPECT_EQ(p.backoffMs(4), 8000);
  EXPECT_EQ(p.backoffMs(5), 8000);
  EXPECT_EQ(p.backoffMs(1000), 8000);  // no overflow far past the cap
}

TEST(RetryPolicyTest, FullJitterSpansZeroToCeiling) {
  double r = 0.0;
  RetryPolicy p = policyWith(&r);
  EXPECT_EQ(p.backoffMs(3), 0);
  r = 0.5;
  EXPECT_NEAR(p.backoffMs(3), 2000, 1);
  RetryPolicy real({1000, 8000, 400}, systemRandom());
  for (int i = 0; i < 1000; ++i) {
    int64_t b = real.backoffMs(2);
    ASSERT_GE(b, 0);
    ASSERT_LE(b, 2000);
  }
}

TEST(RetryPolicyTest, RetriesUntilAttemptsAreSpent) {
  double r = 0.5;
  RetryPolicy p = policyWith(&r);
  store::EventInvokeConfig config;  // 2 retries: 3 runs in all
  RetryDecision first = p.afterFailure(eventWith(1), config, kT0);
  EXPECT_TRUE(first.retry);
  EXPECT_GE(first.next_attempt_ms, kT0);
  EXPECT_LE(first.next_attempt_ms, kT0 + 1000);
  EXPECT_TRUE(p.afterFailure(eventWith(2), config, kT0).retry);
  RetryDecision third = p.afterFailure(eventWith(3), config, kT0);
  EXPECT_FALSE(third.retry);
  EXPECT_EQ(third.condition, "RetriesExhausted");

  config.maximum_retry_attempts = 0;
  EXPECT_FALSE(p.afterFailure(eventWith(1), config, kT0).retry);
}

TEST(RetryPolicyTest, MaximumAgeEndsRetries) {
  double r = 0.999999;
  RetryPolicy p = policyWith(&r);
  store::EventInvokeConfig config;
  config.maximum_event_age_seconds = 60;
  // The retry would start after the event is 60 s old: give up now.
  RetryDecision d = p.afterFailure(eventWith(1, kT0), config, kT0 + 59'500);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.condition, "EventAgeExceeded");
  EXPECT_TRUE(p.expired(eventWith(0, kT0), config, kT0 + 60'001));
  EXPECT_FALSE(p.expired(eventWith(0, kT0), config, kT0 + 60'000));
}

TEST(RetryPolicyTest, ThrottleSpendsNoAttemptAndWaitsTheUpperHalf) {
  double r = 0.0;
  RetryPolicy p = policyWith(&r);
  store::EventInvokeConfig config;
  config.maximum_retry_attempts = 0;  // attempts do not matter for throttles
  RetryDecision low = p.afterThrottle(eventWith(5), config, kT0);
  EXPECT_TRUE(low.retry);
  EXPECT_EQ(low.next_attempt_ms, kT0 + 200);
  r = 0.999999;
  EXPECT_EQ(p.afterThrottle(eventWith(5), config, kT0).next_attempt_ms, kT0 + 400);
  config.maximum_event_age_seconds = 60;
  RetryDecision old = p.afterThrottle(eventWith(0, kT0), config, kT0 + 59'900);
  EXPECT_FALSE(old.retry);
  EXPECT_EQ(old.condition, "EventAgeExceeded");
}

}  // namespace
}  // namespace nimbus::queue
