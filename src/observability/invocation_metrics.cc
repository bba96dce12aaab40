// The nimbus_* and process_* families and how invocations and scrapes fill them.
#include "observability/invocation_metrics.h"

#include <unistd.h>

#include <array>

#include "observability/process_metrics.h"

namespace nimbus::observability {

namespace {
constexpr std::array kOutcomes = {model::kOutcomeSuccess,   model::kOutcomeFunctionError,
                                  model::kOutcomeTimeout,   model::kOutcomeOutOfMemory,
                                  model::kOutcomeThrottled, model::kOutcomePlatformError};
constexpr double kMiB = 1024.0 * 1024.0;
}  // namespace

struct InvocationMetrics::FunctionSeries {
  std::array<std::shared_ptr<Counter>, kOutcomes.size()> outcomes;
  std::shared_ptr<Histogram> duration;
  std::shared_ptr<Histogram> init_duration;
  std::shared_ptr<Counter> cold_starts;
  std::shared_ptr<Counter> throttles;
  std::shared_ptr<Counter> async_retries;
  std::shared_ptr<Gauge> concurrent;
  std::shared_ptr<Gauge> max_memory;
  std::shared_ptr<Counter> billed_gb_seconds;
};

const std::vector<double>& InvocationMetrics::durationBuckets() {
  static const std::vector<double> kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900};
  return kBuckets;
}

const std::vector<double>& InvocationMetrics::initBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};
  return kBuckets;
}

InvocationMetrics::InvocationMetrics() {
  const std::vector<std::string> fv = {"function", "version"};
  invocations_ = registry_.counter("nimbus_invocations_total",
                                   "Invocations that ended, by outcome (retries count each).",
                                   {"function", "version", "outcome"});
  duration_ = registry_.histogram("nimbus_invocation_duration_seconds",
                                  "Run time of invocations that reached an instance.",
                                  durationBuckets(), fv);
  init_duration_ = registry_.histogram("nimbus_init_duration_seconds", "Init phase of cold starts.",
                                       initBuckets(), fv);
  cold_starts_ =
      registry_.counter("nimbus_cold_starts_total", "Invocations that started a new instance.", fv);
  throttles_ = registry_.counter("nimbus_throttles_total",
                                 "Invocations refused for concurrency or capacity (429).", fv);
  async_retries_ = registry_.counter("nimbus_async_retries_total",
                                     "Async invocation attempts after the first.", fv);
  concurrent_ = registry_.gauge("nimbus_concurrent_executions", "Invocations running now.", fv);
  max_memory_ = registry_.gauge("nimbus_max_memory_used_bytes",
                                "Highest peak memory of one invocation since nimbus started.", fv);
  billed_gb_seconds_ = registry_.counter(
      "nimbus_billed_gigabyte_seconds_total",
      "Billed duration times configured memory, in GB-seconds (Lambda's cost unit).", fv);
  instances_ = registry_.gauge("nimbus_instances", "Live instances by state.", {"state"});
  provisioned_ =
      registry_.gauge("nimbus_provisioned_instances",
                      "Instances kept initialised by provisioned concurrency.", {"function"});
  queue_depth_ = registry_.gauge("nimbus_async_queue_depth",
                                 "Async events waiting or being delivered.", {"function"});
  queue_oldest_age_ = registry_.gauge("nimbus_async_oldest_event_age_seconds",
                                      "Age of the oldest queued async event.", {"function"});
  dlq_depth_ = registry_.gauge("nimbus_dlq_depth",
                               "Async events given up on (dead), kept in the store.", {"function"});
  http_requests_ = registry_.counter("nimbus_http_requests_total",
                                     "API requests answered, by status.", {"code"});
  records_dropped_family_ = registry_.counter(
      "nimbus_observability_dropped_total",
      "Invocation records and log lines dropped because the writer queue was full.", {"kind"});
  records_dropped_ = records_dropped_family_->at({"invocation_record"});
  log_lines_dropped_ = records_dropped_family_->at({"log_line"});
  auto truncated = registry_.counter("nimbus_log_lines_truncated_total",
                                     "Function log lines cut at the line length cap.");
  log_lines_truncated_ = truncated->at({});
  auto spans_dropped = registry_.counter(
      "nimbus_trace_spans_dropped_total",
      "Trace spans dropped: export queue full, or the OTLP collector slow or down.");
  trace_spans_dropped_ = spans_dropped->at({});
  process_cpu_ = registry_.counter("process_cpu_seconds_total",
                                   "Total user and system CPU time spent in seconds.");
  process_rss_ = registry_.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  process_fds_ = registry_.gauge("process_open_fds", "Number of open file descriptors.");
  process_start_ = registry_.gauge("process_start_time_seconds",
                                   "Start time of the process since unix epoch in seconds.");
  registry_.addCollector([this] { collect(); });
}

std::shared_ptr<InvocationMetrics::FunctionSeries> InvocationMetrics::seriesFor(
    const std::string& function, const std::string& version) {
  auto key = std::make_pair(function, version);
  {
    std::shared_lock lock(mutex_);
    auto it = series_.find(key);
    if (it != series_.end()) return it->second;
  }
  auto s = std::make_shared<FunctionSeries>();
  for (size_t i = 0; i < kOutcomes.size(); ++i) {
    s->outcomes[i] = invocations_->at({function, version, kOutcomes[i]});
  }
  s->duration = duration_->at({function, version});
  s->init_duration = init_duration_->at({function, version});
  s->cold_starts = cold_starts_->at({function, version});
  s->throttles = throttles_->at({function, version});
  s->async_retries = async_retries_->at({function, version});
  s->concurrent = concurrent_->at({function, version});
  s->max_memory = max_memory_->at({function, version});
  s->billed_gb_seconds = billed_gb_seconds_->at({function, version});
  std::unique_lock lock(mutex_);
  auto [it, inserted] = series_.emplace(std::move(key), s);
  return it->second;
}

void InvocationMetrics::started(const std::string& function, const std::string& version) {
  seriesFor(function, version)->concurrent->add(1);
}

void InvocationMetrics::finished(const model::InvocationRecord& r) {
  auto s = seriesFor(r.function_name, r.version);
  s->concurrent->add(-1);
  for (size_t i = 0; i < kOutcomes.size(); ++i) {
    if (r.outcome == kOutcomes[i]) s->outcomes[i]->inc();
  }
  if (r.outcome == model::kOutcomeThrottled) {
    s->throttles->inc();
    return;
  }
  // A retry is a run after the first; a throttled try is not a run.
  if (r.trigger == "async" && r.attempt > 1) s->async_retries->inc();
  if (r.outcome == model::kOutcomePlatformError) return;  // it never ran
  s->duration->observe(r.duration_ms / 1000.0);
  if (r.cold_start) {
    s->cold_starts->inc();
    if (r.init_ms > 0) s->init_duration->observe(r.init_ms / 1000.0);
  }
  s->max_memory->max(static_cast<double>(r.max_memory_mb) * kMiB);
  s->billed_gb_seconds->inc(static_cast<double>(r.billed_ms) / 1000.0 *
                            static_cast<double>(r.memory_size_mb) / 1024.0);
}

void InvocationMetrics::httpRequest(int status) {
  http_requests_->at({std::to_string(status)})->inc();
}

void InvocationMetrics::forget(const std::string& function) {
  {
    std::unique_lock lock(mutex_);
    std::erase_if(series_, [&](const auto& kv) { return kv.first.first == function; });
  }
  registry_.removeWhere("function", function);
}

void InvocationMetrics::setSources(ScrapeSources sources) {
  std::unique_lock lock(sources_mutex_);
  sources_ = std::move(sources);
}

void InvocationMetrics::collect() {
  std::shared_lock lock(sources_mutex_);
  const ScrapeSources& src = sources_;
  if (src.idle_instances && src.busy_instances) {
    instances_->at({"idle"})->set(static_cast<double>(src.idle_instances()));
    instances_->at({"busy"})->set(static_cast<double>(src.busy_instances()));
  }
  provisioned_->clear();
  if (src.provisioned_instances) {
    for (const auto& [fn, n] : src.provisioned_instances()) {
      provisioned_->at({fn})->set(static_cast<double>(n));
    }
  }
  if (src.async_queue) {
    auto stats = src.async_queue();
    if (stats) {
      // Refilled from scratch: functions whose queue emptied drop out.
      queue_depth_->clear();
      queue_oldest_age_->clear();
      dlq_depth_->clear();
      const int64_t now = src.now_ms ? src.now_ms() : 0;
      for (const auto& q : *stats) {
        queue_depth_->at({q.function_name})->set(static_cast<double>(q.queued + q.running));
        queue_oldest_age_->at({q.function_name})
            ->set(q.oldest_queued_ms > 0 && now > q.oldest_queued_ms
                      ? static_cast<double>(now - q.oldest_queued_ms) / 1000.0
                      : 0.0);
        dlq_depth_->at({q.function_name})->set(static_cast<double>(q.dead));
      }
    }
  }
  ProcessFigures p =
      readProcessFigures(src.proc_root, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE));
  process_cpu_->at({})->setTotal(p.cpu_seconds);
  process_rss_->at({})->set(p.resident_bytes);
  process_fds_->at({})->set(p.open_fds);
  process_start_->at({})->set(p.start_time_seconds);
}

}  // namespace nimbus::observability
