// Building destination records with Boost.JSON.
#include "queue/destination_record.h"

#include <boost/json.hpp>

#include "base/time.h"

namespace nimbus::queue {
namespace {

// Payloads are JSON as a rule; anything else travels as a string rather than be lost.
boost::json::value jsonOrString(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return boost::json::value(text);
  return v;
}

}  // namespace

std::string destinationRecord(const store::AsyncEvent& event, const std::string& function_arn,
                              const std::string& condition,
                              const std::optional<model::InvokeResult>& result, int64_t now_ms) {
  boost::json::object record;
  record["version"] = "1.0";
  record["timestamp"] = formatIso8601Millis(now_ms);
  record["requestContext"] = {{"requestId", event.request_id},
                              {"functionArn", function_arn},
                              {"condition", condition},
                              {"approximateInvokeCount", event.attempts}};
  record["requestPayload"] = jsonOrString(event.payload);
  if (result) {
    boost::json::object response{{"statusCode", 200},
                                 {"executedVersion", result->executed_version}};
    if (result->functionError()) response["functionError"] = "Unhandled";
    record["responseContext"] = std::move(response);
    record["responsePayload"] = jsonOrString(result->payload);
  } else {
    record["responseContext"] = boost::json::object{};
    record["responsePayload"] = nullptr;
  }
  return boost::json::serialize(record);
}

}  // namespace nimbus::queue
