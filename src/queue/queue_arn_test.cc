// Queue ARNs: nimbus's form and the SQS form both address a named queue.
#include "queue/queue_arn.h"

#include <gtest/gtest.h>

namespace nimbus::queue {
namespace {

TEST(QueueArnTest, BuildsAndParsesBothForms) {
  model::ArnContext ctx{"eu-west-1", "123456789012"};
  EXPECT_EQ(queueArn(ctx, "dlq"), "arn:nimbus:queue:eu-west-1:123456789012:dlq");
  EXPECT_EQ(queueNameOfArn(queueArn(ctx, "dlq")), "dlq");
  EXPECT_EQ(queueNameOfArn("arn:aws:sqs:us-east-1:000000000000:orders-dlq"), "orders-dlq");
  EXPECT_EQ(queueNameOfArn("arn:aws:lambda:us-east-1:000000000000:function:f"), std::nullopt);
  EXPECT_EQ(queueNameOfArn("arn:nimbus:queue:r:a:bad name"), std::nullopt);
  EXPECT_EQ(queueNameOfArn("dlq"), std::nullopt);
}

TEST(QueueArnTest, RecognisesFunctionArns) {
  EXPECT_TRUE(isFunctionArn("arn:aws:lambda:us-east-1:000000000000:function:f"));
  EXPECT_TRUE(isFunctionArn("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"));
  EXPECT_FALSE(isFunctionArn("arn:aws:sqs:us-east-1:000000000000:q"));
}

TEST(QueueArnTest, QueueNamesFollowSqsRules) {
  EXPECT_TRUE(isValidQueueName("a-b_C9"));
  EXPECT_FALSE(isValidQueueName(""));
  EXPECT_FALSE(isValidQueueName(std::string(81, 'a')));
  EXPECT_FALSE(isValidQueueName("a.b"));
}

}  // namespace
}  // namespace nimbus::queue
