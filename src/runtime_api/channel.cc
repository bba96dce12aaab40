// Event hand-off state machine: queued -> taken -> answered, or closed at any point.
#include "runtime_api/channel.h"

#include "base/time.h"

namespace nimbus::runtime_api {

Channel::ReplySlot Channel::deliver(Event event) {
  auto slot = std::make_shared<OneShot<RuntimeReply>>();
  std::shared_ptr<OneShot<std::optional<Event>>> parked;
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      slot->set(RuntimeReply{RuntimeReply::Kind::kClosed, {}, {}});
      return slot;
    }
    if (init_error_) {
      slot->set(*init_error_);
      return slot;
    }
    reply_ = slot;
    if (parked_next_) {
      parked = std::move(parked_next_);
      parked_next_.reset();
      event.deadline_ms = systemNowMillis() + event.timeout_ms;
      taken_id_ = event.request_id;
    } else {
      queued_ = std::move(event);
      return slot;
    }
  }
  if (on_taken) on_taken(event);
  parked->set(std::move(event));
  return slot;
}

void Channel::close() {
  std::shared_ptr<OneShot<std::optional<Event>>> parked;
  ReplySlot reply;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    parked = std::move(parked_next_);
    reply = std::move(reply_);
    queued_.reset();
    taken_id_.clear();
  }
  if (parked) parked->set(std::nullopt);
  if (reply) {
    RuntimeReply r{RuntimeReply::Kind::kClosed, {}, {}};
    std::optional<RuntimeReply> init = initError();
    reply->set(init ? *init : r);
  }
}

std::optional<RuntimeReply> Channel::initError() const {
  std::lock_guard lock(mutex_);
  return init_error_;
}

boost::asio::awaitable<std::optional<Event>> Channel::next() {
  std::shared_ptr<OneShot<std::optional<Event>>> waiter;
  std::optional<Event> ready_event;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (!ready_) first = ready_ = true;
    if (closed_) co_return std::nullopt;
    if (!taken_id_.empty() && reply_) {
      // The runtime asked for the next event without answering this one: Lambda
      // treats that as an error of the current invocation.
      auto reply = std::move(reply_);
      taken_id_.clear();
      reply->set(RuntimeReply{RuntimeReply::Kind::kError,
                              R"({"errorMessage":"Runtime requested the next event without )"
                              R"(answering the current one","errorType":"Runtime.InvalidState"})",
                              "Runtime.InvalidState"});
    }
    if (queued_) {
      ready_event = std::move(queued_);
      queued_.reset();
      ready_event->deadline_ms = systemNowMillis() + ready_event->timeout_ms;
      taken_id_ = ready_event->request_id;
    } else {
      waiter = std::make_shared<OneShot<std::optional<Event>>>();
      parked_next_ = waiter;
    }
  }
  if (first && on_ready) on_ready();
  if (ready_event) {
    if (on_taken) on_taken(*ready_event);
    co_return ready_event;
  }
  co_return co_await waiter->wait();
}

Channel::PostResult Channel::answer(const std::string& request_id, RuntimeReply reply) {
  ReplySlot slot;
  {
    std::lock_guard lock(mutex_);
    if (closed_ || taken_id_.empty() || taken_id_ != request_id || !reply_) {
      return PostResult::kUnknownRequest;
    }
    slot = std::move(reply_);
    taken_id_.clear();
  }
  slot->set(std::move(reply));
  return PostResult::kAccepted;
}

Channel::PostResult Channel::postResponse(const std::string& request_id, std::string body) {
  if (body.size() > kMaxResponseBytes) {
    std::string msg =
        R"({"errorMessage":"Response payload size exceeded maximum allowed )"
        R"(payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"})";
    PostResult r = answer(request_id, RuntimeReply{RuntimeReply::Kind::kError, std::move(msg),
                                                   "Function.ResponseSizeTooLarge"});
    return r == PostResult::kAccepted ? PostResult::kTooLarge : r;
  }
  return answer(request_id, RuntimeReply{RuntimeReply::Kind::kResponse, std::move(body), {}});
}

Channel::PostResult Channel::postError(const std::string& request_id, std::string error_type,
                                       std::string body) {
  return answer(request_id,
                RuntimeReply{RuntimeReply::Kind::kError, std::move(body), std::move(error_type)});
}

void Channel::postInitError(std::string error_type, std::string body) {
  ReplySlot slot;
  RuntimeReply reply{RuntimeReply::Kind::kInitError, std::move(body), std::move(error_type)};
  {
    std::lock_guard lock(mutex_);
    if (!init_error_) init_error_ = reply;
    if (queued_ && reply_) {
      slot = std::move(reply_);
      queued_.reset();
    }
  }
  if (slot) slot->set(std::move(reply));
}

}  // namespace nimbus::runtime_api
