// Validation and JSON of EventInvokeConfig; storage is Store::*EventInvokeConfig.
#include "control/event_invoke_config_api.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "control/api_responses.h"
#include "control/function_json.h"
#include "control/function_lookup.h"
#include "gateway/error_mapping.h"
#include "queue/queue_arn.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

struct Target {
  std::string name;
  std::string qualifier;  // "$LATEST" when none was given
};

// The API's dependencies: the functions API's plus the queues destinations name.
struct Deps : FunctionsApiDeps {
  store::QueueStore& queues;
};

Result<Target> targetOf(const FunctionsApiDeps& d, const RouteParams& p) {
  auto found = lookUpFunction(d.store, d.arn, p);
  if (!found) return found.error();
  return Target{found->ref.name, found->ref.qualifier.value_or(model::kLatest)};
}

Error invalid(const std::string& message) {
  return makeError(ErrorCode::kInvalidParameter, message);
}

// Destinations: Lambda function ARNs and nimbus queue ARNs (queue/queue_arn.h). A
// queue must exist: records sent to a missing one would be lost.
Result<std::string> destinationOf(const json::object& config, const char* key,
                                  store::QueueStore& queues) {
  auto it = config.find(key);
  if (it == config.end() || it->value().is_null()) return std::string();
  if (!it->value().is_object())
    return invalid(std::string("DestinationConfig.") + key + " must be an object");
  auto dest = optString(it->value().as_object(), "Destination");
  if (!dest) return dest.error();
  if (!*dest || (*dest)->empty()) return std::string();
  const std::string& arn = **dest;
  if (auto queue = queue::queueNameOfArn(arn)) {
    auto info = queues.getQueue(*queue, 0);
    if (!info && info.error().code == ErrorCode::kNotFound) {
      return invalid("The destination queue " + *queue +
                     " does not exist: create it first (POST /v1/queues or nimbus queue create)");
    }
    if (!info) return info.error();
    return arn;
  }
  auto ref = model::parseFunctionRef(arn);
  if (!queue::isFunctionArn(arn) || !ref) {
    return invalid("The destination ARN " + arn +
                   " is not supported: nimbus delivers to Lambda function ARNs and nimbus queue "
                   "ARNs (arn:nimbus:queue:<region>:<account>:<name>)");
  }
  return arn;
}

// Applies the members present in `body` onto `c`, with Lambda's ranges.
Result<void> applyBody(const json::object& body, store::EventInvokeConfig& c,
                       store::QueueStore& queues) {
  auto retries = optInt(body, "MaximumRetryAttempts");
  if (!retries) return retries.error();
  if (*retries) {
    if (**retries < 0 || **retries > 2) {
      return invalid("1 validation error detected: Value '" + std::to_string(**retries) +
                     "' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have "
                     "value between 0 and 2");
    }
    c.maximum_retry_attempts = static_cast<int>(**retries);
  }
  auto age = optInt(body, "MaximumEventAgeInSeconds");
  if (!age) return age.error();
  if (*age) {
    if (**age < 60 || **age > 21600) {
      return invalid("1 validation error detected: Value '" + std::to_string(**age) +
                     "' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must "
                     "have value between 60 and 21600");
    }
    c.maximum_event_age_seconds = static_cast<int>(**age);
  }
  auto it = body.find("DestinationConfig");
  if (it != body.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return invalid("DestinationConfig must be an object");
    const json::object& dc = it->value().as_object();
    if (dc.contains("OnSuccess")) {
      auto s = destinationOf(dc, "OnSuccess", queues);
      if (!s) return s.error();
      c.on_success = *s;
    }
    if (dc.contains("OnFailure")) {
      auto f = destinationOf(dc, "OnFailure", queues);
      if (!f) return f.error();
      c.on_failure = *f;
    }
  }
  return {};
}

json::object toJson(const FunctionsApiDeps& d, const store::EventInvokeConfig& c) {
  json::object on_success, on_failure;
  if (!c.on_success.empty()) on_success["Destination"] = c.on_success;
  if (!c.on_failure.empty()) on_failure["Destination"] = c.on_failure;
  return {{"LastModified", static_cast<double>(c.last_modified_ms) / 1000.0},
          {"FunctionArn", model::functionArn(d.arn, c.function_name, c.qualifier)},
          {"MaximumRetryAttempts", c.maximum_retry_attempts},
          {"MaximumEventAgeInSeconds", c.maximum_event_age_seconds},
          {"DestinationConfig", {{"OnSuccess", on_success}, {"OnFailure", on_failure}}}};
}

// PUT replaces the whole config (absent members take defaults); POST (update) keeps
// what is stored and changes only the members given.
Response write(const Deps& d, Request& req, const RouteParams& p, const std::string& rid,
               bool merge) {
  auto target = targetOf(d, p);
  if (!target) return gateway::errorResponse(req, target.error(), rid);
  auto body = parseObject(req.body());
  if (!body) return gateway::errorResponse(req, body.error(), rid);
  store::EventInvokeConfig config;
  if (merge) {
    auto existing = d.store.getEventInvokeConfig(target->name, target->qualifier);
    if (existing) config = *existing;
  }
  config.function_name = target->name;
  config.qualifier = target->qualifier;
  if (auto ok = applyBody(*body, config, d.queues); !ok)
    return gateway::errorResponse(req, ok.error(), rid);
  config.last_modified_ms = systemNowMillis();
  if (auto ok = d.store.putEventInvokeConfig(config); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  log::info("control", "event invoke config written",
            {{"request_id", rid},
             {"function", config.function_name},
             {"qualifier", config.qualifier},
             {"maximum_retry_attempts", std::to_string(config.maximum_retry_attempts)},
             {"maximum_event_age_seconds", std::to_string(config.maximum_event_age_seconds)}});
  return jsonReply(req, Status::ok, toJson(d, config), rid);
}

Response put(const Deps& d, Request& req, const RouteParams& p, const std::string& rid) {
  return write(d, req, p, rid, false);
}

Response update(const Deps& d, Request& req, const RouteParams& p, const std::string& rid) {
  return write(d, req, p, rid, true);
}

Response get(const Deps& d, Request& req, const RouteParams& p, const std::string& rid) {
  auto target = targetOf(d, p);
  if (!target) return gateway::errorResponse(req, target.error(), rid);
  auto config = d.store.getEventInvokeConfig(target->name, target->qualifier);
  if (!config) return gateway::errorResponse(req, config.error(), rid);
  return jsonReply(req, Status::ok, toJson(d, *config), rid);
}

Response remove(const Deps& d, Request& req, const RouteParams& p, const std::string& rid) {
  auto target = targetOf(d, p);
  if (!target) return gateway::errorResponse(req, target.error(), rid);
  if (auto ok = d.store.deleteEventInvokeConfig(target->name, target->qualifier); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  return noContent(req, rid);
}

Response list(const Deps& d, Request& req, const RouteParams& p, const std::string& rid) {
  auto target = targetOf(d, p);
  if (!target) return gateway::errorResponse(req, target.error(), rid);
  auto configs = d.store.listEventInvokeConfigs(target->name);
  if (!configs) return gateway::errorResponse(req, configs.error(), rid);
  json::array out;
  for (const auto& c : *configs) out.push_back(toJson(d, c));
  return jsonReply(req, Status::ok, json::object{{"FunctionEventInvokeConfigs", std::move(out)}},
                   rid);
}

}  // namespace

void addEventInvokeConfigRoutes(http::Router& router, FunctionsApiDeps deps,
                                store::QueueStore& queues) {
  auto d = std::make_shared<Deps>(Deps{deps, queues});
  auto route = [&](http::Verb verb, const char* path, auto fn) {
    addSyncRoute(router, d, verb, path, fn);
  };
  constexpr const char* kPath = "/2019-09-25/functions/{name}/event-invoke-config";
  route(http::Verb::put, kPath, put);
  route(http::Verb::post, kPath, update);
  route(http::Verb::get, kPath, get);
  route(http::Verb::delete_, kPath, remove);
  route(http::Verb::get, "/2019-09-25/functions/{name}/event-invoke-config/list", list);
}

}  // namespace nimbus::control
