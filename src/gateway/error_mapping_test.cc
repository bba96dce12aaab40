// Tests for the error table (status, x-amzn-ErrorType, message member, throttling and
// internal-error shapes) and for the 4 KB log tail of Invoke's LogType=Tail.
#include "gateway/error_mapping.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "gateway/invoke_endpoint.h"

namespace nimbus::gateway {
namespace {

namespace json = boost::json;
using http::Status;

struct Expected {
  ErrorCode code;
  Status status;
  const char* type;
  const char* message_key;
};

const Expected kTable[] = {
    {ErrorCode::kInvalidParameter, Status::bad_request, "InvalidParameterValueException",
     "message"},
    {ErrorCode::kInvalidRequestContent, Status::bad_request, "InvalidRequestContentException",
     "message"},
    {ErrorCode::kUnsupportedMediaType, Status::unsupported_media_type,
     "UnsupportedMediaTypeException", "message"},
    {ErrorCode::kMissingAuthentication, Status::forbidden, "MissingAuthenticationTokenException",
     "message"},
    {ErrorCode::kUnrecognizedClient, Status::forbidden, "UnrecognizedClientException", "message"},
    {ErrorCode::kInvalidSignature, Status::forbidden, "InvalidSignatureException", "message"},
    {ErrorCode::kNotFound, Status::not_found, "ResourceNotFoundException", "Message"},
    {ErrorCode::kUnknownOperation, Status::not_found, "UnknownOperationException", "message"},
    {ErrorCode::kConflict, Status::conflict, "ResourceConflictException", "message"},
    {ErrorCode::kPreconditionFailed, Status::precondition_failed, "PreconditionFailedException",
     "message"},
    {ErrorCode::kTooLarge, Status::payload_too_large, "RequestTooLargeException", "message"},
    {ErrorCode::kTooManyRequests, Status::too_many_requests, "TooManyRequestsException", "message"},
    {ErrorCode::kInternal, Status::internal_server_error, "ServiceException", "Message"},
    {ErrorCode::kUnavailable, Status::service_unavailable, "ServiceException", "Message"},
};

json::object bodyOf(const http::Response& res) {
  json::value v = json::parse(res.body());
  EXPECT_TRUE(v.is_object()) << res.body();
  return v.is_object() ? v.as_object() : json::object{};
}

// The string member `key` of `o`, or "<absent>".
std::string str(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return "<absent>";
  return std::string(it->value().as_string());
}

TEST(ErrorMapping, EveryCodeHasItsStatusTypeAndMessageMember) {
  for (const auto& e : kTable) {
    SCOPED_TRACE(e.type);
    ErrorShape shape = shapeOf(e.code);
    EXPECT_EQ(shape.status, e.status);
    EXPECT_STREQ(shape.type, e.type);

    auto res = errorResponse(11, makeError(e.code, "the message"), "req-1");
    EXPECT_EQ(res.result(), e.status);
    EXPECT_EQ(res["x-amzn-ErrorType"], e.type);
    EXPECT_EQ(res["x-amzn-RequestId"], "req-1");
    EXPECT_EQ(res[http::bhttp::field::content_type], "application/json");
    EXPECT_EQ(res[http::bhttp::field::content_length], std::to_string(res.body().size()));
    auto body = bodyOf(res);
    const char* other_key = std::string(e.message_key) == "Message" ? "message" : "Message";
    EXPECT_TRUE(body.contains(e.message_key)) << res.body();
    EXPECT_FALSE(body.contains(other_key)) << res.body();
    EXPECT_EQ(str(body, "Type"), static_cast<int>(e.status) >= 500 ? "Service" : "User");
  }
}

TEST(ErrorMapping, ResourceNotFoundUsesCapitalMessage) {
  auto res = errorResponse(11, makeError(ErrorCode::kNotFound, "Function not found: arn:x"), "r");
  auto body = bodyOf(res);
  EXPECT_EQ(str(body, "Message"), "Function not found: arn:x");
  EXPECT_EQ(str(body, "Type"), "User");
}

TEST(ErrorMapping, InvalidParameterUsesLowerCaseMessage) {
  auto res = errorResponse(11, makeError(ErrorCode::kInvalidParameter, "bad Timeout"), "r");
  auto body = bodyOf(res);
  EXPECT_EQ(str(body, "message"), "bad Timeout");
  EXPECT_EQ(res.result(), Status::bad_request);
}

TEST(ErrorMapping, TooManyRequestsCarriesReasonAndRetryAfter) {
  Error e = makeError(ErrorCode::kTooManyRequests, "Rate Exceeded.");
  e.reason = "ReservedFunctionConcurrentInvocationLimitExceeded";
  auto res = errorResponse(11, e, "r");
  EXPECT_EQ(res.result(), Status::too_many_requests);
  EXPECT_EQ(res[http::bhttp::field::retry_after], "1");
  auto body = bodyOf(res);
  EXPECT_EQ(str(body, "Reason"), "ReservedFunctionConcurrentInvocationLimitExceeded");
  EXPECT_EQ(str(body, "retryAfterSeconds"), "1");
  EXPECT_EQ(str(body, "message"), "Rate Exceeded.");
}

TEST(ErrorMapping, OtherErrorsHaveNoRetryAfter) {
  auto res = errorResponse(11, makeError(ErrorCode::kConflict, "exists"), "r");
  EXPECT_EQ(res.count(http::bhttp::field::retry_after), 0u);
  EXPECT_FALSE(bodyOf(res).contains("retryAfterSeconds"));
}

TEST(ErrorMapping, InternalErrorHidesTheMessageBehindAnIncidentId) {
  std::set<std::string> messages;
  for (int i = 0; i < 2; ++i) {
    auto res = errorResponse(
        11, makeError(ErrorCode::kInternal, "sqlite: disk I/O error at /secret/path"), "r");
    EXPECT_EQ(res.result(), Status::internal_server_error);
    EXPECT_EQ(res["x-amzn-ErrorType"], "ServiceException");
    std::string message = str(bodyOf(res), "Message");
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
    EXPECT_EQ(message.find("sqlite"), std::string::npos) << message;
    EXPECT_NE(message.find("incident "), std::string::npos) << message;
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), 2u) << "each internal error needs its own incident id";
}

TEST(ErrorMapping, UnavailableKeepsItsMessage) {
  auto res = errorResponse(11, makeError(ErrorCode::kUnavailable, "shutting down"), "r");
  EXPECT_EQ(str(bodyOf(res), "Message"), "shutting down");
}

TEST(ErrorMapping, RequestOverloadFollowsVersionAndKeepAlive) {
  http::Request req{http::Verb::get, "/", 10};
  req.keep_alive(false);
  auto res = errorResponse(req, makeError(ErrorCode::kNotFound, "x"), "");
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res.count("x-amzn-RequestId"), 0u);

  http::Request req11{http::Verb::get, "/", 11};
  res = errorResponse(req11, makeError(ErrorCode::kNotFound, "x"), "id");
  EXPECT_EQ(res.version(), 11u);
  EXPECT_TRUE(res.keep_alive());
}

TEST(ErrorMapping, MessagesAreJsonEscaped) {
  auto res = errorResponse(11, makeError(ErrorCode::kInvalidParameter, "quote \" and \n"), "r");
  EXPECT_EQ(str(bodyOf(res), "message"), "quote \" and \n");
}

TEST(ErrorMapping, ServerStatusesMapToErrors) {
  EXPECT_EQ(errorForServerStatus(Status::payload_too_large, "m").code, ErrorCode::kTooLarge);
  EXPECT_EQ(errorForServerStatus(Status::bad_request, "m").code, ErrorCode::kInvalidRequestContent);
  EXPECT_EQ(errorForServerStatus(Status::request_header_fields_too_large, "m").code,
            ErrorCode::kInvalidRequestContent);
  EXPECT_EQ(errorForServerStatus(Status::bad_request, "why").message, "why");
}

TEST(LogTail, ShortLogIsKeptWhole) {
  EXPECT_EQ(logTail(""), "");
  std::string log(4096, 'a');
  EXPECT_EQ(logTail(log), log);
}

TEST(LogTail, LongLogKeepsTheLast4096Bytes) {
  std::string log = "START\n" + std::string(10000, 'x') + "\nREPORT the end";
  std::string tail = logTail(log);
  EXPECT_EQ(tail.size(), 4096u);
  EXPECT_EQ(tail, log.substr(log.size() - 4096));
  EXPECT_EQ(tail.substr(tail.size() - 14), "REPORT the end");
}

TEST(LogTail, DoesNotStartInsideAUtf8Sequence) {
  // "é" is 2 bytes and "€" 3: for each cut offset, the tail must start on a lead byte.
  for (const std::string ch : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    std::string log;
    while (log.size() < 6000) log += ch;
    for (size_t pad = 0; pad < 4; ++pad) {
      std::string padded = std::string(pad, 'p') + log;
      std::string tail = logTail(padded);
      ASSERT_LE(tail.size(), 4096u);
      ASSERT_FALSE(tail.empty());
      EXPECT_NE(static_cast<unsigned char>(tail[0]) & 0xC0, 0x80) << "pad " << pad;
      EXPECT_EQ(padded.substr(padded.size() - tail.size()), tail);
      EXPECT_GT(tail.size(), 4096u - ch.size());
    }
  }
}

TEST(LogTail, HonoursACustomLimit) {
  EXPECT_EQ(logTail("abcdef", 3), "def");
  EXPECT_EQ(logTail("a\xc3\xa9z", 2), "z");  // the cut would land inside "é"
}

}  // namespace
}  // namespace nimbus::gateway
