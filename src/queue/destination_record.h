// The record an async invocation's destination receives, in Lambda's shape:
// {version, timestamp, requestContext, requestPayload, responseContext, responsePayload}.
#pragma once

#include <optional>
#include <string>

#include "model/invocation.h"
#include "store/store.h"

namespace nimbus::queue {

// condition: Success | RetriesExhausted | EventAgeExceeded. `result` is the last run's,
// absent when the event never ran (e.g. too old when first taken).
std::string destinationRecord(const store::AsyncEvent& event, const std::string& function_arn,
                              const std::string& condition,
                              const std::optional<model::InvokeResult>& result, int64_t now_ms);

}  // namespace nimbus::queue
