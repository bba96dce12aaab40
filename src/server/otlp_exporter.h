// The OTLP/HTTP JSON span exporter: POSTs each batch to {endpoint}/v1/traces with the
// shared http::Client and a short timeout, so that a slow collector costs spans (the
// tracer's queue fills and drops) rather than anything on the invoke path.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/error.h"
#include "http/client.h"
#include "observability/tracer.h"

namespace nimbus::server {

class OtlpHttpExporter : public observability::SpanExporter {
 public:
  // `endpoint`: http://host:port[/prefix]. InvalidParameter when malformed.
  static Result<std::unique_ptr<OtlpHttpExporter>> create(
      const std::string& endpoint, std::chrono::milliseconds timeout = std::chrono::seconds(2));

  Result<void> exportJson(const std::string& body) override;

 private:
  explicit OtlpHttpExporter(http::Client client) : client_(std::move(client)) {}
  http::Client client_;  // used by the tracer's one export thread only
};

}  // namespace nimbus::server
