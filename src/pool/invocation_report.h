// What an invocation leaves in its log and error body, in Lambda's words: START/END/
// REPORT lines, and the error objects for timeouts, runtime exits and runtime errors.
#pragma once

#include <string>
#include <vector>

#include "model/invocation.h"

namespace nimbus::pool {

// "1.00" for 1 second, as in "Task timed out after 1.00 seconds".
std::string formatSeconds(int seconds);
std::string timeoutErrorBody(const std::string& request_id, int timeout_s);
// Runtime.ExitError, or Runtime.OutOfMemory when the memory limit killed it.
std::string exitErrorBody(const std::string& request_id, const std::string& how,
                          const std::string& error_type = "Runtime.ExitError");
// Keeps a JSON error object as the runtime posted it, adding errorType from the header
// when the body lacks one; wraps anything that is not a JSON object.
std::string normalizeErrorBody(std::string body, const std::string& header_error_type);
std::string reportLine(const model::InvokeResult& r);
// START + captured output + extra lines + END + REPORT, as the log tail shows it.
std::string buildInvocationLog(const model::InvokeResult& r, const std::string& captured,
                               const std::vector<std::string>& extra_lines);

}  // namespace nimbus::pool
