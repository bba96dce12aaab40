// Tracer: the span queue and its export thread.
#include "observability/tracer.h"

namespace nimbus::observability {

Tracer::Tracer(std::shared_ptr<SpanExporter> exporter, TracerOptions options,
               std::shared_ptr<Counter> dropped)
    : exporter_(std::move(exporter)), options_(std::move(options)), dropped_(std::move(dropped)) {
  writer_ = std::make_unique<BatchWriter<Span>>(
      BatchWriterOptions{"trace_spans", options_.queue, options_.batch, options_.interval, 10},
      [this](const std::vector<Span>& batch) -> Result<void> {
        auto sent = exporter_->exportJson(encodeOtlpJson(options_.resource, batch));
        if (!sent) dropped_->inc(static_cast<double>(batch.size()));
        return sent;
      });
}

Tracer::~Tracer() { stop(); }

void Tracer::record(Span span) {
  if (!writer_->push(std::move(span))) dropped_->inc();
}

}  // namespace nimbus::observability
