// Building destination records with Boost.JSON.
#include "queue/destination_record.h"

#include <boost/json.hpp>

#include "base/encoding.h"
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

store::QueueMessage destinationMessage(const std::string& queue, const store::AsyncEvent& event,
                                       const std::string& condition, std::string record,
                                       int64_t now_ms) {
  store::QueueMessage m;
  m.queue = queue;
  m.message_id = newUuid();
  m.body = std::move(record);
  m.attributes =
      boost::json::serialize(boost::json::object{{"SourceFunction", event.function_name},
                                                 {"RequestId", event.request_id},
                                                 {"Condition", condition},
                                                 {"ApproximateInvokeCount", event.attempts},
                                                 {"ReplayCount", event.replay_count}});
  m.sent_ms = now_ms;
  return m;
}

Result<ReplayTarget> replayTargetOf(const std::string& record) {
  auto bad = [](const std::string& why) {
    return makeError(ErrorCode::kInvalidParameter,
                     "The message is not a destination record nimbus can replay: " + why);
  };
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(record, ec);
  if (ec || !v.is_object()) return bad("not a JSON object");
  const auto& o = v.as_object();
  const auto* context = o.if_contains("requestContext");
  if (context == nullptr || !context->is_object()) return bad("no requestContext");
  const auto* id = context->as_object().if_contains("requestId");
  const auto* arn = context->as_object().if_contains("functionArn");
  if (id == nullptr || !id->is_string() || id->as_string().empty()) return bad("no requestId");
  if (arn == nullptr || !arn->is_string() || arn->as_string().empty()) return bad("no functionArn");
  ReplayTarget t;
  t.request_id = std::string(id->as_string());
  t.function_arn = std::string(arn->as_string());
  const auto* payload = o.if_contains("requestPayload");
  if (payload != nullptr && !payload->is_null()) t.payload = boost::json::serialize(*payload);
  return t;
}

}  // namespace nimbus::queue
