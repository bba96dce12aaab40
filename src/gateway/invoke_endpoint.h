// The Invoke operation on the HTTP data plane: POST /2015-03-31/functions/{f}/invocations
// with RequestResponse, Event and DryRun, log tails, client context and trace headers.
#pragma once

#include <boost/asio/io_context.hpp>

#include "http/router.h"
#include "invoke/invoker.h"
#include "queue/group_committer.h"
#include "queue/idempotency.h"

namespace nimbus::gateway {

inline constexpr size_t kMaxSyncPayload = 6 * 1024 * 1024;  // 6,291,456 bytes
inline constexpr size_t kMaxAsyncPayload = 1024 * 1024;     // 1 MB
inline constexpr size_t kLogTailBytes = 4096;

// Event invocations are answered 202 once `async_queue` has committed them. Invokes
// carrying X-Nimbus-Idempotency-Key run at most once per key (queue/idempotency.h).
void addInvokeRoutes(http::Router& router, invoke::Invoker& invoker,
                     queue::GroupCommitter& async_queue, queue::IdempotencyKeys& keys);

// The last 4 KB of a log, never starting inside a UTF-8 sequence.
std::string logTail(const std::string& log, size_t max_bytes = kLogTailBytes);
// X-Correlation-Id as the caller sent it when it is a printable token of at most 128
// bytes, else a new UUID.
std::string correlationIdOf(std::string_view header);

}  // namespace nimbus::gateway
