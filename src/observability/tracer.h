// Span export off the invoke path: record() appends a finished span to a bounded queue
// (never blocks); a background thread encodes batches as OTLP JSON and hands them to a
// SpanExporter (the HTTP one lives in server/, so observability knows nothing of HTTP).
// A full queue, or a batch the exporter could not deliver (collector slow or down),
// drops the spans and counts them. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/error.h"
#include "observability/batch_writer.h"
#include "observability/metrics.h"
#include "observability/otlp_json.h"
#include "observability/span.h"

namespace nimbus::observability {

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  // Delivers one OTLP JSON body; an error means the spans in it are lost.
  virtual Result<void> exportJson(const std::string& body) = 0;
};

struct TracerOptions {
  size_t queue = 8192;  // spans waiting at most
  size_t batch = 512;   // spans per export at most
  std::chrono::milliseconds interval{500};
  OtlpResource resource;
};

class Tracer {
 public:
  // `dropped` counts spans lost (queue full or export failed).
  Tracer(std::shared_ptr<SpanExporter> exporter, TracerOptions options,
         std::shared_ptr<Counter> dropped);
  ~Tracer();

  void record(Span span);
  void drain() { writer_->drain(); }
  void stop() { writer_->stop(); }

 private:
  std::shared_ptr<SpanExporter> exporter_;
  const TracerOptions options_;
  std::shared_ptr<Counter> dropped_;
  std::unique_ptr<BatchWriter<Span>> writer_;
};

}  // namespace nimbus::observability
