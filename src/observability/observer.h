// The observability front: what the invoke path, the pool's log capture and the API
// call to leave metrics, invocation records and persisted log lines. Metrics are
// atomics (always on); records and log lines go to the store through batch writers
// (off the invoke path, dropped and counted when the store falls behind). Log lines
// are gathered per invocation into chunks (one row for START, output, END and REPORT
// of a short invocation), closed when the invocation ends, grows past 64 KB, or has
// waited `flush_interval`. A housekeeping thread closes stale chunks and prunes by
// retention. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "model/invocation_record.h"
#include "observability/batch_writer.h"
#include "observability/invocation_metrics.h"
#include "observability/retention.h"
#include "observability/span.h"
#include "observability/tracer.h"
#include "store/store.h"

namespace nimbus::observability {

struct ObserverOptions {
  bool records = true;  // keep invocation records and function log lines in the store
  RetentionPolicy retention;
  std::chrono::milliseconds sweep_interval{60000};
  size_t max_line_bytes = 256 * 1024;  // longer lines are cut, with a marker
  size_t record_queue = 65536;
  size_t log_queue = 65536;  // chunks
  size_t max_chunk_bytes = 64 * 1024;
  std::chrono::milliseconds flush_interval{200};
  // Where spans go (OTLP); none: tracing off, spans are not even built.
  std::shared_ptr<SpanExporter> span_exporter;
  TracerOptions tracer;
};

inline constexpr const char* kLineTruncatedMarker = " [nimbus] line truncated";

class Observer {
 public:
  Observer(store::Store& store, ObserverOptions options);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // The invoke seam: one started() and one finished() per invocation attempt.
  void invocationStarted(const std::string& function, const std::string& version);
  void invocationFinished(model::InvocationRecord record);
  // One line of function output (or START/END/REPORT).
  void logLine(const std::string& function, const std::string& request_id, int64_t timestamp_ms,
               std::string message);
  void functionDeleted(const std::string& function);
  void httpRequest(int status) { metrics_.httpRequest(status); }

  std::string renderMetrics() const { return metrics_.render(); }
  InvocationMetrics& metrics() { return metrics_; }
  bool recordsEnabled() const { return options_.records; }
  bool tracingEnabled() const { return tracer_ != nullptr; }
  // A finished span, queued for export (dropped and counted when the queue is full).
  void recordSpan(Span span) {
    if (tracer_) tracer_->record(std::move(span));
  }
  // Writes everything queued so far (tests, shutdown).
  void drain();
  // Ends the writers (after writing what they hold) and the retention thread.
  void stop();

 private:
  void housekeepingLoop();
  // Moves chunks that are done (or all, or those open since before `cutoff_ms`) to the
  // writer. Takes chunk_mutex_.
  void closeChunk(const std::string& function, const std::string& request_id);
  void closeChunksOpenedBefore(int64_t cutoff_steady_ms);
  void pushChunk(model::LogChunk chunk);

  store::Store& store_;
  const ObserverOptions options_;
  InvocationMetrics metrics_;
  std::unique_ptr<BatchWriter<model::InvocationRecord>> records_;
  std::unique_ptr<BatchWriter<model::LogChunk>> logs_;
  std::unique_ptr<Tracer> tracer_;

  struct OpenChunk {
    model::LogChunk chunk;
    int64_t opened_steady_ms = 0;
  };
  std::mutex chunk_mutex_;
  std::unordered_map<std::string, OpenChunk> open_chunks_;  // by function '\0' request id

  std::mutex sweep_mutex_;
  std::condition_variable sweep_wake_;
  bool stopping_ = false;
  std::thread housekeeper_;
};

}  // namespace nimbus::observability
