// Function resolution and the hand-over to the pool.
#include "invoke/invoker.h"

#include "base/encoding.h"
#include "base/time.h"
#include "invoke/invocation_record_builder.h"

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
  if (!observer_) co_return co_await pool_.invoke(*config, std::move(request));

  InvocationStart start = startOf(*config, request, systemNowMillis());
  observer_->invocationStarted(config->name, config->version);
  auto result = co_await pool_.invoke(*config, std::move(request));
  observer_->invocationFinished(buildRecord(start, result));
  co_return result;
}

}  // namespace nimbus::invoke
