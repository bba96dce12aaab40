// QueueStore on an in-memory SQLite: named queues and their messages (peek paging,
// receive with visibility), replay of a message into the event queue under the same
// request id, idempotency key claims (live, expired, async with enqueue), and the
// retention sweep.
#include <gtest/gtest.h>

#include "base/time.h"
#include "queue/destination_record.h"
#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

std::unique_ptr<SqliteStore> openStore() {
  auto store = SqliteStore::open(":memory:");
  EXPECT_TRUE(store.ok());
  model::FunctionConfig c;
  c.name = "f";
  c.runtime = "python3.11";
  c.handler = "app.handler";
  EXPECT_TRUE((*store)->createFunction(c).ok());
  return std::move(*store);
}

QueueMessage messageOf(const std::string& queue, const std::string& id, int64_t sent_ms) {
  QueueMessage m;
  m.queue = queue;
  m.message_id = id;
  m.body = "body-" + id;
  m.sent_ms = sent_ms;
  return m;
}

TEST(QueueStoreTest, QueuesAreCreatedOnceListedAndDeletedWithTheirMessages) {
  auto s = openStore();
  ASSERT_TRUE(s->createQueue("dlq", 1).ok());
  auto again = s->createQueue("dlq", 2);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(s->sendMessage(messageOf("dlq", "m1", 10)).ok());
  ASSERT_TRUE(s->sendMessage(messageOf("dlq", "m2", 20)).ok());
  auto sent = s->sendMessage(messageOf("missing", "m3", 30));
  ASSERT_FALSE(sent.ok());
  EXPECT_EQ(sent.error().code, ErrorCode::kNotFound);

  auto info = s->getQueue("dlq", 100);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->depth, 2);
  EXPECT_EQ(info->oldest_sent_ms, 10);
  ASSERT_TRUE(s->deleteQueue("dlq").ok());
  EXPECT_EQ(s->getQueue("dlq", 100).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(s->createQueue("dlq", 3).ok());
  EXPECT_EQ(s->getQueue("dlq", 100)->depth, 0);  // the old messages went with the queue
}

TEST(QueueStoreTest, PeekPagesOldestFirstWithoutChangingAnything) {
  auto s = openStore();
  ASSERT_TRUE(s->createQueue("q", 1).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s->sendMessage(messageOf("q", "m" + std::to_string(i), i)).ok());
  }
  auto first = s->peekMessages("q", "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].message_id, "m0");
  auto second = s->peekMessages("q", (*first)[1].message_id, 10);
  ASSERT_EQ(second->size(), 3u);
  EXPECT_EQ((*second)[0].message_id, "m2");
  EXPECT_EQ((*second)[0].receive_count, 0);
}

TEST(QueueStoreTest, ReceivedMessagesHideForTheVisibilityTimeoutThenComeBack) {
  auto s = openStore();
  ASSERT_TRUE(s->createQueue("q", 1).ok());
  ASSERT_TRUE(s->sendMessage(messageOf("q", "a", 1)).ok());
  ASSERT_TRUE(s->sendMessage(messageOf("q", "b", 2)).ok());
  auto got = s->receiveMessages("q", 1000, 1, 30000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].message_id, "a");
  EXPECT_FALSE((*got)[0].receipt_handle.empty());
  EXPECT_EQ(s->getQueue("q", 1000)->in_flight, 1);
  auto next = s->receiveMessages("q", 2000, 10, 30000);
  ASSERT_EQ(next->size(), 1u);  // "a" is hidden
  EXPECT_EQ((*next)[0].message_id, "b");
  auto later = s->receiveMessages("q", 31001, 10, 30000);
  ASSERT_EQ(later->size(), 1u);  // "a" is visible again, "b" still hidden
  EXPECT_EQ((*later)[0].message_id, "a");
  EXPECT_EQ((*later)[0].receive_count, 2);
  ASSERT_TRUE(s->deleteMessage("q", "a").ok());
  EXPECT_EQ(s->deleteMessage("q", "a").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(s->purgeQueue("q").value(), 1);
}

TEST(QueueStoreTest, ReplayReopensTheDeadEventUnderItsRequestIdAndTakesTheMessage) {
  auto s = openStore();
  ASSERT_TRUE(s->createQueue("dlq", 1).ok());
  AsyncEvent e;
  e.request_id = "req-1";
  e.function_name = "f";
  e.payload = R"({"n":1})";
  e.received_ms = 10;
  e.next_attempt_ms = 10;
  ASSERT_TRUE(s->enqueueEvents({e}).ok());
  ASSERT_EQ(s->claimDueEvents(10, 1)->size(), 1u);
  ASSERT_TRUE(s->finishEvent("req-1", 3, "dead", "function_error").ok());
  e.attempts = 3;
  std::string record =
      queue::destinationRecord(e, "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST",
                               "RetriesExhausted", std::nullopt, 20);
  ASSERT_TRUE(
      s->sendMessage(queue::destinationMessage("dlq", e, "RetriesExhausted", record, 20)).ok());
  auto msgs = s->peekMessages("dlq", "", 10);
  ASSERT_EQ(msgs->size(), 1u);

  auto target = queue::replayTargetOf((*msgs)[0].body);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->request_id, "req-1");
  EXPECT_EQ(target->payload, R"({"n":1})");
  AsyncEvent again;
  again.request_id = target->request_id;
  again.function_name = "f";
  again.payload = target->payload;
  again.received_ms = 500;
  again.next_attempt_ms = 500;
  auto replays = s->replayMessage("dlq", (*msgs)[0].message_id, again);
  ASSERT_TRUE(replays.ok());
  EXPECT_EQ(*replays, 1);
  EXPECT_EQ(s->getQueue("dlq", 600)->depth, 0);
  auto due = s->claimDueEvents(600, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].request_id, "req-1");
  EXPECT_EQ((*due)[0].attempts, 0);  // a fresh set of attempts
  EXPECT_EQ((*due)[0].replay_count, 1);
  // A message that is gone cannot be replayed twice.
  EXPECT_EQ(s->replayMessage("dlq", (*msgs)[0].message_id, again).error().code,
            ErrorCode::kNotFound);
}

TEST(QueueStoreTest, ReplayTargetRejectsWhatIsNotADestinationRecord) {
  EXPECT_FALSE(queue::replayTargetOf("hello").ok());
  EXPECT_FALSE(queue::replayTargetOf(R"({"requestContext":{}})").ok());
  EXPECT_FALSE(queue::replayTargetOf(R"({"requestContext":{"requestId":"x"}})").ok());
}

IdempotencyRecord claimOf(const std::string& key, const std::string& rid, int64_t now,
                          int64_t ttl = 1000) {
  IdempotencyRecord r;
  r.function_name = "f";
  r.kind = "sync";
  r.key = key;
  r.request_id = rid;
  r.status = "running";
  r.created_ms = now;
  r.expires_ms = now + ttl;
  return r;
}

TEST(QueueStoreTest, AnIdempotencyKeyIsHeldUntilItExpires) {
  auto s = openStore();
  auto first = s->claimIdempotencyKey(claimOf("k", "r1", 100));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->request_id, "r1");
  auto busy = s->claimIdempotencyKey(claimOf("k", "r2", 200));
  EXPECT_EQ(busy->request_id, "r1");
  EXPECT_EQ(busy->status, "running");
  ASSERT_TRUE(s->completeIdempotencyKey("f", "sync", "k", "answer").ok());
  auto done = s->claimIdempotencyKey(claimOf("k", "r3", 300));
  EXPECT_EQ(done->request_id, "r1");
  EXPECT_EQ(done->status, "done");
  EXPECT_EQ(done->response, "answer");
  // Another kind or function has its own keys.
  auto async_claim = claimOf("k", "r4", 300);
  async_claim.kind = "async";
  EXPECT_EQ(s->claimIdempotencyKey(async_claim)->request_id, "r4");
  // Expired: the key is free for a new claim.
  auto expired = s->claimIdempotencyKey(claimOf("k", "r5", 1100));
  EXPECT_EQ(expired->request_id, "r5");
  // Release removes only one's own claim.
  ASSERT_TRUE(s->releaseIdempotencyKey("f", "sync", "k", "r1").ok());
  EXPECT_EQ(s->claimIdempotencyKey(claimOf("k", "r6", 1200))->request_id, "r5");
  ASSERT_TRUE(s->releaseIdempotencyKey("f", "sync", "k", "r5").ok());
  EXPECT_EQ(s->claimIdempotencyKey(claimOf("k", "r7", 1200))->request_id, "r7");
  EXPECT_EQ(s->releaseRunningSyncKeys().value(), 1);
}

TEST(QueueStoreTest, AsyncEventsWithATakenKeyAreNotQueuedAgain) {
  auto s = openStore();
  AsyncEvent a;
  a.request_id = "a";
  a.function_name = "f";
  a.received_ms = 100;
  a.idempotency_key = "key";
  a.idempotency_expires_ms = 1000;
  AsyncEvent b = a;
  b.request_id = "b";
  AsyncEvent c = a;
  c.request_id = "c";
  c.idempotency_key.clear();
  auto ids = s->enqueueEvents({a, b, c});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"a", "a", "c"}));
  EXPECT_EQ(s->claimDueEvents(1000, 10)->size(), 2u);
}

TEST(QueueStoreTest, SweepDeletesOldFinishedEventsAndExpiredKeys) {
  auto s = openStore();
  AsyncEvent e;
  e.function_name = "f";
  for (const char* id : {"done", "queued"}) {
    e.request_id = id;
    ASSERT_TRUE(s->enqueueEvents({e}).ok());
  }
  ASSERT_TRUE(s->finishEvent("done", 1, "done", "").ok());
  ASSERT_TRUE(s->claimIdempotencyKey(claimOf("old", "r1", 0, 10)).ok());
  ASSERT_TRUE(s->claimIdempotencyKey(claimOf("live", "r2", 0, 1'000'000'000'000'000)).ok());
  auto deleted = s->sweep(100, systemNowMillis() + 1000);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);  // the done event and the expired key
  auto counts = s->countEvents("f");
  EXPECT_EQ(counts->at("queued"), 1);
  EXPECT_EQ(counts->count("done"), 0u);
}

}  // namespace
}  // namespace nimbus::store
