// Tests for the queue, dlq and async verbs without a server: how their options parse,
// and the tables, ages, timestamps and replay progress they print.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

class QueueCommandsTest : public ::testing::Test {
 protected:
  QueueCommandsTest() {
    ::unsetenv("NIMBUS_ENDPOINT");
    ::unsetenv("NIMBUS_DATA");
    addClientCommands(app_);
  }

  void parse(std::vector<std::string> args) {
    std::reverse(args.begin(), args.end());  // CLI11 takes the vector back to front
    app_.parse(args);
  }

  const CLI::App& leaf(const char* group, const char* verb) {
    return *app_.get_subcommand(group)->get_subcommand(verb);
  }

  CLI::App app_{"nimbus"};
};

TEST_F(QueueCommandsTest, ReceiveOptions) {
  parse({"queue", "receive", "orders", "--max", "5", "--visibility-timeout", "0", "--delete",
         "--endpoint", "http://h:1"});
  const CLI::App& sub = leaf("queue", "receive");
  EXPECT_EQ(optionValue(sub, "name"), "orders");
  EXPECT_EQ(intOptionValue(sub, "--max"), 5);
  EXPECT_EQ(intOptionValue(sub, "--visibility-timeout"), 0);
  EXPECT_TRUE(flagGiven(sub, "--delete"));
  EXPECT_EQ(readCommonOptions(sub).endpoint, "http://h:1");
}

TEST_F(QueueCommandsTest, QueueNeedsAVerbAndItsArguments) {
  EXPECT_THROW(parse({"queue"}), CLI::ParseError);
  EXPECT_THROW(parse({"queue", "create"}), CLI::ParseError);
  EXPECT_THROW(parse({"queue", "send", "q"}), CLI::ParseError);
  EXPECT_THROW(parse({"queue", "receive", "q", "--max", "0"}), CLI::ParseError);
  EXPECT_THROW(parse({"queue", "receive", "q", "--visibility-timeout", "-1"}), CLI::ParseError);
}

TEST_F(QueueCommandsTest, DlqVerbs) {
  parse({"dlq", "replay", "orders-dlq", "--rate", "5", "--no-wait"});
  const CLI::App& replay = leaf("dlq", "replay");
  EXPECT_EQ(optionValue(replay, "queue"), "orders-dlq");
  EXPECT_EQ(optionValue(replay, "--rate"), "5");
  EXPECT_TRUE(flagGiven(replay, "--no-wait"));
}

TEST_F(QueueCommandsTest, DlqLsQueueIsOptional) {
  parse({"dlq", "ls", "--json"});
  const CLI::App& ls = leaf("dlq", "ls");
  EXPECT_FALSE(optionValue(ls, "queue"));
  EXPECT_TRUE(flagGiven(ls, "--json"));
}

TEST_F(QueueCommandsTest, DlqShowTakesAnOptionalId) {
  parse({"dlq", "show", "q", "m-1"});
  EXPECT_EQ(optionValue(leaf("dlq", "show"), "id"), "m-1");
}

TEST_F(QueueCommandsTest, BadReplayRateIsRejectedLocally) {
  parse({"dlq", "replay", "q", "--rate", "fast", "--endpoint", "http://127.0.0.1:1"});
  EXPECT_EQ(runSelected(app_), kExitFailure);
}

TEST_F(QueueCommandsTest, UnreachableServerIsAFailure) {
  parse(
      {"async", "f", "--endpoint", "http://127.0.0.1:1", "--access-key", "A", "--secret-key", "S"});
  EXPECT_EQ(runSelected(app_), kExitFailure);
}

TEST_F(QueueCommandsTest, InvokeIdempotencyKey) {
  parse({"invoke", "f", "--idempotency-key", "order-42"});
  InvokeOptions options = readInvokeOptions(*app_.get_subcommand("invoke"));
  EXPECT_EQ(options.idempotency_key, "order-42");
  parse({"invoke", "f"});
  EXPECT_FALSE(readInvokeOptions(*app_.get_subcommand("invoke")).idempotency_key);
}

TEST(TimestampMs, NumbersAndIsoStrings) {
  EXPECT_EQ(timestampMs(json::value(1700000000)), 1700000000000);
  EXPECT_EQ(timestampMs(json::value(1700000000123)), 1700000000123);
  EXPECT_EQ(timestampMs(json::value(1700000000.5)), 1700000000500);
  EXPECT_EQ(timestampMs(json::value("1700000000")), 1700000000000);
  EXPECT_EQ(timestampMs(json::value("2023-11-14T22:13:20Z")), 1700000000000);
  EXPECT_EQ(timestampMs(json::value("2023-11-14T22:13:20.123Z")), 1700000000123);
  EXPECT_EQ(timestampMs(json::value("2023-11-14T22:13:20.5+0000")), 1700000000500);
  EXPECT_EQ(timestampMs(json::value("2023-11-15T00:13:20+02:00")), 1700000000000);
  EXPECT_EQ(timestampMs(json::value("2023-11-14T21:13:20-0100")), 1700000000000);
  EXPECT_FALSE(timestampMs(json::value("yesterday")));
  EXPECT_FALSE(timestampMs(json::value(nullptr)));
  EXPECT_FALSE(timestampMs(json::value("")));
}

TEST(FormatAge, Units) {
  EXPECT_EQ(formatAge(0.4), "0s");
  EXPECT_EQ(formatAge(42), "42s");
  EXPECT_EQ(formatAge(187), "3m07s");
  EXPECT_EQ(formatAge(7500), "2h05m");
  EXPECT_EQ(formatAge(356400), "4d03h");
  EXPECT_EQ(formatAge(std::nullopt), "-");
  EXPECT_EQ(formatAge(-1), "-");
}

TEST(FormatQueueTable, AlignsColumnsAndShowsReplay) {
  json::array queues = json::parse(R"([
    {"Name":"orders-dlq","Depth":12,"Visible":10,"InFlight":2,"OldestAgeSeconds":187.2,
     "Replay":{"State":"running","Replayed":3,"Failed":0,"Remaining":9,"Rate":5}},
    {"Name":"q","Depth":0,"Visible":0,"InFlight":0,"OldestAgeSeconds":null,
     "Replay":{"State":"idle","Replayed":0,"Failed":0,"Remaining":0,"Rate":10}}
  ])")
                           .as_array();
  EXPECT_EQ(formatQueueTable(queues),
            "NAME        DEPTH  VISIBLE  IN_FLIGHT  OLDEST  REPLAY\n"
            "orders-dlq  12     10       2          3m07s   running (9 left)\n"
            "q           0      0        0          -       idle\n");
  EXPECT_EQ(formatQueueTable({}), "NAME  DEPTH  VISIBLE  IN_FLIGHT  OLDEST  REPLAY\n");
}

TEST(FormatDlqTable, AttributesFirstThenTheRecord) {
  const int64_t now = 1700000100000;  // 100 s after the first message
  json::array messages = json::parse(R"([
    {"MessageId":"m1","SentAt":"2023-11-14T22:13:20Z","ReceiveCount":0,
     "Body":"{\"version\":\"1.0\"}",
     "Attributes":{"SourceFunction":"orders","RequestId":"r-1","Condition":"RetriesExhausted",
                   "ApproximateInvokeCount":3,"ReplayCount":1}},
    {"MessageId":"m2","SentAt":1700000090000,
     "Body":"{\"requestContext\":{\"requestId\":\"r-2\",\"functionArn\":\"arn:aws:lambda:us-east-1:000000000000:function:pay:$LATEST\",\"condition\":\"EventAgeExceeded\",\"approximateInvokeCount\":0}}"},
    {"MessageId":"m3","Body":"plain text"},
    {"MessageId":"m4","SentAt":1700000090000,"Body":"{\"order\":1}",
     "Attributes":{"RequestID":"r-4","ErrorCode":200,"ErrorMessage":"boom","FunctionArn":"a",
                   "SourceFunction":"ship","Condition":"RetriesExhausted",
                   "ApproximateInvokeCount":1,"ReplayCount":0}}
  ])")
                             .as_array();
  EXPECT_EQ(formatDlqTable(messages, now),
            "ID  SOURCE_FUNCTION  CONDITION         ATTEMPTS  REPLAYS  AGE    REQUEST_ID\n"
            "m1  orders           RetriesExhausted  3         1        1m40s  r-1\n"
            "m2  pay              EventAgeExceeded  0         0        10s    r-2\n"
            "m3  -                -                 -         0        -      -\n"
            "m4  ship             RetriesExhausted  1         0        10s    r-4\n");
}

TEST(ExpandMessageBody, JsonBodiesBecomeObjects) {
  json::object message = json::parse(R"({"MessageId":"m","Body":"{\"a\":[1]}"})").as_object();
  EXPECT_EQ(json::serialize(expandMessageBody(message)), R"({"MessageId":"m","Body":{"a":[1]}})");
  json::object text = json::parse(R"({"Body":"42"})").as_object();
  EXPECT_EQ(json::serialize(expandMessageBody(text)), R"({"Body":"42"})");
}

TEST(ReplayProgress, ReadAndFormat) {
  json::object queue =
      json::parse(
          R"({"Name":"q","Replay":{"State":"running","Replayed":4,"Failed":1,"Remaining":5,"Rate":2.5}})")
          .as_object();
  ReplayProgress progress = readReplayProgress(queue);
  EXPECT_TRUE(progress.running);
  EXPECT_EQ(progress.replayed, 4);
  EXPECT_EQ(progress.failed, 1);
  EXPECT_EQ(progress.remaining, 5);
  EXPECT_EQ(formatReplayProgress(progress), "4 replayed, 1 failed, 5 remaining (2.5/s)");
  EXPECT_FALSE(readReplayProgress(json::object{{"Name", "q"}}).running);
}

TEST(FormatAsyncEvents, CountsAndDestinations) {
  json::object events = json::parse(R"({"queued":3,"running":1,"done":120,"dead":2,
      "OldestQueuedAgeSeconds":65,"Retries":7,
      "OnSuccess":{"Destination":"arn:nimbus:queue:us-east-1:000000000000:ok","Depth":118},
      "OnFailure":{"Destination":"arn:aws:lambda:us-east-1:000000000000:function:h"}})")
                            .as_object();
  EXPECT_EQ(formatAsyncEvents("orders", events),
            "function       orders\n"
            "queued         3\n"
            "running        1\n"
            "done           120\n"
            "dead           2\n"
            "oldest queued  1m05s\n"
            "retries        7\n"
            "on success     arn:nimbus:queue:us-east-1:000000000000:ok (depth 118)\n"
            "on failure     arn:aws:lambda:us-east-1:000000000000:function:h\n");
  json::object missing =
      json::parse(R"({"queued":0,"OnFailure":{"Destination":"arn:q","Missing":true}})").as_object();
  EXPECT_NE(formatAsyncEvents("f", missing).find("on failure     arn:q (queue missing)\n"),
            std::string::npos);
  json::object dead_letter =
      json::parse(R"({"queued":0,"DeadLetterQueue":{"Destination":"arn:dlq","Depth":4}})")
          .as_object();
  EXPECT_NE(formatAsyncEvents("f", dead_letter).find("dead-letter queue  arn:dlq (depth 4)\n"),
            std::string::npos)
      << formatAsyncEvents("f", dead_letter);
}

}  // namespace
}  // namespace nimbus::cli
