// GET /v1/functions/{name}/stats?window=1h[&price_per_gb_second=&price_per_request=]:
// the function's health summary over the window (s/m/h/d suffixes, default 1h, at most
// 30d), computed from its invocation records.
#pragma once

#include "http/router.h"
#include "store/store.h"

namespace nimbus::control {

struct StatsApiDeps {
  store::Store& store;
  bool records_enabled = true;
};

void addStatsRoutes(http::Router& router, StatsApiDeps deps);

}  // namespace nimbus::control
