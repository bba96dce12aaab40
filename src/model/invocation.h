// One invocation as it travels through the platform: what the caller asked for and
// what came back. Shared by gateway, invoke, pool and runtime_api.
#pragma once

#include <cstdint>
#include <string>

namespace nimbus::model {

struct InvokeRequest {
  std::string request_id;
  std::string function_name;
  std::string qualifier;         // as given by the caller; empty means $LATEST
  std::string invoked_arn;       // the ARN used to call it (with qualifier when given)
  std::string payload;           // event bytes (JSON)
  std::string client_context;    // decoded X-Amz-Client-Context (JSON text), may be empty
  std::string cognito_identity;  // JSON text, may be empty
  std::string trace_id;          // X-Amzn-Trace-Id form (Root=1-...;Parent=...;Sampled=...)
  std::string traceparent;       // W3C form of the same trace; wins over trace_id when valid
  std::string tracestate;        // W3C tracestate, passed on as given
  int64_t queued_since_ms = 0;   // async: when the event started waiting (queue-wait span)
  std::string correlation_id;    // X-Correlation-Id, kept in records and logs
  std::string trigger = "sync";  // what started it: sync | async | ... (records, metrics)
  int attempt = 1;               // 1 for the first run; async retries count up
};

enum class Outcome {
  kSuccess,
  kFunctionError,  // the function (or its runtime) reported an error
  kTimeout,        // Sandbox.Timedout
  kExitError,      // Runtime.ExitError: the runtime died
  kOutOfMemory,    // Runtime.OutOfMemory: its memory limit killed it
  kInitError,      // the runtime reported /runtime/init/error
};

struct InvokeResult {
  std::string request_id;
  Outcome outcome = Outcome::kSuccess;
  std::string payload;  // the function's response, or the error object (JSON)
  std::string executed_version;
  std::string log;  // START ... END ... REPORT lines and the function's output
  bool cold_start = false;
  double init_ms = 0;
  double duration_ms = 0;
  int64_t billed_ms = 0;
  int64_t max_memory_mb = 0;
  int memory_size_mb = 0;
  std::string instance_id;  // the instance that ran it
  std::string error_type;   // errorType of a failed invocation ("Runtime.ExitError", ...)
  bool functionError() const { return outcome != Outcome::kSuccess; }
};

}  // namespace nimbus::model
