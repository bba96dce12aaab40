// Lambda's function-level dead-letter queue (DeadLetterConfig): the message a given-up
// async event leaves in it, and how replay reads such a message back.
//
// Lambda's DLQ message body is the original event, unchanged, with the attributes
// RequestID, ErrorCode (a three-digit HTTP status) and ErrorMessage (at most 1 KB).
// nimbus adds FunctionArn (the invoked function and qualifier) and the attributes of
// its destination messages (SourceFunction, Condition, ApproximateInvokeCount,
// ReplayCount), so that `nimbus dlq` lists it and replay knows where it goes.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "model/invocation.h"
#include "queue/destination_record.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::queue {

inline constexpr size_t kMaxDeadLetterErrorBytes = 1024;

// Why an event was given up, as the DLQ message reports it.
struct DeadLetterCause {
  std::string condition;  // RetriesExhausted | EventAgeExceeded
  int error_code = 500;   // 200: the function ran and failed; 429: throttled; ...
  std::string error_message;
};

// The error message Lambda reports: the function's errorMessage when its last run
// failed with one, else `fallback`; cut to kMaxDeadLetterErrorBytes on a UTF-8
// character boundary.
std::string deadLetterErrorMessage(const std::optional<model::InvokeResult>& result,
                                   const std::string& fallback);

// The message for queue `queue`: body = the event's payload as it was received.
store::QueueMessage deadLetterMessage(const std::string& queue, const store::AsyncEvent& event,
                                      const std::string& function_arn, const DeadLetterCause& cause,
                                      int64_t now_ms);

// What replay sends where, for any message a DLQ may hold: a DeadLetterConfig message
// (attributes RequestID and FunctionArn; body = the event) is recognised by its
// attributes first, because its body may itself be a destination record (a function
// that is another's destination receives records as events). Otherwise the body must
// be a destination record (replayTargetOf).
Result<ReplayTarget> replayTargetOfMessage(const store::QueueMessage& message);

}  // namespace nimbus::queue
