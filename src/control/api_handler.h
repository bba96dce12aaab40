// The front door of the public API: health probes without auth, then authentication
// (before routing, as Lambda does: an unsigned call to an unknown function is 403),
// then the routing table; unknown paths and methods get Lambda-shaped errors.
// GET /metrics (Prometheus text) is answered before authentication unless
// `require_auth`: scrapers rarely sign requests.
#pragma once

#include <memory>

#include "control/auth.h"
#include "http/router.h"

namespace nimbus::control {

struct Health {
  std::function<bool()> ready;  // /readyz answers 200 only while this is true
};

struct MetricsEndpoint {
  std::function<std::string()> render;  // empty: no /metrics
  bool require_auth = false;
  std::function<void(int status)> count_response;  // every answer's status, for metrics
};

http::Handler makeApiHandler(std::shared_ptr<http::Router> router,
                             std::shared_ptr<Authenticator> auth, Health health,
                             MetricsEndpoint metrics);
http::Handler makeApiHandler(std::shared_ptr<http::Router> router,
                             std::shared_ptr<Authenticator> auth, Health health);

}  // namespace nimbus::control
