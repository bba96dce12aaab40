// Request dispatch for the public API.
#include "control/api_handler.h"

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "gateway/error_mapping.h"

namespace nimbus::control {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;

namespace {

Response metricsResponse(const Request& req, const MetricsEndpoint& metrics,
                         const Authenticator& auth) {
  if (metrics.require_auth) {
    auto principal = auth.authenticate(req, systemNowMillis());
    if (!principal) return gateway::errorResponse(req, principal.error(), newUuid());
  }
  return http::makeResponse(req, Status::ok, metrics.render(),
                            "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

http::Handler makeApiHandler(std::shared_ptr<http::Router> router,
                             std::shared_ptr<Authenticator> auth, Health health,
                             MetricsEndpoint metrics) {
  http::Handler inner = makeApiHandler(router, auth, health);
  if (!metrics.render && !metrics.count_response) return inner;
  return [inner, auth, metrics](Request& req,
                                const http::RequestInfo& info) -> asio::awaitable<Response> {
    std::string_view target = req.target();
    if (metrics.render && req.method() == http::Verb::get &&
        target.substr(0, target.find('?')) == "/metrics") {
      Response res = metricsResponse(req, metrics, *auth);
      if (metrics.count_response) metrics.count_response(res.result_int());
      co_return res;
    }
    Response res = co_await inner(req, info);
    if (metrics.count_response) metrics.count_response(res.result_int());
    co_return res;
  };
}

http::Handler makeApiHandler(std::shared_ptr<http::Router> router,
                             std::shared_ptr<Authenticator> auth, Health health) {
  return [router, auth, health](Request& req,
                                const http::RequestInfo& info) -> asio::awaitable<Response> {
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    if (req.method() == http::Verb::get && (path == "/healthz" || path == "/readyz")) {
      bool ok = path == "/healthz" || !health.ready || health.ready();
      co_return http::makeResponse(req, ok ? Status::ok : Status::service_unavailable,
                                   ok ? R"({"status":"ok"})" : R"({"status":"not ready"})");
    }
    auto principal = auth->authenticate(req, systemNowMillis());
    if (!principal) {
      std::string rid = newUuid();
      log::info("control", "authentication failed",
                {{"request_id", rid},
                 {"remote", info.remote.address().to_string()},
                 {"target", std::string(path)},
                 {"error", principal.error().message.substr(0, 200)}});
      co_return gateway::errorResponse(req, principal.error(), rid);
    }
    auto match = router->match(req.method(), target);
    switch (match.kind) {
      case http::Router::MatchKind::kMatched:
        co_return co_await (*match.handler)(req, info, match.params);
      case http::Router::MatchKind::kBadEncoding:
        co_return gateway::errorResponse(
            req, makeError(ErrorCode::kInvalidParameter, "Malformed percent-encoding in path"),
            newUuid());
      case http::Router::MatchKind::kWrongMethod:
      case http::Router::MatchKind::kNoPath:
        break;
    }
    co_return gateway::errorResponse(
        req,
        makeError(
            ErrorCode::kUnknownOperation,
            "Unknown operation " + std::string(req.method_string()) + " " + std::string(path)),
        newUuid());
  };
}

}  // namespace nimbus::control
