// The record an async invocation's destination receives, in Lambda's shape:
// {version, timestamp, requestContext, requestPayload, responseContext, responsePayload}.
#pragma once

#include <optional>
#include <string>

#include "model/invocation.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::queue {

// condition: Success | RetriesExhausted | EventAgeExceeded. `result` is the last run's,
// absent when the event never ran (e.g. too old when first taken).
std::string destinationRecord(const store::AsyncEvent& event, const std::string& function_arn,
                              const std::string& condition,
                              const std::optional<model::InvokeResult>& result, int64_t now_ms);

// The queue message carrying `record` (destinationRecord's) to a named queue, with
// attributes {SourceFunction, RequestId, Condition, ApproximateInvokeCount, ReplayCount}.
store::QueueMessage destinationMessage(const std::string& queue, const store::AsyncEvent& event,
                                       const std::string& condition, std::string record,
                                       int64_t now_ms);

// What replay needs from a destination record: the original request id, the function
// (name and qualifier, from functionArn) and the request payload as JSON text.
struct ReplayTarget {
  std::string request_id;
  std::string function_arn;
  std::string payload;
};
Result<ReplayTarget> replayTargetOf(const std::string& record);

}  // namespace nimbus::queue
