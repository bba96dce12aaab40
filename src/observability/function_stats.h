// A function's health summary over a time window, computed from its invocation records
// (reference guide M1–M12 that apply to one host): invocations, success and error
// rates, timeouts, throttles, P50/P95/P99 duration, cold-start rate, average init,
// maximum concurrency (a sweep over the records' run intervals), DLQ additions,
// GB-seconds and cost. Pure computation: the store streams records in, the API shapes
// the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/invocation_record.h"

namespace nimbus::observability {

// Lambda's x86 prices (us-east-1).
struct StatsPrices {
  double per_gb_second = 0.0000166667;
  double per_request = 0.0000002;
};

struct FunctionStats {
  int64_t since_ms = 0;
  int64_t until_ms = 0;
  // Attempts that reached the function (throttled ones are not invocations, as in
  // Lambda's Invocations metric; each async retry is one).
  int64_t invocations = 0;
  int64_t successes = 0;
  int64_t errors = 0;  // function errors, timeouts, out of memory, platform errors
  int64_t function_errors = 0;
  int64_t timeouts = 0;
  int64_t out_of_memory = 0;
  int64_t platform_errors = 0;
  int64_t throttles = 0;
  double success_rate = 0;   // successes / invocations
  double error_rate = 0;     // errors / invocations
  double timeout_rate = 0;   // timeouts / invocations
  double throttle_rate = 0;  // throttles / (invocations + throttles)
  double p50_ms = 0, p95_ms = 0, p99_ms = 0, max_ms = 0, avg_ms = 0;
  int64_t cold_starts = 0;
  double cold_start_rate = 0;
  double avg_init_ms = 0;  // over cold starts that reported an init duration
  int64_t max_concurrency = 0;
  int64_t dlq_additions = 0;
  double gb_seconds = 0;  // billed duration × memory
  double cost_compute = 0, cost_requests = 0, cost_total = 0;
};

// Nearest-rank percentile (p in (0,100]) of `values`, which it sorts; 0 when empty.
double percentile(std::vector<double>& values, double p);
// Highest number of overlapping [start, end) intervals; an interval ending where another
// starts does not overlap it.
int64_t maxOverlap(std::vector<std::pair<int64_t, int64_t>> intervals);

// "90s", "15m", "1h", "7d" → milliseconds; nullopt when malformed or not positive.
std::optional<int64_t> parseWindow(std::string_view text);
inline constexpr int64_t kDefaultStatsWindowMs = 3600 * 1000;
inline constexpr int64_t kMaxStatsWindowMs = 30LL * 86400 * 1000;

class StatsAccumulator {
 public:
  StatsAccumulator(int64_t since_ms, int64_t until_ms) : since_ms_(since_ms), until_ms_(until_ms) {}
  void add(const model::InvocationRecord& r);
  FunctionStats finish(int64_t dlq_additions, const StatsPrices& prices);

 private:
  int64_t since_ms_, until_ms_;
  FunctionStats s_;
  std::vector<double> durations_;
  std::vector<std::pair<int64_t, int64_t>> intervals_;
  double init_total_ms_ = 0;
  int64_t init_count_ = 0;
  int64_t billed_ms_total_ = 0;
};

}  // namespace nimbus::observability
