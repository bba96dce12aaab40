// Observer: metrics updates, the two batch writers and the retention thread.
#include "observability/observer.h"

#include "base/log.h"
#include "base/time.h"

namespace nimbus::observability {

Observer::Observer(store::Store& store, ObserverOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.records) return;
  records_ = std::make_unique<BatchWriter<model::InvocationRecord>>(
      BatchWriterOptions{"invocation_records", options_.record_queue, 1024,
                         options_.flush_interval},
      [this](const std::vector<model::InvocationRecord>& batch) {
        return store_.appendInvocationRecords(batch);
      });
  logs_ = std::make_unique<BatchWriter<model::LogLine>>(
      BatchWriterOptions{"log_lines", options_.log_queue, 1024, options_.flush_interval},
      [this](const std::vector<model::LogLine>& batch) { return store_.appendLogLines(batch); });
  sweeper_ = std::thread([this] { sweepLoop(); });
}

Observer::~Observer() { stop(); }

void Observer::invocationStarted(const std::string& function, const std::string& version) {
  metrics_.started(function, version);
}

void Observer::invocationFinished(model::InvocationRecord record) {
  metrics_.finished(record);
  if (records_ && !records_->push(std::move(record))) metrics_.recordsDropped().inc();
}

void Observer::logLine(const std::string& function, const std::string& request_id,
                       int64_t timestamp_ms, std::string message) {
  if (!logs_) return;
  if (message.size() > options_.max_line_bytes) {
    message.resize(options_.max_line_bytes);
    message += kLineTruncatedMarker;
    metrics_.logLinesTruncated().inc();
  }
  if (!logs_->push(model::LogLine{0, timestamp_ms, function, request_id, std::move(message)})) {
    metrics_.logLinesDropped().inc();
  }
}

void Observer::functionDeleted(const std::string& function) { metrics_.forget(function); }

void Observer::drain() {
  if (records_) records_->drain();
  if (logs_) logs_->drain();
}

void Observer::stop() {
  {
    std::lock_guard lock(sweep_mutex_);
    stopping_ = true;
  }
  sweep_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  if (records_) records_->stop();
  if (logs_) logs_->stop();
}

void Observer::sweepLoop() {
  std::unique_lock lock(sweep_mutex_);
  while (!stopping_) {
    sweep_wake_.wait_for(lock, options_.sweep_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto swept = sweepOnce(store_, options_.retention, systemNowMillis());
    if (!swept) {
      log::warn("observability", "retention sweep failed", {{"error", swept.error().message}});
    } else if (swept->records_deleted > 0 || swept->log_lines_deleted > 0) {
      log::info("observability", "retention sweep",
                {{"records_deleted", std::to_string(swept->records_deleted)},
                 {"log_lines_deleted", std::to_string(swept->log_lines_deleted)}});
    }
    lock.lock();
  }
}

}  // namespace nimbus::observability
