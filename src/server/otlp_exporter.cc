// OTLP/HTTP JSON export.
#include "server/otlp_exporter.h"

namespace nimbus::server {

Result<std::unique_ptr<OtlpHttpExporter>> OtlpHttpExporter::create(
    const std::string& endpoint, std::chrono::milliseconds timeout) {
  auto parsed = http::parseClientEndpoint(endpoint);
  if (!parsed) return parsed.error();
  http::ClientOptions options;
  options.connect_timeout = timeout;
  options.request_timeout = timeout;
  options.user_agent = "nimbus-otlp/0.1";
  options.max_response_bytes = 1 << 20;
  options.what = "the OTLP collector";
  return std::unique_ptr<OtlpHttpExporter>(
      new OtlpHttpExporter(http::Client(std::move(*parsed), std::move(options))));
}

Result<void> OtlpHttpExporter::exportJson(const std::string& body) {
  auto response = client_.send("POST", "/v1/traces", body, {}, "application/json");
  if (!response) return response.error();
  if (!response->ok()) {
    return makeError(ErrorCode::kUnavailable, "the OTLP collector at " + client_.endpoint().url +
                                                  " answered " + std::to_string(response->status));
  }
  return {};
}

}  // namespace nimbus::server
