// What the client verbs print: pretty JSON, the `ls` table, the deploy summary line and
// the "<ErrorType>: <message>" form of API errors.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "cli/api_client.h"

namespace nimbus::cli {

// Exit codes shared by every verb.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFunctionError = 1;  // invoke: the function ran and failed
inline constexpr int kExitFailure = 2;        // API, transport or usage error

// Two-space indented JSON with a trailing newline; object members in stored order.
std::string prettyJson(const boost::json::value& value);

// Columns NAME RUNTIME MEMORY TIMEOUT LAST_MODIFIED from FunctionConfiguration objects,
// padded to the widest cell; "-" for absent fields.
std::string formatFunctionTable(const boost::json::array& functions);

// "created hello runtime=python3.11 CodeSha256=... CodeSize=123" from the configuration
// nimbus returned.
std::string deploySummary(const boost::json::object& configuration, bool created);

struct ApiErrorInfo {
  std::string type;
  std::string message;
};

// Reads an error response the way AWS clients do: the type from x-amzn-ErrorType (text
// before any ':'), else body code/__type/Type; the message from body message/Message.
// Falls back to the HTTP status and raw body for non-Lambda answers (a proxy's page).
ApiErrorInfo describeApiError(const ApiResponse& response);

}  // namespace nimbus::cli
