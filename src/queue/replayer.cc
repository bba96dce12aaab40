// One message's replay, and the paced whole-queue replay loop.
#include "queue/replayer.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <vector>

#include "base/log.h"
#include "queue/dead_letter.h"

namespace nimbus::queue {

namespace asio = boost::asio;

namespace {
constexpr const char* kComponent = "queue";
constexpr int kPage = 500;
}  // namespace

Result<ReplayOutcome> Replayer::replayNow(const std::string& queue, const std::string& message_id) {
  Result<store::QueueMessage> message = queues_.getMessage(queue, message_id);
  if (!message) return message.error();
  Result<ReplayTarget> target = replayTargetOfMessage(*message);
  if (!target) return target.error();
  Result<model::FunctionRef> ref = model::parseFunctionRef(target->function_arn);
  if (!ref) return ref.error();
  const std::string version = ref->qualifier.value_or(model::kLatest);
  if (auto fn = store_.getFunction(ref->name, version); !fn) return fn.error();

  store::AsyncEvent event;
  event.request_id = target->request_id;
  event.function_name = ref->name;
  event.qualifier = ref->qualifier.value_or("");
  event.payload = target->payload;
  event.received_ms = clock_.nowMillis();
  event.next_attempt_ms = event.received_ms;
  Result<int> replays = queues_.replayMessage(queue, message_id, event);
  if (!replays) return replays.error();
  log::info(kComponent, "message replayed",
            {{"request_id", event.request_id},
             {"queue", queue},
             {"function", event.function_name},
             {"replay_count", std::to_string(*replays)}});
  return ReplayOutcome{event.request_id, event.function_name, *replays};
}

asio::awaitable<Result<ReplayOutcome>> Replayer::replayOne(const std::string& queue,
                                                           const std::string& message_id) {
  auto fn = [this, &queue, &message_id] { return replayNow(queue, message_id); };
  co_return co_await worker_.run(std::move(fn));
}

Result<void> Replayer::start(const std::string& queue, double rate) {
  if (!(rate >= kMinReplayRate && rate <= kMaxReplayRate)) {
    return makeError(ErrorCode::kInvalidParameter, "Rate must be between 0.1 and 1000");
  }
  {
    std::lock_guard lock(mutex_);
    ReplayStatus& job = jobs_[queue];
    if (job.running) {
      return makeError(ErrorCode::kConflict, "A replay of queue " + queue + " is already running");
    }
    job = ReplayStatus{true, 0, 0, 0, rate};
  }
  asio::co_spawn(ioc_, run(queue, rate), asio::detached);
  return {};
}

ReplayStatus Replayer::status(const std::string& queue) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(queue);
  return it == jobs_.end() ? ReplayStatus{} : it->second;
}

void Replayer::update(const std::string& queue, bool replayed) {
  std::lock_guard lock(mutex_);
  ReplayStatus& job = jobs_[queue];
  (replayed ? job.replayed : job.failed) += 1;
  if (job.remaining > 0) --job.remaining;
}

asio::awaitable<void> Replayer::run(std::string queue, double rate) {
  // The messages present when the replay starts; later arrivals wait for the next one.
  auto list = [this, &queue]() -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    std::string after;
    for (;;) {
      auto page = queues_.peekMessages(queue, after, kPage);
      if (!page) return page.error();
      for (const auto& m : *page) ids.push_back(m.message_id);
      if (static_cast<int>(page->size()) < kPage) return ids;
      after = ids.back();
    }
  };
  Result<std::vector<std::string>> ids = co_await worker_.run(std::move(list));
  if (!ids) {
    log::error(kComponent, "cannot list the queue to replay",
               {{"queue", queue}, {"error", ids.error().message}});
  } else {
    {
      std::lock_guard lock(mutex_);
      jobs_[queue].remaining = static_cast<int>(ids->size());
    }
    log::info(kComponent, "replay started",
              {{"queue", queue},
               {"messages", std::to_string(ids->size())},
               {"rate", std::to_string(rate)}});
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / rate));
    auto next = std::chrono::steady_clock::now();
    asio::steady_timer timer(ioc_);
    for (const std::string& id : *ids) {
      if (stopped_) break;
      timer.expires_at(next);
      co_await timer.async_wait(asio::use_awaitable);
      next += interval;
      Result<ReplayOutcome> outcome = co_await replayOne(queue, id);
      if (!outcome) {
        log::warn(kComponent, "message not replayed",
                  {{"queue", queue}, {"message_id", id}, {"error", outcome.error().message}});
      }
      update(queue, outcome.ok());
    }
  }
  std::lock_guard lock(mutex_);
  ReplayStatus& job = jobs_[queue];
  job.running = false;
  log::info(kComponent, "replay finished",
            {{"queue", queue},
             {"replayed", std::to_string(job.replayed)},
             {"failed", std::to_string(job.failed)}});
}

}  // namespace nimbus::queue
