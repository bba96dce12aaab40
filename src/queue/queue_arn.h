// Addressing built-in named queues: nimbus's own ARN
// (arn:nimbus:queue:<region>:<account>:<name>), the SQS form accepted beside it, and
// the rules for queue names.
#pragma once

#include <optional>
#include <string>

#include "model/function_ref.h"

namespace nimbus::queue {

// 1-80 of A-Z a-z 0-9 - _ (SQS's rule).
bool isValidQueueName(const std::string& name);
std::string queueArn(const model::ArnContext& ctx, const std::string& name);
// The queue name when `arn` addresses a queue (either form, any region/account).
std::optional<std::string> queueNameOfArn(const std::string& arn);
// Lambda's function ARNs, as destinations: arn:aws:lambda:<region>:<account>:function:...
bool isFunctionArn(const std::string& arn);

}  // namespace nimbus::queue
