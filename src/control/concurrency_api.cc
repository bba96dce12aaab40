// The store keeps reservations across restarts; the pool's Admission enforces them.
#include "control/concurrency_api.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "control/api_responses.h"
#include "control/function_json.h"
#include "gateway/error_mapping.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

Result<std::string> functionName(const FunctionsApiDeps& d, const RouteParams& p) {
  auto ref = model::parseFunctionRef(p.path.at("name"));
  if (!ref) return ref.error();
  if (ref->qualifier) {
    return makeError(ErrorCode::kInvalidParameter,
                     "Concurrency is configured on the function, not on a qualifier.");
  }
  auto reserved = d.store.getReservedConcurrency(ref->name);
  if (!reserved) {
    if (reserved.error().code == ErrorCode::kNotFound) {
      return model::functionNotFound(d.arn, ref->name);
    }
    return reserved.error();
  }
  return ref->name;
}

Response put(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
             const std::string& rid) {
  auto name = functionName(d, p);
  if (!name) return gateway::errorResponse(req, name.error(), rid);
  auto body = parseObject(req.body());
  if (!body) return gateway::errorResponse(req, body.error(), rid);
  auto n = optInt(*body, "ReservedConcurrentExecutions");
  if (!n) return gateway::errorResponse(req, n.error(), rid);
  if (!*n || **n < 0 || **n > d.pool.admission().hostLimit()) {
    return gateway::errorResponse(req,
                                  makeError(ErrorCode::kInvalidParameter,
                                            "ReservedConcurrentExecutions must be between 0 and " +
                                                std::to_string(d.pool.admission().hostLimit())),
                                  rid);
  }
  int reserved = static_cast<int>(**n);
  if (auto ok = d.pool.admission().setReservation(*name, reserved); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  if (auto ok = d.store.setReservedConcurrency(*name, reserved); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  log::info("control", "reserved concurrency set",
            {{"request_id", rid}, {"function", *name}, {"reserved", std::to_string(reserved)}});
  return jsonReply(req, Status::ok, json::object{{"ReservedConcurrentExecutions", reserved}}, rid);
}

Response get(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
             const std::string& rid) {
  auto name = functionName(d, p);
  if (!name) return gateway::errorResponse(req, name.error(), rid);
  auto reserved = d.store.getReservedConcurrency(*name);
  if (!reserved) return gateway::errorResponse(req, reserved.error(), rid);
  json::object out;
  if (*reserved) out["ReservedConcurrentExecutions"] = **reserved;
  return jsonReply(req, Status::ok, out, rid);
}

Response remove(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
                const std::string& rid) {
  auto name = functionName(d, p);
  if (!name) return gateway::errorResponse(req, name.error(), rid);
  if (auto ok = d.store.setReservedConcurrency(*name, std::nullopt); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  (void)d.pool.admission().setReservation(*name, std::nullopt);
  log::info("control", "reserved concurrency removed", {{"request_id", rid}, {"function", *name}});
  return noContent(req, rid);
}

}  // namespace

void addConcurrencyRoutes(http::Router& router, FunctionsApiDeps deps) {
  auto d = std::make_shared<FunctionsApiDeps>(deps);
  auto route = [&](http::Verb verb, const char* path, auto fn) {
    addSyncRoute(router, d, verb, path, fn);
  };
  route(http::Verb::put, "/2017-10-31/functions/{name}/concurrency", put);
  route(http::Verb::get, "/2019-09-30/functions/{name}/concurrency", get);
  route(http::Verb::delete_, "/2017-10-31/functions/{name}/concurrency", remove);
}

}  // namespace nimbus::control
