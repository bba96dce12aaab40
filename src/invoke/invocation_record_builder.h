// Turns one invocation (what was asked, and the result or the platform error) into its
// model::InvocationRecord, with the outcome names records and metrics use.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation.h"
#include "model/invocation_record.h"

namespace nimbus::invoke {

// What is known before the pool runs it (the request itself is moved into the pool).
struct InvocationStart {
  model::InvocationRecord record;  // identity fields filled in
};

InvocationStart startOf(const model::FunctionConfig& config, const model::InvokeRequest& request,
                        int64_t now_ms);
const char* outcomeName(model::Outcome outcome);
model::InvocationRecord buildRecord(const InvocationStart& start,
                                    const Result<model::InvokeResult>& result);

}  // namespace nimbus::invoke
