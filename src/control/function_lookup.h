// Resolving the {name} path parameter of the per-function APIs: the name (or ARN) merged
// with a ?Qualifier=, and the function's $LATEST, which must exist.
#pragma once

#include "base/error.h"
#include "http/router.h"
#include "model/function_config.h"
#include "model/function_ref.h"
#include "store/store.h"

namespace nimbus::control {

struct FunctionLookup {
  model::FunctionRef ref;        // name and the qualifier given, if any
  model::FunctionConfig latest;  // the function's $LATEST
};

// Lambda's not-found error (model::functionNotFound) when the function does not exist;
// InvalidParameter for a malformed name or disagreeing qualifiers.
Result<FunctionLookup> lookUpFunction(store::Store& store, const model::ArnContext& arn,
                                      const http::RouteParams& params);

}  // namespace nimbus::control
