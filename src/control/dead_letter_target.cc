// DeadLetterConfig.TargetArn checks against the queue store.
#include "control/dead_letter_target.h"

#include "queue/queue_arn.h"

namespace nimbus::control {

Result<void> checkDeadLetterTarget(const std::string& arn, store::QueueStore& queues) {
  if (arn.empty()) return {};
  auto invalid = [](const std::string& message) {
    return makeError(ErrorCode::kInvalidParameter, message);
  };
  if (arn.rfind("arn:aws:sns:", 0) == 0) {
    return invalid("The dead-letter target " + arn +
                   " is an SNS topic: nimbus supports only queues as dead-letter targets "
                   "(arn:nimbus:queue:<region>:<account>:<name> or arn:aws:sqs:...:<name>)");
  }
  std::optional<std::string> queue = queue::queueNameOfArn(arn);
  if (!queue) {
    return invalid("The dead-letter target " + arn +
                   " is not a queue ARN: nimbus supports only its queues as dead-letter targets "
                   "(arn:nimbus:queue:<region>:<account>:<name> or arn:aws:sqs:...:<name>)");
  }
  Result<store::QueueInfo> info = queues.getQueue(*queue, 0);
  if (!info && info.error().code == ErrorCode::kNotFound) {
    return invalid("The dead-letter queue " + *queue +
                   " does not exist: create it first (POST /v1/queues or nimbus queue create)");
  }
  if (!info) return info.error();
  return {};
}

}  // namespace nimbus::control
