// GET /v1/functions/{name}/stats?window=1h[&price_per_gb_second=&price_per_request=]:
// the function's health summary over the window (s/m/h/d suffixes, default 1h, at most
// 30d), computed from its invocation records.
#pragma once

#include "base/blocking_worker.h"
#include "http/router.h"
#include "store/store.h"

namespace nimbus::control {

struct StatsApiDeps {
  store::Store& store;
  BlockingWorker& worker;  // the record scan runs here, off the I/O threads
  bool records_enabled = true;
};

void addStatsRoutes(http::Router& router, StatsApiDeps deps);

}  // namespace nimbus::control
