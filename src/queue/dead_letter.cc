// DeadLetterConfig messages with Boost.JSON attributes.
#include "queue/dead_letter.h"

#include <boost/json.hpp>

#include "base/encoding.h"

namespace nimbus::queue {
namespace {

// Cuts `text` to at most `max` bytes without splitting a UTF-8 sequence.
std::string truncateUtf8(std::string text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

}  // namespace

std::string deadLetterErrorMessage(const std::optional<model::InvokeResult>& result,
                                   const std::string& fallback) {
  std::string message = fallback;
  if (result && result->functionError()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(result->payload, ec);
    const boost::json::value* m = nullptr;
    if (!ec && v.is_object()) m = v.as_object().if_contains("errorMessage");
    if (m != nullptr && m->is_string() && !m->as_string().empty()) {
      message = std::string(m->as_string());
    } else if (!result->error_type.empty()) {
      message = result->error_type;
    }
  }
  return truncateUtf8(std::move(message), kMaxDeadLetterErrorBytes);
}

store::QueueMessage deadLetterMessage(const std::string& queue, const store::AsyncEvent& event,
                                      const std::string& function_arn, const DeadLetterCause& cause,
                                      int64_t now_ms) {
  store::QueueMessage m;
  m.queue = queue;
  m.message_id = newUuid();
  m.body = event.payload;
  m.attributes = boost::json::serialize(boost::json::object{
      {"RequestID", event.request_id},
      {"ErrorCode", cause.error_code},
      {"ErrorMessage", truncateUtf8(cause.error_message, kMaxDeadLetterErrorBytes)},
      {"FunctionArn", function_arn},
      {"SourceFunction", event.function_name},
      {"Condition", cause.condition},
      {"ApproximateInvokeCount", event.attempts},
      {"ReplayCount", event.replay_count}});
  m.sent_ms = now_ms;
  return m;
}

Result<ReplayTarget> replayTargetOfMessage(const store::QueueMessage& message) {
  boost::system::error_code ec;
  boost::json::value attributes = boost::json::parse(message.attributes, ec);
  if (!ec && attributes.is_object()) {
    const auto& a = attributes.as_object();
    const auto* id = a.if_contains("RequestID");
    const auto* arn = a.if_contains("FunctionArn");
    if (id != nullptr && id->is_string() && !id->as_string().empty() && arn != nullptr &&
        arn->is_string() && !arn->as_string().empty()) {
      return ReplayTarget{std::string(id->as_string()), std::string(arn->as_string()),
                          message.body};
    }
  }
  return replayTargetOf(message.body);
}

}  // namespace nimbus::queue
