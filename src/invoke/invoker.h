// The one seam everything that triggers a function calls (HTTP, queue, cron, storage
// events): resolve the function and qualifier, then run it through the pool.
// Every invocation that resolves leaves a record with the observer. Thread-safe. Errors: kNotFound
// (function/qualifier), kInvalidParameter, platform errors from the pool (kTooManyRequests,
// kUnavailable, kInternal).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "base/error.h"
#include "model/function_config.h"
#include "model/function_ref.h"
#include "model/invocation.h"
#include "observability/observer.h"
#include "pool/pool.h"
#include "store/store.h"

namespace nimbus::invoke {

class Invoker {
 public:
  // `observer`, when given, gets one record (and metric samples) per invocation that
  // resolved to a function, throttled and failed ones included.
  Invoker(store::Store& store, pool::Pool& pool, model::ArnContext arn,
          observability::Observer* observer = nullptr)
      : store_(store), pool_(pool), arn_(std::move(arn)), observer_(observer) {}

  // Looks the function version up; kNotFound in Lambda's words when absent.
  Result<model::FunctionConfig> resolve(const model::FunctionRef& ref);
  // Resolves and runs. request.function_name/qualifier are taken from `ref`;
  // request_id and invoked_arn are filled in when empty.
  boost::asio::awaitable<Result<model::InvokeResult>> invoke(const model::FunctionRef& ref,
                                                             model::InvokeRequest request);
  const model::ArnContext& arnContext() const { return arn_; }
  observability::Observer* observer() const { return observer_; }

 private:
  store::Store& store_;
  pool::Pool& pool_;
  model::ArnContext arn_;
  observability::Observer* observer_;
};

}  // namespace nimbus::invoke
