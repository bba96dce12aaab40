// The settings live on the function version (store columns network_mode, keep_alive_s).
// A change is a configuration change: a new RevisionId, and the function's instances
// retire so that none keeps running with the old network or keep-alive.
#include "control/settings_api.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
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

json::object settingsJson(const model::FunctionConfig& c) {
  return json::object{{"FunctionName", c.name},
                      {"NetworkMode", model::networkModeName(c.network_mode)},
                      {"KeepAliveSeconds", c.keep_alive_s},
                      {"RevisionId", c.revision_id}};
}

// Settings belong to $LATEST (the only version so far): a qualifier other than it is 404.
Result<model::FunctionConfig> load(const FunctionsApiDeps& d, const RouteParams& p) {
  auto ref = model::parseFunctionRef(p.path.at("name"));
  if (!ref) return ref.error();
  auto c = d.store.getFunction(ref->name, ref->qualifier.value_or(model::kLatest));
  if (!c && c.error().code == ErrorCode::kNotFound) {
    return model::functionNotFound(d.arn, ref->name, ref->qualifier);
  }
  return c;
}

// Applies the members present in the body onto c; refuses unknown members and bad values.
Result<void> applySettings(const json::object& body, model::FunctionConfig& c) {
  for (const auto& member : body) {
    if (member.key() != "NetworkMode" && member.key() != "KeepAliveSeconds" &&
        member.key() != "RevisionId") {
      return makeError(ErrorCode::kInvalidParameter,
                       "Unknown setting '" + std::string(member.key()) +
                           "': expected NetworkMode or KeepAliveSeconds");
    }
  }
  auto mode = optString(body, "NetworkMode");
  if (!mode) return mode.error();
  if (*mode) {
    auto parsed = model::parseNetworkMode(**mode);
    if (!parsed) {
      return makeError(ErrorCode::kInvalidParameter,
                       "Value '" + **mode +
                           "' at 'NetworkMode' failed to satisfy constraint: Member must satisfy "
                           "enum value set: [isolated, egress]");
    }
    c.network_mode = *parsed;
  }
  auto keep = optInt(body, "KeepAliveSeconds");
  if (!keep) return keep.error();
  if (*keep) {
    if (**keep < 0 || **keep > model::kMaxKeepAliveS) {
      return makeError(ErrorCode::kInvalidParameter,
                       "'KeepAliveSeconds' must be 0 (the host default) or between 1 and " +
                           std::to_string(model::kMaxKeepAliveS));
    }
    c.keep_alive_s = static_cast<int>(**keep);
  }
  return {};
}

Response get(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
             const std::string& rid) {
  auto c = load(d, p);
  if (!c) return gateway::errorResponse(req, c.error(), rid);
  return jsonReply(req, Status::ok, settingsJson(*c), rid);
}

Response patch(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
               const std::string& rid) {
  auto c = load(d, p);
  if (!c) return gateway::errorResponse(req, c.error(), rid);
  auto body = parseObject(req.body());
  if (!body) return gateway::errorResponse(req, body.error(), rid);
  auto revision = optString(*body, "RevisionId");
  if (!revision) return gateway::errorResponse(req, revision.error(), rid);
  if (*revision && **revision != c->revision_id) {
    return gateway::errorResponse(
        req,
        makeError(ErrorCode::kPreconditionFailed,
                  "The Revision Id provided does not match the latest Revision Id. Call the "
                  "GetFunction/GetAlias API to retrieve the latest Revision Id"),
        rid);
  }
  model::FunctionConfig updated = *c;
  if (auto a = applySettings(*body, updated); !a) {
    return gateway::errorResponse(req, a.error(), rid);
  }
  if (updated.network_mode == c->network_mode && updated.keep_alive_s == c->keep_alive_s) {
    return jsonReply(req, Status::ok, settingsJson(*c),
                     rid);  // nothing changed: warm instances stay
  }
  if (auto v = model::validate(updated); !v) return gateway::errorResponse(req, v.error(), rid);
  updated.last_modified_ms = systemNowMillis();
  updated.revision_id = newUuid();
  if (auto r = d.store.updateFunction(updated); !r) {
    return gateway::errorResponse(req, r.error(), rid);
  }
  d.pool.retire(updated.name);  // no instance keeps the old network or keep-alive
  log::info("control", "function settings updated",
            {{"request_id", rid},
             {"function", updated.name},
             {"network_mode", model::networkModeName(updated.network_mode)},
             {"keep_alive_s", std::to_string(updated.keep_alive_s)}});
  return jsonReply(req, Status::ok, settingsJson(updated), rid);
}

}  // namespace

void addSettingsRoutes(http::Router& router, FunctionsApiDeps deps) {
  auto d = std::make_shared<FunctionsApiDeps>(deps);
  auto route = [&](http::Verb verb, const char* path, auto fn) {
    addSyncRoute(router, d, verb, path, fn);
  };
  route(http::Verb::get, "/v1/functions/{name}/settings", get);
  route(http::Verb::patch, "/v1/functions/{name}/settings", patch);
}

}  // namespace nimbus::control
