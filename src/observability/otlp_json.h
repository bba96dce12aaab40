// The OTLP/HTTP JSON encoding of a batch of spans (ExportTraceServiceRequest):
// resourceSpans → scopeSpans → spans, ids as lower-case hex, times as decimal strings,
// kind and status code as numbers, attributes as {key, value:{stringValue|intValue|...}}.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "observability/span.h"

namespace nimbus::observability {

struct OtlpResource {
  std::string service_name = "nimbus";
  std::vector<std::pair<std::string, AttributeValue>> attributes;
};

std::string encodeOtlpJson(const OtlpResource& resource, const std::vector<Span>& spans);

}  // namespace nimbus::observability
