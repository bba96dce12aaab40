// nimbus's own metric families (README "Metrics"): invocations by outcome, durations,
// cold starts, throttles, retries, concurrency, memory and billed GB-seconds per
// function and version; instances, the async queue and the process at scrape time.
// Each (function, version) keeps its series in one FunctionSeries found with one
// shared-lock lookup, so an invocation costs a handful of relaxed atomic adds.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "model/invocation_record.h"
#include "observability/metrics.h"
#include "store/store.h"

namespace nimbus::observability {

// Figures read when Prometheus scrapes; any may be left empty.
struct ScrapeSources {
  std::function<size_t()> idle_instances;
  std::function<size_t()> busy_instances;
  // Initialised provisioned-concurrency instances per function.
  std::function<std::map<std::string, size_t>()> provisioned_instances;
  std::function<Result<std::vector<store::AsyncQueueStat>>()> async_queue;
  std::function<int64_t()> now_ms;
  std::filesystem::path proc_root = "/proc";
};

class InvocationMetrics {
 public:
  InvocationMetrics();

  // An invocation of (function, version) began / ended: concurrency gauge.
  void started(const std::string& function, const std::string& version);
  void finished(const model::InvocationRecord& record);
  void httpRequest(int status);
  // Drops every series of a deleted function.
  void forget(const std::string& function);
  void setSources(ScrapeSources sources);
  // Counters of the observability pipeline itself.
  Counter& recordsDropped() { return *records_dropped_; }
  Counter& logLinesDropped() { return *log_lines_dropped_; }
  Counter& logLinesTruncated() { return *log_lines_truncated_; }
  // Spans lost because the export queue was full or the collector did not take them.
  std::shared_ptr<Counter> traceSpansDropped() { return trace_spans_dropped_; }

  std::string render() const { return registry_.render(); }
  Registry& registry() { return registry_; }

  // Bucket upper bounds, in seconds.
  static const std::vector<double>& durationBuckets();
  static const std::vector<double>& initBuckets();

 private:
  struct FunctionSeries;
  std::shared_ptr<FunctionSeries> seriesFor(const std::string& function,
                                            const std::string& version);
  void collect();

  Registry registry_;
  std::shared_ptr<Family<Counter>> invocations_;
  std::shared_ptr<Family<Histogram>> duration_;
  std::shared_ptr<Family<Histogram>> init_duration_;
  std::shared_ptr<Family<Counter>> cold_starts_;
  std::shared_ptr<Family<Counter>> throttles_;
  std::shared_ptr<Family<Counter>> async_retries_;
  std::shared_ptr<Family<Gauge>> concurrent_;
  std::shared_ptr<Family<Gauge>> max_memory_;
  std::shared_ptr<Family<Counter>> billed_gb_seconds_;
  std::shared_ptr<Family<Gauge>> instances_;
  std::shared_ptr<Family<Gauge>> provisioned_;
  std::shared_ptr<Family<Gauge>> queue_depth_;
  std::shared_ptr<Family<Gauge>> queue_oldest_age_;
  std::shared_ptr<Family<Gauge>> dlq_depth_;
  std::shared_ptr<Family<Counter>> http_requests_;
  std::shared_ptr<Family<Counter>> records_dropped_family_;
  std::shared_ptr<Counter> records_dropped_;
  std::shared_ptr<Counter> log_lines_dropped_;
  std::shared_ptr<Counter> log_lines_truncated_;
  std::shared_ptr<Counter> trace_spans_dropped_;
  std::shared_ptr<Family<Counter>> process_cpu_;
  std::shared_ptr<Family<Gauge>> process_rss_;
  std::shared_ptr<Family<Gauge>> process_fds_;
  std::shared_ptr<Family<Gauge>> process_start_;

  mutable std::shared_mutex sources_mutex_;
  ScrapeSources sources_;

  mutable std::shared_mutex mutex_;  // guards series_
  std::map<std::pair<std::string, std::string>, std::shared_ptr<FunctionSeries>> series_;
};

}  // namespace nimbus::observability
