// Tests for the Channel state machine between the pool and a runtime: event hand-off in
// both orders, answers by request id, init errors, close(), size limits and callbacks.
#include "runtime_api/channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "base/time.h"

namespace nimbus::runtime_api {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Kind = RuntimeReply::Kind;

constexpr auto kDeadline = 10s;

Event makeEvent(const std::string& id, int64_t timeout_ms = 3000) {
  Event e;
  e.request_id = id;
  e.payload = R"({"n":1})";
  e.timeout_ms = timeout_ms;
  e.invoked_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  return e;
}

class ChannelTest : public ::testing::Test {
 protected:
  ChannelTest() : thread_([this] { ioc_.run(); }) {}
  ~ChannelTest() override {
    channel_->close();
    work_.reset();
    // A failed test may leave a waiter behind: do not hang on it.
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!ioc_.stopped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ioc_.stop();
    thread_.join();
  }

  // Starts a runtime-side GET /next.
  std::future<std::optional<Event>> startNext() {
    return asio::co_spawn(ioc_, channel_->next(), asio::use_future);
  }

  template <typename T>
  static T get(std::future<T>& f) {
    if (f.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "timed out waiting";
      return T{};
    }
    return f.get();
  }

  // Waits for the pool-side reply slot to be completed and returns the reply.
  RuntimeReply replyOf(const Channel::ReplySlot& slot) {
    auto f = asio::co_spawn(ioc_, slot->wait(), asio::use_future);
    return get(f);
  }

  // Delivers an event and has the runtime take it, as the normal path does.
  Channel::ReplySlot deliverAndTake(const std::string& id) {
    auto slot = channel_->deliver(makeEvent(id));
    auto next = startNext();
    auto ev = get(next);
    EXPECT_TRUE(ev.has_value());
    if (ev) {
      EXPECT_EQ(ev->request_id, id);
    }
    return slot;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::shared_ptr<Channel> channel_ = std::make_shared<Channel>();
  std::thread thread_;
};

TEST_F(ChannelTest, DeliverBeforeNext) {
  auto slot = channel_->deliver(makeEvent("r1", 3000));
  EXPECT_FALSE(slot->isSet());
  int64_t before = systemNowMillis();
  auto next = startNext();
  auto ev = get(next);
  int64_t after = systemNowMillis();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->request_id, "r1");
  EXPECT_EQ(ev->payload, R"({"n":1})");
  EXPECT_EQ(ev->invoked_arn, "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_GE(ev->deadline_ms, before + 3000);
  EXPECT_LE(ev->deadline_ms, after + 3000);
  EXPECT_FALSE(slot->isSet());
}

TEST_F(ChannelTest, NextParkedBeforeDeliver) {
  std::atomic<bool> ready{false};
  std::atomic<int> taken{0};
  channel_->on_ready = [&] { ready = true; };
  channel_->on_taken = [&](const Event&) { ++taken; };
  auto next = startNext();
  // on_ready runs after /next registered itself, so the call is parked now.
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!ready && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(ready);
  EXPECT_EQ(next.wait_for(0s), std::future_status::timeout);

  int64_t before = systemNowMillis();
  auto slot = channel_->deliver(makeEvent("r2", 5000));
  // A parked runtime takes the event inside deliver() itself.
  EXPECT_EQ(taken, 1);
  auto ev = get(next);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->request_id, "r2");
  EXPECT_GE(ev->deadline_ms, before + 5000);
  EXPECT_LE(ev->deadline_ms, systemNowMillis() + 5000);
}

TEST_F(ChannelTest, PostResponseWithTheRightIdCompletesTheReply) {
  auto slot = deliverAndTake("r1");
  EXPECT_EQ(channel_->postResponse("r1", "result"), Channel::PostResult::kAccepted);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kResponse);
  EXPECT_EQ(reply.body, "result");
  EXPECT_EQ(reply.error_type, "");
  // An answered request cannot be answered again.
  EXPECT_EQ(channel_->postResponse("r1", "again"), Channel::PostResult::kUnknownRequest);
}

TEST_F(ChannelTest, PostWithWrongIdIsRefused) {
  auto slot = deliverAndTake("r1");
  EXPECT_EQ(channel_->postResponse("other", "x"), Channel::PostResult::kUnknownRequest);
  EXPECT_EQ(channel_->postError("other", "E", "x"), Channel::PostResult::kUnknownRequest);
  EXPECT_FALSE(slot->isSet());
  EXPECT_EQ(channel_->postResponse("r1", "ok"), Channel::PostResult::kAccepted);
  EXPECT_EQ(replyOf(slot).body, "ok");
}

TEST_F(ChannelTest, PostBeforeTheEventIsTakenIsRefused) {
  auto slot = channel_->deliver(makeEvent("r1"));
  EXPECT_EQ(channel_->postResponse("r1", "early"), Channel::PostResult::kUnknownRequest);
  EXPECT_FALSE(slot->isSet());
}

TEST_F(ChannelTest, PostErrorCarriesTheHeaderErrorType) {
  auto slot = deliverAndTake("r1");
  EXPECT_EQ(channel_->postError("r1", "Custom.Failure", R"({"errorMessage":"boom"})"),
            Channel::PostResult::kAccepted);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kError);
  EXPECT_EQ(reply.error_type, "Custom.Failure");
  EXPECT_EQ(reply.body, R"({"errorMessage":"boom"})");
}

TEST_F(ChannelTest, InitErrorCompletesTheQueuedEvent) {
  auto slot = channel_->deliver(makeEvent("r1"));
  channel_->postInitError("Runtime.ImportModuleError", R"({"errorMessage":"no module"})");
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kInitError);
  EXPECT_EQ(reply.error_type, "Runtime.ImportModuleError");
  EXPECT_EQ(reply.body, R"({"errorMessage":"no module"})");
  auto stored = channel_->initError();
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->error_type, "Runtime.ImportModuleError");
  // Later deliveries fail at once with the same init error.
  auto later = channel_->deliver(makeEvent("r2"));
  ASSERT_TRUE(later->isSet());
  EXPECT_EQ(replyOf(later).kind, Kind::kInitError);
}

TEST_F(ChannelTest, InitErrorIsKeptWhenNothingIsQueued) {
  EXPECT_FALSE(channel_->initError().has_value());
  channel_->postInitError("Runtime.Unknown", "{}");
  channel_->postInitError("Second.Ignored", "{}");
  ASSERT_TRUE(channel_->initError().has_value());
  EXPECT_EQ(channel_->initError()->error_type, "Runtime.Unknown");
}

TEST_F(ChannelTest, CloseCompletesAParkedNextWithNothing) {
  auto next = startNext();
  channel_->close();
  auto ev = get(next);
  EXPECT_FALSE(ev.has_value());
  // And every later /next returns at once.
  auto again = startNext();
  EXPECT_FALSE(get(again).has_value());
}

TEST_F(ChannelTest, CloseCompletesAnOutstandingReplyWithClosed) {
  auto slot = deliverAndTake("r1");
  channel_->close();
  EXPECT_EQ(replyOf(slot).kind, Kind::kClosed);
  EXPECT_EQ(channel_->postResponse("r1", "late"), Channel::PostResult::kUnknownRequest);
}

TEST_F(ChannelTest, CloseCompletesAQueuedEventsReplyWithClosed) {
  auto slot = channel_->deliver(makeEvent("r1"));
  channel_->close();
  EXPECT_EQ(replyOf(slot).kind, Kind::kClosed);
}

TEST_F(ChannelTest, DeliverAfterCloseFailsAtOnce) {
  channel_->close();
  auto slot = channel_->deliver(makeEvent("r1"));
  ASSERT_TRUE(slot->isSet());
  EXPECT_EQ(replyOf(slot).kind, Kind::kClosed);
}

TEST_F(ChannelTest, OversizedResponseIsRefusedAndReportedToTheCaller) {
  auto slot = deliverAndTake("r1");
  EXPECT_EQ(channel_->postResponse("r1", std::string(kMaxResponseBytes + 1, 'x')),
            Channel::PostResult::kTooLarge);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kError);
  EXPECT_EQ(reply.error_type, "Function.ResponseSizeTooLarge");
  EXPECT_NE(reply.body.find("Function.ResponseSizeTooLarge"), std::string::npos);
}

TEST_F(ChannelTest, ResponseOfExactlySixMegabytesIsAccepted) {
  auto slot = deliverAndTake("r1");
  EXPECT_EQ(kMaxResponseBytes, 6u * 1024 * 1024);
  EXPECT_EQ(channel_->postResponse("r1", std::string(kMaxResponseBytes, 'x')),
            Channel::PostResult::kAccepted);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kResponse);
  EXPECT_EQ(reply.body.size(), kMaxResponseBytes);
}

TEST_F(ChannelTest, NextWithoutAnsweringFailsTheCurrentInvocation) {
  auto slot = deliverAndTake("r1");
  auto next = startNext();  // the runtime skipped /response
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, Kind::kError);
  EXPECT_EQ(reply.error_type, "Runtime.InvalidState");
  channel_->close();
  EXPECT_FALSE(get(next).has_value());
}

TEST_F(ChannelTest, OnReadyFiresOnceAndOnTakenCarriesTheDeadline) {
  std::atomic<int> ready{0};
  std::mutex mu;
  std::vector<Event> taken;
  channel_->on_ready = [&] { ++ready; };
  channel_->on_taken = [&](const Event& e) {
    std::lock_guard lock(mu);
    taken.push_back(e);
  };

  int64_t before = systemNowMillis();
  auto slot1 = deliverAndTake("r1");
  EXPECT_EQ(channel_->postResponse("r1", "a"), Channel::PostResult::kAccepted);
  auto slot2 = deliverAndTake("r2");
  EXPECT_EQ(channel_->postResponse("r2", "b"), Channel::PostResult::kAccepted);
  int64_t after = systemNowMillis();

  EXPECT_EQ(ready, 1);
  std::lock_guard lock(mu);
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].request_id, "r1");
  EXPECT_EQ(taken[1].request_id, "r2");
  for (const auto& e : taken) {
    EXPECT_GE(e.deadline_ms, before + 3000);
    EXPECT_LE(e.deadline_ms, after + 3000);
  }
}

}  // namespace
}  // namespace nimbus::runtime_api
