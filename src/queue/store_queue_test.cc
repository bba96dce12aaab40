// The Store's async queue and event invoke configs on an in-memory SQLite: enqueue,
// claim due events, retry, end, and the requeue of running events at start.
#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace nimbus::store {
namespace {

std::unique_ptr<SqliteStore> openWithFunction(const std::string& name) {
  auto store = SqliteStore::open(":memory:");
  EXPECT_TRUE(store.ok());
  model::FunctionConfig c;
  c.name = name;
  c.runtime = "python3.11";
  c.handler = "app.handler";
  EXPECT_TRUE((*store)->createFunction(c).ok());
  return std::move(*store);
}

AsyncEvent eventAt(const std::string& id, int64_t due_ms) {
  AsyncEvent e;
  e.request_id = id;
  e.function_name = "f";
  e.payload = R"({"n":1})";
  e.trace_id = "Root=1-x";
  e.tracestate = "vendor=1";
  e.correlation_id = "order-" + id;
  e.received_ms = due_ms;
  e.next_attempt_ms = due_ms;
  return e;
}

TEST(StoreQueueTest, EnqueueAndClaimDueEventsOnce) {
  auto store = openWithFunction("f");
  ASSERT_TRUE(store->enqueueEvents({eventAt("a", 100), eventAt("b", 200), eventAt("c", 300)}).ok());
  auto due = store->claimDueEvents(250, 10);
  ASSERT_TRUE(due.ok()) << due.error().message;
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].request_id, "a");
  EXPECT_EQ((*due)[0].payload, R"({"n":1})");
  EXPECT_EQ((*due)[0].trace_id, "Root=1-x");
  EXPECT_EQ((*due)[0].tracestate, "vendor=1");
  EXPECT_EQ((*due)[0].correlation_id, "order-a");
  EXPECT_EQ((*due)[1].request_id, "b");
  EXPECT_EQ((*due)[1].status, "running");
  EXPECT_TRUE(store->claimDueEvents(250, 10)->empty());   // running: not claimed twice
  EXPECT_EQ(store->claimDueEvents(1000, 1)->size(), 1u);  // the limit holds
  EXPECT_EQ(store->countEvents("f")->at("running"), 3);
}

TEST(StoreQueueTest, DuplicateIdsAreAConflictAndTheBatchIsUndone) {
  auto store = openWithFunction("f");
  ASSERT_TRUE(store->enqueueEvents({eventAt("a", 1)}).ok());
  auto r = store->enqueueEvents({eventAt("b", 1), eventAt("a", 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store->countEvents("f")->at("queued"), 1);  // b was rolled back with a
}

TEST(StoreQueueTest, RequeueAndFinish) {
  auto store = openWithFunction("f");
  ASSERT_TRUE(store->enqueueEvents({eventAt("a", 0)}).ok());
  ASSERT_EQ(store->claimDueEvents(0, 10)->size(), 1u);
  ASSERT_TRUE(store->requeueEvent("a", 1, 5000, "function_error").ok());
  EXPECT_TRUE(store->claimDueEvents(4999, 10)->empty());
  auto again = store->claimDueEvents(5000, 10);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].attempts, 1);
  EXPECT_EQ((*again)[0].last_error, "function_error");
  ASSERT_TRUE(store->finishEvent("a", 2, "done", "").ok());
  EXPECT_EQ(store->countEvents("f")->at("done"), 1);
  EXPECT_EQ(store->finishEvent("nope", 1, "dead", "").error().code, ErrorCode::kNotFound);
}

TEST(StoreQueueTest, RunningEventsAreQueuedAgainAtStart) {
  auto store = openWithFunction("f");
  ASSERT_TRUE(store->enqueueEvents({eventAt("a", 0), eventAt("b", 0), eventAt("c", 9999)}).ok());
  ASSERT_EQ(store->claimDueEvents(0, 10)->size(), 2u);
  auto n = store->requeueRunningEvents(50);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  auto due = store->claimDueEvents(50, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].request_id, "a");  // same ids: at-least-once, not a new event
}

TEST(StoreQueueTest, EventInvokeConfigs) {
  auto store = openWithFunction("f");
  EXPECT_EQ(store->getEventInvokeConfig("f", "$LATEST").error().code, ErrorCode::kNotFound);
  EventInvokeConfig c;
  c.function_name = "f";
  c.maximum_retry_attempts = 0;
  c.on_failure = "arn:aws:lambda:us-east-1:000000000000:function:dlq";
  ASSERT_TRUE(store->putEventInvokeConfig(c).ok());
  c.maximum_event_age_seconds = 60;
  ASSERT_TRUE(store->putEventInvokeConfig(c).ok());  // replaces
  auto got = store->getEventInvokeConfig("f", "$LATEST");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->maximum_retry_attempts, 0);
  EXPECT_EQ(got->maximum_event_age_seconds, 60);
  EXPECT_EQ(got->on_failure, c.on_failure);
  EXPECT_EQ(store->listEventInvokeConfigs("f")->size(), 1u);
  c.function_name = "nope";
  EXPECT_EQ(store->putEventInvokeConfig(c).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(store->deleteEventInvokeConfig("f", "$LATEST").ok());
  EXPECT_EQ(store->deleteEventInvokeConfig("f", "$LATEST").error().code, ErrorCode::kNotFound);
  // Configs go with their function.
  c.function_name = "f";
  ASSERT_TRUE(store->putEventInvokeConfig(c).ok());
  ASSERT_TRUE(store->deleteFunction("f").ok());
  EXPECT_TRUE(store->listEventInvokeConfigs("f")->empty());
}

}  // namespace
}  // namespace nimbus::store
