// Validation of a function's DeadLetterConfig.TargetArn: nimbus delivers dead letters
// only to its own named queues, and the queue must exist when the config is set (a
// message sent to a missing queue would be lost), as for event invoke destinations.
#pragma once

#include <string>

#include "base/error.h"
#include "store/queue_store.h"

namespace nimbus::control {

// kInvalidParameter (Lambda's InvalidParameterValueException) unless `arn` names an
// existing nimbus queue (arn:nimbus:queue:... or arn:aws:sqs:...). "" is valid: none.
Result<void> checkDeadLetterTarget(const std::string& arn, store::QueueStore& queues);

}  // namespace nimbus::control
