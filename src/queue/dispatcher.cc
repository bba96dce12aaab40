// The claim loop and one event's delivery: invoke, then done, retry later, or dead.
#include "queue/dispatcher.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "queue/dead_letter.h"
#include "queue/destination_record.h"
#include "queue/queue_arn.h"

namespace nimbus::queue {

namespace asio = boost::asio;

namespace {

constexpr const char* kComponent = "queue";

const char* outcomeName(model::Outcome o) {
  switch (o) {
    case model::Outcome::kSuccess:
      return "success";
    case model::Outcome::kFunctionError:
      return "function_error";
    case model::Outcome::kTimeout:
      return "timeout";
    case model::Outcome::kExitError:
      return "exit_error";
    case model::Outcome::kOutOfMemory:
      return "out_of_memory";
    case model::Outcome::kInitError:
      return "init_error";
  }
  return "unknown";
}

}  // namespace

Result<int> Dispatcher::recover() {
  auto n = store_.requeueRunningEvents(clock_.nowMillis());
  if (n && *n > 0) {
    log::warn(kComponent, "async events in flight at the last stop are queued again",
              {{"count", std::to_string(*n)}});
  }
  return n;
}

void Dispatcher::start() { asio::co_spawn(strand_, loop(), asio::detached); }

void Dispatcher::wake() {
  asio::post(strand_, [this] {
    wake_requested_ = true;
    timer_.cancel();
  });
}

std::chrono::milliseconds Dispatcher::idleSleep(int64_t now_ms) {
  std::lock_guard lock(due_mutex_);
  // What is due now was just claimed (or will be by the poll after a full claim).
  while (!retry_due_.empty() && retry_due_.top() <= now_ms) retry_due_.pop();
  if (retry_due_.empty()) return options_.idle_poll;
  return std::min(options_.idle_poll, std::chrono::milliseconds(retry_due_.top() - now_ms));
}

asio::awaitable<void> Dispatcher::loop() {
  asio::steady_timer gap(strand_);
  while (!stopped_) {
    wake_requested_ = false;
    const int64_t claimed_at = clock_.nowMillis();
    const int free = options_.workers - in_flight_.load();
    bool maybe_more = free <= 0;
    if (free > 0) {
      auto claim = [this, free, claimed_at] { return store_.claimDueEvents(claimed_at, free); };
      auto due = co_await worker_.run(std::move(claim));
      if (!due) {
        log::error(kComponent, "cannot claim async events", {{"error", due.error().message}});
        maybe_more = true;
      } else {
        maybe_more = static_cast<int>(due->size()) >= free;
        for (auto& event : *due) {
          ++in_flight_;
          asio::co_spawn(ioc_, deliver(std::move(event)), asio::detached);
        }
      }
    }
    // At most one claim per poll interval, however often commits wake the loop: claims
    // share the store with the commits of new events, and would slow their 202s.
    gap.expires_after(options_.poll);
    co_await gap.async_wait(asio::as_tuple(asio::use_awaitable));
    if (wake_requested_ || maybe_more || stopped_) continue;
    // Nothing known to wait: sleep until a commit wakes the loop or a retry falls due.
    const auto rest = idleSleep(claimed_at) - options_.poll;
    if (rest.count() <= 0) continue;
    timer_.expires_after(rest);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

store::EventInvokeConfig Dispatcher::configFor(const store::AsyncEvent& event) {
  std::string qualifier = event.qualifier.empty() ? std::string(model::kLatest) : event.qualifier;
  auto config = store_.getEventInvokeConfig(event.function_name, qualifier);
  if (config) return *config;
  store::EventInvokeConfig defaults;  // Lambda's: 2 retries, 6 hours
  defaults.function_name = event.function_name;
  defaults.qualifier = qualifier;
  return defaults;
}

asio::awaitable<void> Dispatcher::requeue(const store::AsyncEvent& event, int64_t next_attempt_ms,
                                          const std::string& last_error) {
  auto fn = [&] {
    return store_.requeueEvent(event.request_id, event.attempts, next_attempt_ms, last_error);
  };
  if (auto r = co_await worker_.run(std::move(fn)); !r) {
    log::error(kComponent, "cannot requeue async event",
               {{"request_id", event.request_id}, {"error", r.error().message}});
    co_return;
  }
  // Known to the loop only after the row is written, so the claim it triggers (or any
  // later one) sees the retry.
  {
    std::lock_guard lock(due_mutex_);
    retry_due_.push(next_attempt_ms);
  }
  wake();
}

asio::awaitable<void> Dispatcher::finish(const store::AsyncEvent& event, const std::string& status,
                                         const std::string& last_error) {
  auto fn = [&] {
    return store_.finishEvent(event.request_id, event.attempts, status, last_error);
  };
  if (auto r = co_await worker_.run(std::move(fn)); !r) {
    log::error(kComponent, "cannot end async event",
               {{"request_id", event.request_id}, {"error", r.error().message}});
  }
}

asio::awaitable<void> Dispatcher::deliver(store::AsyncEvent event) {
  auto lookup = [this, &event] { return configFor(event); };
  const store::EventInvokeConfig config = co_await worker_.run(std::move(lookup));
  const std::string id = event.request_id;
  // Arguments of co_await calls are named first: GCC 12 destroys some temporaries of
  // co_await expressions twice (ARCHITECTURE.md).
  const std::optional<model::InvokeResult> no_result;
  if (policy_.expired(event, config, clock_.nowMillis())) {
    const std::string condition = "EventAgeExceeded";
    const std::string error = "maximum event age exceeded";
    // It ran and failed before (200, as Lambda reports function errors), or it never
    // got to run (429: it waited behind throttling or a backlog).
    const int code = event.attempts > 0 ? 200 : 429;
    co_await giveUp(event, config, condition, no_result, error, code);
    --in_flight_;
    co_return;
  }

  if (throttleGateClosed(event.function_name, clock_.nowMillis())) {
    RetryDecision d = policy_.afterThrottle(event, config, clock_.nowMillis());
    if (d.retry) {
      const std::string reason = "throttled";
      co_await requeue(event, d.next_attempt_ms, reason);
    } else {
      const std::string error = "throttled until the maximum event age";
      co_await giveUp(event, config, d.condition, no_result, error, 429);
    }
    --in_flight_;
    co_return;
  }

  model::FunctionRef ref{event.function_name, std::nullopt};
  if (!event.qualifier.empty()) ref.qualifier = event.qualifier;
  model::InvokeRequest request;
  request.request_id = event.request_id;  // the invoker keeps it: same id on every attempt
  request.payload = event.payload;
  request.client_context = event.client_context;
  request.trace_id = event.trace_id;  // its Parent is the accepting gateway span
  request.tracestate = event.tracestate;
  request.correlation_id = event.correlation_id;
  // The queue-wait span: since acceptance for the first run, since it fell due for a retry.
  request.queued_since_ms = event.attempts == 0 ? event.received_ms : event.next_attempt_ms;
  request.trigger = "async";
  request.attempt = event.attempts + 1;  // throttled tries do not count, as in Lambda
  auto result = co_await invoker_.invoke(ref, std::move(request));
  const int64_t now = clock_.nowMillis();

  if (!result) {
    const Error& e = result.error();
    if (e.code == ErrorCode::kTooManyRequests || e.code == ErrorCode::kUnavailable) {
      // Throttled or shutting down: the function did not run, so no attempt is spent.
      RetryDecision d = policy_.afterThrottle(event, config, now);
      if (e.code == ErrorCode::kTooManyRequests) {
        closeThrottleGate(event.function_name, d.retry ? d.next_attempt_ms : now);
      }
      if (d.retry) {
        co_await requeue(event, d.next_attempt_ms, e.message);
      } else {
        const int code = e.code == ErrorCode::kTooManyRequests ? 429 : 503;
        co_await giveUp(event, config, d.condition, no_result, e.message, code);
      }
    } else {
      // The function is gone or cannot start: retrying will not help.
      const std::string condition = "RetriesExhausted";
      const int code = e.code == ErrorCode::kNotFound ? 404 : 500;
      co_await giveUp(event, config, condition, no_result, e.message, code);
    }
    --in_flight_;
    co_return;
  }

  ++event.attempts;
  if (!result->functionError()) {
    // Logged before the event is marked done, so that every done event has its line
    // even when nimbus is killed in between (the crash test counts these lines).
    log::info(kComponent, "async event delivered",
              {{"request_id", id},
               {"function", event.function_name},
               {"attempts", std::to_string(event.attempts)}});
    // The destination record is committed before the event is marked done: a crash in
    // between sends the record twice rather than never.
    if (!config.on_success.empty()) {
      const std::string condition = "Success";
      const std::optional<model::InvokeResult> last(*result);
      co_await notifyDestination(config.on_success, event, condition, last);
    }
    const std::string done = "done";
    const std::string no_error;
    co_await finish(event, done, no_error);
    --in_flight_;
    co_return;
  }

  std::string error = outcomeName(result->outcome);
  RetryDecision d = policy_.afterFailure(event, config, now);
  if (d.retry) {
    log::info(kComponent, "async event failed; retrying",
              {{"request_id", id},
               {"function", event.function_name},
               {"attempts", std::to_string(event.attempts)},
               {"outcome", error},
               {"retry_in_ms", std::to_string(d.next_attempt_ms - now)}});
    co_await requeue(event, d.next_attempt_ms, error);
  } else {
    const std::optional<model::InvokeResult> last(std::move(*result));
    co_await giveUp(event, config, d.condition, last, error, 200);
  }
  --in_flight_;
}

bool Dispatcher::throttleGateClosed(const std::string& function, int64_t now_ms) {
  std::lock_guard lock(gate_mutex_);
  auto it = throttled_until_.find(function);
  if (it == throttled_until_.end()) return false;
  if (now_ms < it->second) return true;
  throttled_until_.erase(it);
  return false;
}

void Dispatcher::closeThrottleGate(const std::string& function, int64_t until_ms) {
  std::lock_guard lock(gate_mutex_);
  int64_t& until = throttled_until_[function];
  until = std::max(until, until_ms);
}

asio::awaitable<void> Dispatcher::giveUp(const store::AsyncEvent& event,
                                         const store::EventInvokeConfig& config,
                                         const std::string& condition,
                                         const std::optional<model::InvokeResult>& result,
                                         const std::string& error, int error_code) {
  log::warn(kComponent, "async event dead",
            {{"request_id", event.request_id},
             {"function", event.function_name},
             {"condition", condition},
             {"attempts", std::to_string(event.attempts)},
             {"error", error}});
  // The destination record and the dead-letter message are committed before the event
  // is marked dead: a crash in between delivers them twice rather than never.
  if (!config.on_failure.empty()) {
    co_await notifyDestination(config.on_failure, event, condition, result);
  }
  co_await sendToDeadLetterQueue(event, condition, result, error, error_code);
  const std::string dead = "dead";
  co_await finish(event, dead, error);
}

asio::awaitable<void> Dispatcher::sendToDeadLetterQueue(
    const store::AsyncEvent& event, const std::string& condition,
    const std::optional<model::InvokeResult>& result, const std::string& error, int error_code) {
  const std::string version =
      event.qualifier.empty() ? std::string(model::kLatest) : event.qualifier;
  // The target is read when the event is given up, as Lambda does: a DeadLetterConfig
  // set after the event was accepted still applies to it.
  auto send = [&]() -> Result<std::string> {
    Result<model::FunctionConfig> fn = store_.getFunction(event.function_name, version);
    if (!fn) {
      // A deleted function has no DeadLetterConfig any more.
      if (fn.error().code == ErrorCode::kNotFound) return std::string();
      return fn.error();
    }
    const std::string& target = fn->dead_letter_target;
    if (target.empty()) return std::string();
    std::optional<std::string> queue = queueNameOfArn(target);
    if (!queue) return makeError(ErrorCode::kInternal, "not a queue ARN: " + target);
    const DeadLetterCause cause{condition, error_code, deadLetterErrorMessage(result, error)};
    const std::string arn = model::functionArn(invoker_.arnContext(), event.function_name, version);
    Result<void> sent =
        queues_.sendMessage(deadLetterMessage(*queue, event, arn, cause, clock_.nowMillis()));
    if (!sent) return makeError(sent.error().code, target + ": " + sent.error().message);
    return target;
  };
  Result<std::string> sent = co_await worker_.run(std::move(send));
  if (!sent) {
    // Lambda counts these as DeadLetterErrors; nimbus logs them (the event stays dead).
    log::error(kComponent, "cannot send the event to its dead-letter queue",
               {{"request_id", event.request_id},
                {"function", event.function_name},
                {"error", sent.error().message}});
  } else if (!sent->empty()) {
    log::info(kComponent, "event sent to its dead-letter queue",
              {{"request_id", event.request_id}, {"dead_letter_queue", *sent}});
  }
}

asio::awaitable<void> Dispatcher::notifyDestination(
    const std::string& destination, const store::AsyncEvent& event, const std::string& condition,
    const std::optional<model::InvokeResult>& result) {
  std::optional<std::string> source_qualifier;
  if (!event.qualifier.empty()) source_qualifier = event.qualifier;
  const std::string source_arn =
      model::functionArn(invoker_.arnContext(), event.function_name,
                         source_qualifier.value_or(std::string(model::kLatest)));
  if (std::optional<std::string> queue = queueNameOfArn(destination)) {
    auto send = [&] {
      std::string record =
          destinationRecord(event, source_arn, condition, result, clock_.nowMillis());
      return queues_.sendMessage(
          destinationMessage(*queue, event, condition, std::move(record), clock_.nowMillis()));
    };
    auto sent = co_await worker_.run(std::move(send));
    if (!sent) {
      log::error(kComponent, "cannot send the destination record",
                 {{"request_id", event.request_id},
                  {"destination", destination},
                  {"error", sent.error().message}});
    }
    co_return;
  }
  auto target = model::parseFunctionRef(destination);
  if (!target) {
    log::error(kComponent, "unsupported destination",
               {{"request_id", event.request_id}, {"destination", destination}});
    co_return;
  }
  store::AsyncEvent record;
  record.request_id = newUuid();
  record.function_name = target->name;
  record.qualifier = target->qualifier.value_or("");
  record.payload = destinationRecord(event, source_arn, condition, result, clock_.nowMillis());
  record.trace_id = event.trace_id;
  record.tracestate = event.tracestate;
  record.correlation_id = event.correlation_id;
  record.received_ms = clock_.nowMillis();
  record.next_attempt_ms = record.received_ms;
  auto committed = co_await committer_.submit(std::move(record));
  if (!committed) {
    log::error(kComponent, "cannot queue the destination record",
               {{"request_id", event.request_id},
                {"destination", destination},
                {"error", committed.error().message}});
  } else {
    log::info(
        kComponent, "destination record queued",
        {{"request_id", event.request_id}, {"destination", destination}, {"condition", condition}});
  }
}

}  // namespace nimbus::queue
