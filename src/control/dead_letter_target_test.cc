// checkDeadLetterTarget against an in-memory store: existing queues in both ARN forms
// pass, missing queues, SNS topics and other ARNs are InvalidParameterValue.
#include "control/dead_letter_target.h"

#include <gtest/gtest.h>

#include "store/sqlite_store.h"

namespace nimbus::control {
namespace {

std::unique_ptr<store::SqliteStore> storeWithQueue(const std::string& name) {
  auto s = store::SqliteStore::open(":memory:");
  EXPECT_TRUE(s.ok());
  EXPECT_TRUE((*s)->createQueue(name, 1).ok());
  return std::move(*s);
}

TEST(CheckDeadLetterTarget, ExistingQueuesInEitherFormAndEmptyPass) {
  auto s = storeWithQueue("dlq");
  EXPECT_TRUE(checkDeadLetterTarget("arn:nimbus:queue:us-east-1:000000000000:dlq", *s).ok());
  EXPECT_TRUE(checkDeadLetterTarget("arn:aws:sqs:eu-west-1:123456789012:dlq", *s).ok());
  EXPECT_TRUE(checkDeadLetterTarget("", *s).ok());
}

TEST(CheckDeadLetterTarget, MissingQueueSnsAndOtherArnsAreRefused) {
  auto s = storeWithQueue("dlq");
  struct Case {
    const char* arn;
    const char* says;
  };
  for (const Case& c : {Case{"arn:nimbus:queue:us-east-1:000000000000:other", "does not exist"},
                        Case{"arn:aws:sqs:us-east-1:000000000000:other", "does not exist"},
                        Case{"arn:aws:sns:us-east-1:000000000000:topic", "only queues"},
                        Case{"arn:aws:lambda:us-east-1:000000000000:function:f", "not a queue"},
                        Case{"dlq", "not a queue"}}) {
    SCOPED_TRACE(c.arn);
    Result<void> r = checkDeadLetterTarget(c.arn, *s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace nimbus::control
