// Error code -> HTTP status and Lambda error type.
#include "gateway/error_mapping.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"

namespace nimbus::gateway {

using http::Status;

ErrorShape shapeOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidParameter:
      return {Status::bad_request, "InvalidParameterValueException", false};
    case ErrorCode::kInvalidRequestContent:
      return {Status::bad_request, "InvalidRequestContentException", false};
    case ErrorCode::kUnsupportedMediaType:
      return {Status::unsupported_media_type, "UnsupportedMediaTypeException", false};
    case ErrorCode::kMissingAuthentication:
      return {Status::forbidden, "MissingAuthenticationTokenException", false};
    case ErrorCode::kUnrecognizedClient:
      return {Status::forbidden, "UnrecognizedClientException", false};
    case ErrorCode::kInvalidSignature:
      return {Status::forbidden, "InvalidSignatureException", false};
    case ErrorCode::kNotFound:
      return {Status::not_found, "ResourceNotFoundException", true};
    case ErrorCode::kUnknownOperation:
      return {Status::not_found, "UnknownOperationException", false};
    case ErrorCode::kConflict:
      return {Status::conflict, "ResourceConflictException", false};
    case ErrorCode::kPreconditionFailed:
      return {Status::precondition_failed, "PreconditionFailedException", false};
    case ErrorCode::kTooLarge:
      return {Status::payload_too_large, "RequestTooLargeException", false};
    case ErrorCode::kTooManyRequests:
      return {Status::too_many_requests, "TooManyRequestsException", false};
    case ErrorCode::kInternal:
      return {Status::internal_server_error, "ServiceException", true};
    case ErrorCode::kUnavailable:
      return {Status::service_unavailable, "ServiceException", true};
  }
  return {Status::internal_server_error, "ServiceException", true};
}

http::Response errorResponse(unsigned http_version, const Error& error,
                             const std::string& request_id) {
  ErrorShape shape = shapeOf(error.code);
  std::string message = error.message;
  if (error.code == ErrorCode::kInternal) {
    // Never show internals; give an id that finds the log line.
    std::string incident = hexEncode(randomBytes(6));
    log::error("gateway", "internal error",
               {{"request_id", request_id}, {"incident", incident}, {"error", error.message}});
    message = "Internal error (incident " + incident + "); see the nimbus log.";
  }
  boost::json::object body;
  body["Type"] = (shape.status >= Status::internal_server_error) ? "Service" : "User";
  body[shape.capital_message ? "Message" : "message"] = message;
  http::Response res{shape.status, http_version};
  res.set(http::bhttp::field::content_type, "application/json");
  res.set("x-amzn-ErrorType", shape.type);
  if (!request_id.empty()) res.set("x-amzn-RequestId", request_id);
  if (error.code == ErrorCode::kTooManyRequests) {
    if (!error.reason.empty()) body["Reason"] = error.reason;
    body["retryAfterSeconds"] = "1";
    res.set(http::bhttp::field::retry_after, "1");
  }
  res.body() = boost::json::serialize(body);
  res.prepare_payload();
  return res;
}

http::Response errorResponse(const http::Request& req, const Error& error,
                             const std::string& request_id) {
  auto res = errorResponse(req.version(), error, request_id);
  res.keep_alive(req.keep_alive());
  return res;
}

Error errorForServerStatus(http::Status status, const std::string& message) {
  switch (status) {
    case Status::payload_too_large:
      return makeError(ErrorCode::kTooLarge, message);
    default:
      return makeError(ErrorCode::kInvalidRequestContent, message);
  }
}

}  // namespace nimbus::gateway
