// The one table that turns platform errors into HTTP statuses and Lambda error shapes
// (x-amzn-ErrorType header + JSON body). Internal errors get an id that is logged and
// shown to the caller.
#pragma once

#include <string>

#include "base/error.h"
#include "http/types.h"

namespace nimbus::gateway {

struct ErrorShape {
  http::Status status;
  const char* type;      // Lambda's error code
  bool capital_message;  // ResourceNotFoundException/ServiceException use "Message"
};

ErrorShape shapeOf(ErrorCode code);

// The response for `error`, answering `req`. request_id goes in x-amzn-RequestId.
http::Response errorResponse(const http::Request& req, const Error& error,
                             const std::string& request_id);
// Same, for errors the HTTP server finds before there is a parsed request.
http::Response errorResponse(unsigned http_version, const Error& error,
                             const std::string& request_id);
// Maps an HTTP status the server itself produced (400, 413, 431) to an Error.
Error errorForServerStatus(http::Status status, const std::string& message);

}  // namespace nimbus::gateway
