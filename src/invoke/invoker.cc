// Function resolution and the hand-over to the pool.
#include "invoke/invoker.h"

#include "base/encoding.h"
#include "base/time.h"
#include "invoke/invocation_record_builder.h"
#include "invoke/invocation_spans.h"

namespace nimbus::invoke {

Result<model::FunctionConfig> Invoker::resolve(const model::FunctionRef& ref) {
  std::string version = ref.qualifier.value_or(model::kLatest);
  auto config = store_.getFunction(ref.name, version);
  if (!config) {
    if (config.error().code == ErrorCode::kNotFound) {
      return model::functionNotFound(arn_, ref.name, ref.qualifier);
    }
    return config.error();
  }
  return config;
}

boost::asio::awaitable<Result<model::InvokeResult>> Invoker::invoke(const model::FunctionRef& ref,
                                                                    model::InvokeRequest request) {
  auto config = resolve(ref);
  if (!config) co_return config.error();
  request.function_name = ref.name;
  request.qualifier = ref.qualifier.value_or("");
  if (request.request_id.empty()) request.request_id = newUuid();
  if (request.invoked_arn.empty()) {
    request.invoked_arn = model::functionArn(arn_, ref.name, ref.qualifier);
  }
  const bool tracing = observer_ != nullptr && observer_->tracingEnabled();
  const InvocationTrace trace = traceInvocation(request, tracing);
  if (!observer_) co_return co_await pool_.invoke(*config, std::move(request));

  InvocationStart start = startOf(*config, request, systemNowMillis());
  start.record.trace_id = trace.parent.trace_id;
  const int64_t queued_since_ms = request.queued_since_ms;
  const std::string arn = tracing ? request.invoked_arn : std::string();
  const int64_t begin_ns = tracing ? observability::unixNanosNow() : 0;
  observer_->invocationStarted(config->name, config->version);
  auto result = co_await pool_.invoke(*config, std::move(request));
  model::InvocationRecord record = buildRecord(start, result);
  if (tracing) {
    for (auto& span : invocationSpans(trace, record, arn, queued_since_ms, begin_ns,
                                      observability::unixNanosNow())) {
      observer_->recordSpan(std::move(span));
    }
  }
  observer_->invocationFinished(std::move(record));
  co_return result;
}

}  // namespace nimbus::invoke
