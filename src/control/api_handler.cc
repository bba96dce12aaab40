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
