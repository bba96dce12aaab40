// DeadLetterConfig messages: the body is the event as received, the attributes carry
// Lambda's RequestID/ErrorCode/ErrorMessage and nimbus's FunctionArn; replay reads
// such a message back (attributes before body) and a Replayer really re-queues it.
#include "queue/dead_letter.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <optional>

#include "queue/replayer.h"
#include "store/sqlite_store.h"

namespace nimbus::queue {
namespace {

namespace json = boost::json;

constexpr const char* kArn = "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST";

store::AsyncEvent sampleEvent() {
  store::AsyncEvent e;
  e.request_id = "req-1";
  e.function_name = "f";
  e.payload = R"({ "order" : 1,  "note":"kept as sent" })";
  e.attempts = 3;
  e.replay_count = 1;
  return e;
}

json::object attributesOf(const store::QueueMessage& m) {
  return json::parse(m.attributes).as_object();
}

model::InvokeResult failed(std::string payload, std::string error_type = "") {
  model::InvokeResult r;
  r.outcome = model::Outcome::kFunctionError;
  r.payload = std::move(payload);
  r.error_type = std::move(error_type);
  return r;
}

TEST(DeadLetterMessage, BodyIsTheOriginalEventAndAttributesAreLambdas) {
  const store::AsyncEvent e = sampleEvent();
  const DeadLetterCause cause{"RetriesExhausted", 200, "boom"};
  store::QueueMessage m = deadLetterMessage("dlq", e, kArn, cause, 42);
  EXPECT_EQ(m.queue, "dlq");
  EXPECT_FALSE(m.message_id.empty());
  EXPECT_EQ(m.body, e.payload) << "the payload byte for byte, not a destination record";
  EXPECT_EQ(m.sent_ms, 42);
  json::object a = attributesOf(m);
  EXPECT_EQ(a.at("RequestID"), json::value("req-1"));
  EXPECT_EQ(a.at("ErrorCode"), json::value(200));
  EXPECT_EQ(a.at("ErrorMessage"), json::value("boom"));
  EXPECT_EQ(a.at("FunctionArn"), json::value(kArn));
  EXPECT_EQ(a.at("SourceFunction"), json::value("f"));
  EXPECT_EQ(a.at("Condition"), json::value("RetriesExhausted"));
  EXPECT_EQ(a.at("ApproximateInvokeCount"), json::value(3));
  EXPECT_EQ(a.at("ReplayCount"), json::value(1));
}

TEST(DeadLetterErrorMessage, FunctionErrorMessageElseTypeElseFallback) {
  EXPECT_EQ(deadLetterErrorMessage(failed(R"({"errorMessage":"bad order","errorType":"E"})"),
                                   "function_error"),
            "bad order");
  EXPECT_EQ(deadLetterErrorMessage(failed("not json", "Runtime.ExitError"), "exit_error"),
            "Runtime.ExitError");
  EXPECT_EQ(deadLetterErrorMessage(failed("", ""), "timeout"), "timeout");
  EXPECT_EQ(deadLetterErrorMessage(std::nullopt, "throttled"), "throttled");
  model::InvokeResult ok;
  ok.payload = R"({"errorMessage":"not an error"})";
  EXPECT_EQ(deadLetterErrorMessage(ok, "fallback"), "fallback");
}

TEST(DeadLetterErrorMessage, CutToOneKilobyteOnACharacterBoundary) {
  // 1023 ASCII bytes then a 3-byte character: the character must go whole.
  std::string text(1023, 'x');
  text += "\xE2\x82\xAC and more";
  std::string cut = deadLetterErrorMessage(std::nullopt, text);
  EXPECT_EQ(cut, std::string(1023, 'x'));
  EXPECT_EQ(deadLetterErrorMessage(std::nullopt, std::string(5000, 'y')).size(),
            kMaxDeadLetterErrorBytes);
  const DeadLetterCause cause{"RetriesExhausted", 200, std::string(3000, 'z')};
  json::object a = attributesOf(deadLetterMessage("dlq", sampleEvent(), kArn, cause, 1));
  EXPECT_EQ(a.at("ErrorMessage").as_string().size(), kMaxDeadLetterErrorBytes);
}

TEST(ReplayTargetOfMessage, DeadLetterFormUsesAttributesAndTheBodyAsPayload) {
  const DeadLetterCause cause{"EventAgeExceeded", 429, "throttled"};
  store::QueueMessage m = deadLetterMessage("dlq", sampleEvent(), kArn, cause, 1);
  Result<ReplayTarget> t = replayTargetOfMessage(m);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->request_id, "req-1");
  EXPECT_EQ(t->function_arn, kArn);
  EXPECT_EQ(t->payload, sampleEvent().payload);
}

TEST(ReplayTargetOfMessage, AttributesWinOverABodyThatIsADestinationRecord) {
  // Function g is f's OnFailure destination, so its events are f's records; when g
  // gives one up, replay must send it back to g, not to f.
  store::AsyncEvent to_g = sampleEvent();
  to_g.request_id = "req-g";
  to_g.function_name = "g";
  to_g.payload = destinationRecord(sampleEvent(), kArn, "RetriesExhausted", std::nullopt, 5);
  const std::string g_arn = "arn:aws:lambda:us-east-1:000000000000:function:g:$LATEST";
  const DeadLetterCause cause{"RetriesExhausted", 200, "g failed"};
  Result<ReplayTarget> t = replayTargetOfMessage(deadLetterMessage("dlq", to_g, g_arn, cause, 1));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->request_id, "req-g");
  EXPECT_EQ(t->function_arn, g_arn);
  EXPECT_EQ(t->payload, to_g.payload);
}

TEST(ReplayTargetOfMessage, DestinationRecordsStillReplayAndOtherMessagesDoNot) {
  const store::AsyncEvent e = sampleEvent();
  std::string record = destinationRecord(e, kArn, "RetriesExhausted", std::nullopt, 5);
  Result<ReplayTarget> t =
      replayTargetOfMessage(destinationMessage("dlq", e, "RetriesExhausted", record, 5));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->request_id, "req-1");
  EXPECT_EQ(t->function_arn, kArn);
  EXPECT_EQ(json::parse(t->payload), json::parse(e.payload));

  store::QueueMessage plain;
  plain.body = R"({"hello":1})";
  plain.attributes = R"({"RequestID":"r"})";  // no FunctionArn: not ours to replay
  EXPECT_FALSE(replayTargetOfMessage(plain).ok());
  plain.attributes = "";
  EXPECT_FALSE(replayTargetOfMessage(plain).ok());
}

class FixedClock : public Clock {
 public:
  int64_t nowMillis() const override { return 1000; }
};

TEST(ReplayerWithDeadLetterMessages, QueuesTheEventAgainUnderItsRequestIdWithItsPayload) {
  auto opened = store::SqliteStore::open(":memory:");
  ASSERT_TRUE(opened.ok());
  store::SqliteStore& s = **opened;
  model::FunctionConfig c;
  c.name = "f";
  c.runtime = "python3.11";
  c.handler = "app.handler";
  ASSERT_TRUE(s.createFunction(c).ok());
  ASSERT_TRUE(s.createQueue("dlq", 1).ok());
  store::AsyncEvent e = sampleEvent();
  e.received_ms = 10;
  e.next_attempt_ms = 10;
  e.attempts = 0;
  e.replay_count = 0;
  ASSERT_TRUE(s.enqueueEvents({e}).ok());
  ASSERT_EQ(s.claimDueEvents(10, 1)->size(), 1u);
  ASSERT_TRUE(s.finishEvent("req-1", 1, "dead", "function_error").ok());
  const DeadLetterCause cause{"RetriesExhausted", 200, "boom"};
  store::QueueMessage m = deadLetterMessage("dlq", e, kArn, cause, 20);
  ASSERT_TRUE(s.sendMessage(m).ok());

  boost::asio::io_context ioc;
  BlockingWorker worker(1);
  FixedClock clock;
  Replayer replayer(ioc, s, s, worker, clock);
  // Arguments named first: GCC 12 mishandles temporaries in co_await expressions.
  const std::string queue = "dlq";
  const std::string id = m.message_id;
  std::optional<Result<ReplayOutcome>> replayed;
  auto replay = [&]() -> boost::asio::awaitable<void> {
    Result<ReplayOutcome> r = co_await replayer.replayOne(queue, id);
    replayed.emplace(std::move(r));
  };
  // The worker resumes the coroutine through a post: keep run() going until it ends.
  auto guard = boost::asio::make_work_guard(ioc);
  boost::asio::co_spawn(ioc, replay, [&guard](const std::exception_ptr&) { guard.reset(); });
  ioc.run();
  ASSERT_TRUE(replayed.has_value());
  const Result<ReplayOutcome>& outcome = *replayed;
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->request_id, "req-1");
  EXPECT_EQ(outcome->function_name, "f");
  EXPECT_EQ(outcome->replay_count, 1);
  EXPECT_EQ(s.getQueue("dlq", 1000)->depth, 0);
  auto due = s.claimDueEvents(1000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].request_id, "req-1");
  EXPECT_EQ((*due)[0].payload, e.payload);
}

}  // namespace
}  // namespace nimbus::queue
