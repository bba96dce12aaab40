// Tests of the health summary arithmetic: percentiles, the concurrency sweep, windows,
// rates and cost.
#include "observability/function_stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nimbus::observability {
namespace {

TEST(FunctionStatsTest, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 50);
  EXPECT_EQ(percentile(v, 95), 95);
  EXPECT_EQ(percentile(v, 99), 99);
  EXPECT_EQ(percentile(v, 100), 100);
  std::vector<double> one{7};
  EXPECT_EQ(percentile(one, 99), 7);
  std::vector<double> none;
  EXPECT_EQ(percentile(none, 50), 0);
  std::vector<double> two{1, 1000};
  EXPECT_EQ(percentile(two, 50), 1);
  EXPECT_EQ(percentile(two, 95), 1000);
}

TEST(FunctionStatsTest, MaxOverlapSweep) {
  EXPECT_EQ(maxOverlap({}), 0);
  EXPECT_EQ(maxOverlap({{0, 10}}), 1);
  // Touching intervals do not overlap.
  EXPECT_EQ(maxOverlap({{0, 10}, {10, 20}, {20, 30}}), 1);
  EXPECT_EQ(maxOverlap({{0, 10}, {5, 15}, {9, 12}, {11, 30}}), 3);
  EXPECT_EQ(maxOverlap({{100, 200}, {0, 1000}, {150, 160}, {300, 400}}), 3);
}

TEST(FunctionStatsTest, ParsesWindows) {
  EXPECT_EQ(parseWindow("90s"), 90000);
  EXPECT_EQ(parseWindow("15m"), 900000);
  EXPECT_EQ(parseWindow("1h"), 3600000);
  EXPECT_EQ(parseWindow("30d"), kMaxStatsWindowMs);
  EXPECT_FALSE(parseWindow(""));
  EXPECT_FALSE(parseWindow("h"));
  EXPECT_FALSE(parseWindow("0m"));
  EXPECT_FALSE(parseWindow("-1h"));
  EXPECT_FALSE(parseWindow("1w"));
  EXPECT_FALSE(parseWindow("1.5h"));
  EXPECT_FALSE(parseWindow("99999999999999d"));
}

model::InvocationRecord rec(int64_t start, double duration, const char* outcome, bool cold = false,
                            double init = 0) {
  model::InvocationRecord r;
  r.start_ms = start;
  r.duration_ms = duration;
  r.billed_ms = static_cast<int64_t>(std::ceil(duration));
  r.memory_size_mb = 1024;
  r.outcome = outcome;
  r.cold_start = cold;
  r.init_ms = init;
  return r;
}

TEST(FunctionStatsTest, SummarisesAMix) {
  StatsAccumulator acc(1000, 100000);
  acc.add(rec(1000, 100, model::kOutcomeSuccess, true, 50));  // busy 1000..1150
  acc.add(rec(1100, 1000, model::kOutcomeSuccess));           // 1100..2100
  acc.add(rec(1120, 10, model::kOutcomeFunctionError));       // 1120..1130: 3 at once
  acc.add(rec(5000, 3000, model::kOutcomeTimeout));
  acc.add(rec(6000, 0, model::kOutcomeThrottled));
  acc.add(rec(500, 100, model::kOutcomeSuccess));     // before the window
  acc.add(rec(100000, 100, model::kOutcomeSuccess));  // at its end: outside
  StatsPrices prices{0.0000166667, 0.0000002};
  FunctionStats s = acc.finish(2, prices);
  EXPECT_EQ(s.invocations, 4);
  EXPECT_EQ(s.successes, 2);
  EXPECT_EQ(s.function_errors, 1);
  EXPECT_EQ(s.timeouts, 1);
  EXPECT_EQ(s.errors, 2);
  EXPECT_EQ(s.throttles, 1);
  EXPECT_DOUBLE_EQ(s.success_rate, 0.5);
  EXPECT_DOUBLE_EQ(s.throttle_rate, 0.2);
  EXPECT_DOUBLE_EQ(s.timeout_rate, 0.25);
  EXPECT_EQ(s.p50_ms, 100);
  EXPECT_EQ(s.p99_ms, 3000);
  EXPECT_EQ(s.max_ms, 3000);
  EXPECT_EQ(s.cold_starts, 1);
  EXPECT_DOUBLE_EQ(s.cold_start_rate, 0.25);
  EXPECT_DOUBLE_EQ(s.avg_init_ms, 50);
  EXPECT_EQ(s.max_concurrency, 3);
  EXPECT_EQ(s.dlq_additions, 2);
  // (100 + 1000 + 10 + 3000) ms at 1 GB
  EXPECT_NEAR(s.gb_seconds, 4.11, 1e-9);
  EXPECT_NEAR(s.cost_total, 4.11 * 0.0000166667 + 4 * 0.0000002, 1e-12);
}

TEST(FunctionStatsTest, EmptyWindowIsAllZero) {
  StatsAccumulator acc(0, 10);
  FunctionStats s = acc.finish(0, StatsPrices{});
  EXPECT_EQ(s.invocations, 0);
  EXPECT_EQ(s.success_rate, 0);
  EXPECT_EQ(s.max_concurrency, 0);
  EXPECT_EQ(s.cost_total, 0);
}

}  // namespace
}  // namespace nimbus::observability
