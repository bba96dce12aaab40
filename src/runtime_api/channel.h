// The hand-off between the pool and one instance's runtime: one event at a time goes
// in through deliver(), the runtime takes it with GET /next and answers through
// /response or /error (or /init/error). Thread-safe; every waiter is always completed,
// by an answer or by close(), so no coroutine is left hanging.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/one_shot.h"

namespace nimbus::runtime_api {

struct Event {
  std::string request_id;
  std::string payload;
  int64_t deadline_ms = 0;  // epoch ms; set when the runtime takes the event
  int64_t timeout_ms = 0;
  std::string invoked_arn;
  std::string trace_id;        // Lambda-Runtime-Trace-Id (X-Ray form)
  std::string traceparent;     // Lambda-Runtime-Traceparent (W3C, nimbus's own header)
  std::string tracestate;      // Lambda-Runtime-Tracestate
  std::string correlation_id;  // Lambda-Runtime-Correlation-Id (nimbus's own header)
  std::string client_context;
  std::string cognito_identity;
};

struct RuntimeReply {
  enum class Kind { kResponse, kError, kInitError, kClosed };
  Kind kind = Kind::kClosed;
  std::string body;
  std::string error_type;  // from Lambda-Runtime-Function-Error-Type, may be empty
};

inline constexpr size_t kMaxResponseBytes = 6 * 1024 * 1024;

class Channel {
 public:
  using ReplySlot = std::shared_ptr<OneShot<RuntimeReply>>;

  // Called (without locks held) when the runtime takes an event, with the deadline
  // already set: the pool starts its timeout clock here.
  std::function<void(const Event&)> on_taken;
  // Called on the first GET /next: the runtime finished its init.
  std::function<void()> on_ready;

  // --- pool side ---
  // Queues the event for the runtime; the reply arrives in the returned slot.
  // Only one event may be outstanding.
  ReplySlot deliver(Event event);
  // Ends the channel: a parked /next gets nothing, an outstanding reply gets kClosed.
  void close();
  // The init error the runtime reported, if any.
  std::optional<RuntimeReply> initError() const;

  // --- runtime side (the Runtime API endpoint) ---
  // Waits for the next event; nullopt once the channel is closed.
  boost::asio::awaitable<std::optional<Event>> next();
  enum class PostResult { kAccepted, kUnknownRequest, kTooLarge };
  PostResult postResponse(const std::string& request_id, std::string body);
  PostResult postError(const std::string& request_id, std::string error_type, std::string body);
  void postInitError(std::string error_type, std::string body);

 private:
  PostResult answer(const std::string& request_id, RuntimeReply reply);

  mutable std::mutex mutex_;
  bool closed_ = false;
  bool ready_ = false;
  std::optional<Event> queued_;  // delivered, not yet taken
  std::string taken_id_;         // taken, not yet answered
  ReplySlot reply_;
  std::shared_ptr<OneShot<std::optional<Event>>> parked_next_;
  std::optional<RuntimeReply> init_error_;
};

}  // namespace nimbus::runtime_api
