// OTLP JSON encoding with Boost.JSON.
#include "observability/otlp_json.h"

#include <boost/json.hpp>

namespace nimbus::observability {

namespace json = boost::json;

namespace {

json::object valueOf(const AttributeValue& v) {
  json::object o;
  if (const auto* s = std::get_if<std::string>(&v)) {
    o["stringValue"] = *s;
  } else if (const auto* i = std::get_if<int64_t>(&v)) {
    o["intValue"] = std::to_string(*i);  // int64 is a string in OTLP JSON
  } else if (const auto* d = std::get_if<double>(&v)) {
    o["doubleValue"] = *d;
  } else {
    o["boolValue"] = std::get<bool>(v);
  }
  return o;
}

json::array attributesOf(const std::vector<std::pair<std::string, AttributeValue>>& attrs) {
  json::array a;
  for (const auto& [key, value] : attrs) {
    a.push_back(json::object{{"key", key}, {"value", valueOf(value)}});
  }
  return a;
}

json::object spanOf(const Span& s) {
  json::object o;
  o["traceId"] = s.trace_id;
  o["spanId"] = s.span_id;
  if (!s.parent_span_id.empty()) o["parentSpanId"] = s.parent_span_id;
  if (!s.tracestate.empty()) o["traceState"] = s.tracestate;
  o["name"] = s.name;
  o["kind"] = static_cast<int>(s.kind);
  o["startTimeUnixNano"] = std::to_string(s.start_unix_ns);
  o["endTimeUnixNano"] = std::to_string(s.end_unix_ns);
  o["attributes"] = attributesOf(s.attributes);
  json::object status;
  status["code"] = s.error ? 2 : 1;  // STATUS_CODE_ERROR : STATUS_CODE_OK
  if (!s.status_message.empty()) status["message"] = s.status_message;
  o["status"] = std::move(status);
  return o;
}

}  // namespace

std::string encodeOtlpJson(const OtlpResource& resource, const std::vector<Span>& spans) {
  auto resource_attrs = resource.attributes;
  resource_attrs.insert(resource_attrs.begin(), {"service.name", resource.service_name});
  json::array span_array;
  span_array.reserve(spans.size());
  for (const auto& s : spans) span_array.push_back(spanOf(s));
  json::object scope{{"name", "nimbus"}};
  json::object scope_spans{{"scope", std::move(scope)}, {"spans", std::move(span_array)}};
  json::object resource_spans{
      {"resource", json::object{{"attributes", attributesOf(resource_attrs)}}},
      {"scopeSpans", json::array{std::move(scope_spans)}}};
  json::object root{{"resourceSpans", json::array{std::move(resource_spans)}}};
  return json::serialize(root);
}

}  // namespace nimbus::observability
