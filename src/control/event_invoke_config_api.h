// The asynchronous invocation settings of a function (Lambda's 2019-09-25 paths):
// Put/Update/Get/Delete/ListFunctionEventInvokeConfigs. The queue reads them per event.
#pragma once

#include "control/functions_api.h"
#include "store/queue_store.h"

namespace nimbus::control {

// `queues`: destinations that name a nimbus queue must name one that exists.
void addEventInvokeConfigRoutes(http::Router& router, FunctionsApiDeps deps,
                                store::QueueStore& queues);

}  // namespace nimbus::control
