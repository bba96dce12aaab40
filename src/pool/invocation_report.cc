// Lambda-shaped log lines and error bodies.
#include "pool/invocation_report.h"

#include <boost/json.hpp>
#include <cstdio>

#include "base/time.h"

namespace nimbus::pool {

namespace json = boost::json;

std::string formatSeconds(int seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(seconds));
  return buf;
}

std::string timeoutErrorBody(const std::string& request_id, int timeout_s) {
  json::object o;
  o["errorMessage"] = formatIso8601Millis(systemNowMillis()) + " " + request_id +
                      " Task timed out after " + formatSeconds(timeout_s) + " seconds";
  o["errorType"] = "Sandbox.Timedout";
  return json::serialize(o);
}

std::string exitErrorBody(const std::string& request_id, const std::string& how,
                          const std::string& error_type) {
  json::object o;
  o["errorType"] = error_type;
  o["errorMessage"] = "RequestId: " + request_id + " Error: Runtime exited with error: " + how;
  return json::serialize(o);
}

std::string normalizeErrorBody(std::string body, const std::string& header_error_type) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    auto& o = v.as_object();
    if (!o.contains("errorType") && !header_error_type.empty()) {
      o["errorType"] = header_error_type;
      return json::serialize(o);
    }
    return body;
  }
  json::object o;
  o["errorMessage"] = body;
  o["errorType"] = header_error_type.empty() ? "Unhandled" : header_error_type;
  return json::serialize(o);
}

std::string reportLine(const model::InvokeResult& r) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %lld ms\t"
                        "Memory Size: %d MB\tMax Memory Used: %lld MB",
                        r.request_id.c_str(), r.duration_ms, static_cast<long long>(r.billed_ms),
                        r.memory_size_mb, static_cast<long long>(r.max_memory_mb));
  std::string line(buf, static_cast<size_t>(n));
  if (r.cold_start && r.init_ms > 0) {
    std::snprintf(buf, sizeof buf, "\tInit Duration: %.2f ms", r.init_ms);
    line += buf;
  }
  if (r.outcome == model::Outcome::kTimeout) line += "\tStatus: timeout";
  return line;
}

std::string buildInvocationLog(const model::InvokeResult& r, const std::string& captured,
                               const std::vector<std::string>& extra_lines) {
  std::string out = "START RequestId: " + r.request_id + " Version: " + r.executed_version + "\n";
  out += captured;
  if (!captured.empty() && captured.back() != '\n') out += "\n";
  for (const auto& l : extra_lines) out += l + "\n";
  out += "END RequestId: " + r.request_id + "\n";
  out += reportLine(r) + "\t\n";
  return out;
}

}  // namespace nimbus::pool
