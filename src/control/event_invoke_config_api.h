// The asynchronous invocation settings of a function (Lambda's 2019-09-25 paths):
// Put/Update/Get/Delete/ListFunctionEventInvokeConfigs. The queue reads them per event.
#pragma once

#include "control/functions_api.h"

namespace nimbus::control {

void addEventInvokeConfigRoutes(http::Router& router, FunctionsApiDeps deps);

}  // namespace nimbus::control
