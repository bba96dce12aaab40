// Reserved concurrency operations: PutFunctionConcurrency, GetFunctionConcurrency,
// DeleteFunctionConcurrency (Lambda's 2017-10-31 / 2019-09-30 paths).
#pragma once

#include "control/functions_api.h"

namespace nimbus::control {

void addConcurrencyRoutes(http::Router& router, FunctionsApiDeps deps);

}  // namespace nimbus::control
