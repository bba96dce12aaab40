// Invocation record assembly.
#include "invoke/invocation_record_builder.h"

namespace nimbus::invoke {

InvocationStart startOf(const model::FunctionConfig& config, const model::InvokeRequest& request,
                        int64_t now_ms) {
  InvocationStart s;
  model::InvocationRecord& r = s.record;
  r.request_id = request.request_id;
  r.function_name = config.name;
  r.version = config.version;
  r.qualifier = request.qualifier;
  r.trigger = request.trigger.empty() ? "sync" : request.trigger;
  r.start_ms = now_ms;
  r.memory_size_mb = config.memory_mb;
  r.attempt = request.attempt;
  r.trace_id = request.trace_id;
  r.correlation_id = request.correlation_id;
  return s;
}

const char* outcomeName(model::Outcome outcome) {
  switch (outcome) {
    case model::Outcome::kSuccess:
      return model::kOutcomeSuccess;
    case model::Outcome::kTimeout:
      return model::kOutcomeTimeout;
    case model::Outcome::kOutOfMemory:
      return model::kOutcomeOutOfMemory;
    case model::Outcome::kFunctionError:
    case model::Outcome::kExitError:
    case model::Outcome::kInitError:
      return model::kOutcomeFunctionError;
  }
  return model::kOutcomeFunctionError;
}

model::InvocationRecord buildRecord(const InvocationStart& start,
                                    const Result<model::InvokeResult>& result) {
  model::InvocationRecord r = start.record;
  if (!result) {
    const Error& e = result.error();
    const bool throttled = e.code == ErrorCode::kTooManyRequests;
    r.outcome = throttled ? model::kOutcomeThrottled : model::kOutcomePlatformError;
    r.error_type = !e.reason.empty() ? e.reason
                   : throttled       ? "TooManyRequestsException"
                                     : "ServiceException";
    return r;
  }
  const model::InvokeResult& res = *result;
  r.outcome = outcomeName(res.outcome);
  r.error_type = res.error_type;
  if (r.error_type.empty() && res.outcome == model::Outcome::kTimeout) {
    r.error_type = "Sandbox.Timedout";
  }
  r.duration_ms = res.duration_ms;
  r.billed_ms = res.billed_ms;
  r.init_ms = res.init_ms;
  r.cold_start = res.cold_start;
  r.instance_id = res.instance_id;
  r.max_memory_mb = res.max_memory_mb;
  if (res.memory_size_mb > 0) r.memory_size_mb = res.memory_size_mb;
  if (!res.executed_version.empty()) r.version = res.executed_version;
  return r;
}

}  // namespace nimbus::invoke
