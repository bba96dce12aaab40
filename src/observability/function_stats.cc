// Function health summary arithmetic.
#include "observability/function_stats.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nimbus::observability {

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, double(values.size()))) - 1;
  return values[index];
}

int64_t maxOverlap(std::vector<std::pair<int64_t, int64_t>> intervals) {
  std::vector<std::pair<int64_t, int>> edges;
  edges.reserve(intervals.size() * 2);
  for (const auto& [start, end] : intervals) {
    edges.emplace_back(start, +1);
    edges.emplace_back(std::max(start, end), -1);
  }
  // At equal times ends (-1) sort before starts (+1).
  std::sort(edges.begin(), edges.end());
  int64_t now = 0, best = 0;
  for (const auto& e : edges) {
    now += e.second;
    best = std::max(best, now);
  }
  return best;
}

std::optional<int64_t> parseWindow(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 86400 * 1000;
      break;
    default:
      return std::nullopt;
  }
  int64_t n = 0;
  std::string_view digits = text.substr(0, text.size() - 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size() || n <= 0) return std::nullopt;
  if (n > kMaxStatsWindowMs / unit + 1) return std::nullopt;
  return n * unit;
}

void StatsAccumulator::add(const model::InvocationRecord& r) {
  if (r.start_ms < since_ms_ || r.start_ms >= until_ms_) return;
  if (r.outcome == model::kOutcomeThrottled) {
    ++s_.throttles;
    return;
  }
  ++s_.invocations;
  if (r.outcome == model::kOutcomeSuccess) {
    ++s_.successes;
  } else if (r.outcome == model::kOutcomeTimeout) {
    ++s_.timeouts;
  } else if (r.outcome == model::kOutcomeOutOfMemory) {
    ++s_.out_of_memory;
  } else if (r.outcome == model::kOutcomePlatformError) {
    ++s_.platform_errors;
  } else {
    ++s_.function_errors;
  }
  if (r.outcome != model::kOutcomePlatformError) durations_.push_back(r.duration_ms);
  if (r.cold_start) {
    ++s_.cold_starts;
    if (r.init_ms > 0) {
      init_total_ms_ += r.init_ms;
      ++init_count_;
    }
  }
  // Busy from when nimbus took it through init and the run.
  const auto busy_ms = static_cast<int64_t>(std::ceil(r.init_ms + r.duration_ms));
  intervals_.emplace_back(r.start_ms, r.start_ms + std::max<int64_t>(busy_ms, 1));
  billed_ms_total_ += r.billed_ms;
  s_.gb_seconds +=
      static_cast<double>(r.billed_ms) / 1000.0 * static_cast<double>(r.memory_size_mb) / 1024.0;
}

FunctionStats StatsAccumulator::finish(int64_t dlq_additions, const StatsPrices& prices) {
  FunctionStats s = s_;
  s.since_ms = since_ms_;
  s.until_ms = until_ms_;
  s.errors = s.function_errors + s.timeouts + s.out_of_memory + s.platform_errors;
  auto rate = [](int64_t part, int64_t whole) {
    return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
  };
  s.success_rate = rate(s.successes, s.invocations);
  s.error_rate = rate(s.errors, s.invocations);
  s.timeout_rate = rate(s.timeouts, s.invocations);
  s.throttle_rate = rate(s.throttles, s.invocations + s.throttles);
  s.cold_start_rate = rate(s.cold_starts, s.invocations);
  s.avg_init_ms = init_count_ > 0 ? init_total_ms_ / static_cast<double>(init_count_) : 0;
  if (!durations_.empty()) {
    double total = 0;
    for (double d : durations_) total += d;
    s.avg_ms = total / static_cast<double>(durations_.size());
    s.p50_ms = percentile(durations_, 50);
    s.p95_ms = percentile(durations_, 95);
    s.p99_ms = percentile(durations_, 99);
    s.max_ms = durations_.back();  // sorted by percentile()
  }
  s.max_concurrency = maxOverlap(intervals_);
  s.dlq_additions = dlq_additions;
  s.cost_compute = s.gb_seconds * prices.per_gb_second;
  s.cost_requests = static_cast<double>(s.invocations) * prices.per_request;
  s.cost_total = s.cost_compute + s.cost_requests;
  return s;
}

}  // namespace nimbus::observability
