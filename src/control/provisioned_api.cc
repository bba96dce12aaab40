// The store keeps what was requested; the pool starts the instances in the background
// and reports how far it got (Allocated, Status); Admission checks the counts against
// reserved and host-wide concurrency.
#include "control/provisioned_api.h"

#include <boost/json.hpp>
#include <regex>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "control/api_responses.h"
#include "control/function_json.h"
#include "control/function_lookup.h"
#include "gateway/error_mapping.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

constexpr const char* kConfigNotFoundType = "ProvisionedConcurrencyConfigNotFoundException";
constexpr const char* kConfigNotFoundMessage =
    "No Provisioned Concurrency Config found for this function";

struct Target {
  model::FunctionConfig config;  // of the qualified version
  std::string qualifier;
};

Error invalid(const std::string& message) {
  return makeError(ErrorCode::kInvalidParameter, message);
}

// The function (which must exist) and, when `need_qualifier`, the qualified version.
Result<Target> targetOf(const FunctionsApiDeps& d, const RouteParams& p, bool need_qualifier) {
  auto found = lookUpFunction(d.store, d.arn, p);
  if (!found) return found.error();
  const model::FunctionRef& merged = found->ref;
  const model::FunctionConfig& latest = found->latest;
  if (!need_qualifier) return Target{latest, ""};
  if (!merged.qualifier || merged.qualifier->empty()) {
    return invalid(
        "The Qualifier parameter is required (a version; $LATEST until nimbus has "
        "published versions).");
  }
  static const std::regex kQualifier(R"(\$LATEST|[a-zA-Z0-9_-]{1,128})");
  const std::string& qualifier = *merged.qualifier;
  if (!std::regex_match(qualifier, kQualifier)) {
    return invalid("1 validation error detected: Value '" + qualifier +
                   "' at 'qualifier' failed to satisfy constraint: Member must satisfy regular "
                   "expression pattern: (|[a-zA-Z0-9$_-]+)");
  }
  if (qualifier == model::kLatest) return Target{latest, qualifier};
  auto version = d.store.getFunction(merged.name, qualifier);
  if (!version) {
    if (version.error().code == ErrorCode::kNotFound) {
      return model::functionNotFound(d.arn, merged.name, qualifier);
    }
    return version.error();
  }
  return Target{*version, qualifier};
}

Response configNotFound(const Request& req, const std::string& rid) {
  auto res =
      gateway::errorResponse(req, makeError(ErrorCode::kNotFound, kConfigNotFoundMessage), rid);
  res.set("x-amzn-ErrorType", kConfigNotFoundType);
  return res;
}

json::object statusJson(const pool::ProvisionedStatus& s) {
  json::object o;
  o["RequestedProvisionedConcurrentExecutions"] = s.requested;
  o["AvailableProvisionedConcurrentExecutions"] = s.allocated;
  o["AllocatedProvisionedConcurrentExecutions"] = s.allocated;
  o["Status"] = s.status;
  if (!s.status_reason.empty()) o["StatusReason"] = s.status_reason;
  o["LastModified"] = formatLambdaTimestamp(s.last_modified_ms);
  return o;
}

// The pool's view, or (before the pool has it, e.g. a failed start-up) the stored one.
pool::ProvisionedStatus statusOf(const FunctionsApiDeps& d,
                                 const store::ProvisionedConcurrencyConfig& c) {
  if (auto s = d.pool.provisionedStatus(c.function_name, c.qualifier)) return *s;
  pool::ProvisionedStatus s;
  s.requested = c.requested;
  s.status = "IN_PROGRESS";
  s.last_modified_ms = c.last_modified_ms;
  return s;
}

// The sum of the function's other provisioned configs.
Result<int> othersTotal(const FunctionsApiDeps& d, const std::string& name,
                        const std::string& qualifier) {
  auto all = d.store.listProvisionedConcurrency(name);
  if (!all) return all.error();
  int total = 0;
  for (const auto& c : *all) {
    if (c.qualifier != qualifier) total += c.requested;
  }
  return total;
}

Response put(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
             const std::string& rid) {
  auto t = targetOf(d, p, true);
  if (!t) return gateway::errorResponse(req, t.error(), rid);
  auto body = parseObject(req.body());
  if (!body) return gateway::errorResponse(req, body.error(), rid);
  auto n = optInt(*body, "ProvisionedConcurrentExecutions");
  if (!n) return gateway::errorResponse(req, n.error(), rid);
  const int host_limit = d.pool.admission().hostLimit();
  if (!*n || **n < 1 || **n > host_limit) {
    return gateway::errorResponse(req,
                                  invalid("ProvisionedConcurrentExecutions must be between 1 and " +
                                          std::to_string(host_limit)),
                                  rid);
  }
  const int requested = static_cast<int>(**n);
  const std::string& name = t->config.name;
  if (int64_t{requested} * t->config.memory_mb > d.pool.memoryBudgetMb()) {
    return gateway::errorResponse(
        req,
        invalid(std::to_string(requested) + " instances of " + std::to_string(t->config.memory_mb) +
                " MB exceed the host memory budget of " + std::to_string(d.pool.memoryBudgetMb()) +
                " MB."),
        rid);
  }
  auto others = othersTotal(d, name, t->qualifier);
  if (!others) return gateway::errorResponse(req, others.error(), rid);
  const int before = d.pool.admission().provisioned(name);
  if (auto ok = d.pool.admission().setProvisioned(name, *others + requested); !ok) {
    return gateway::errorResponse(req, ok.error(), rid);
  }
  store::ProvisionedConcurrencyConfig config{name, t->qualifier, requested, systemNowMillis()};
  if (auto ok = d.store.putProvisionedConcurrency(config); !ok) {
    (void)d.pool.admission().setProvisioned(name, before);
    return gateway::errorResponse(req, ok.error(), rid);
  }
  d.pool.provision(t->config, requested, config.last_modified_ms);
  log::info("control", "provisioned concurrency set",
            {{"request_id", rid},
             {"function", name},
             {"qualifier", t->qualifier},
             {"requested", std::to_string(requested)}});
  return jsonReply(req, Status::accepted, statusJson(statusOf(d, config)), rid);
}

Result<store::ProvisionedConcurrencyConfig> find(const FunctionsApiDeps& d, const Target& t) {
  auto all = d.store.listProvisionedConcurrency(t.config.name);
  if (!all) return all.error();
  for (const auto& c : *all) {
    if (c.qualifier == t.qualifier) return c;
  }
  return makeError(ErrorCode::kNotFound, kConfigNotFoundMessage);
}

Response list(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
              const std::string& rid) {
  auto t = targetOf(d, p, false);
  if (!t) return gateway::errorResponse(req, t.error(), rid);
  size_t max_items = 50;
  if (auto it = p.query.find("MaxItems"); it != p.query.end()) {
    if (!std::regex_match(it->second, std::regex(R"(\d{1,3})")) || std::stoi(it->second) < 1 ||
        std::stoi(it->second) > 50) {
      return gateway::errorResponse(req, invalid("MaxItems must be between 1 and 50"), rid);
    }
    max_items = static_cast<size_t>(std::stoi(it->second));
  }
  std::string marker;
  if (auto it = p.query.find("Marker"); it != p.query.end()) marker = it->second;
  auto all = d.store.listProvisionedConcurrency(t->config.name);
  if (!all) return gateway::errorResponse(req, all.error(), rid);
  json::array items;
  std::string next;
  for (const auto& c : *all) {
    if (!marker.empty() && c.qualifier <= marker) continue;  // the marker is the last qualifier
    if (items.size() == max_items) {
      next = items.back().as_object().at("FunctionArn").as_string().c_str();
      next = next.substr(next.rfind(':') + 1);
      break;
    }
    json::object o = statusJson(statusOf(d, c));
    o["FunctionArn"] = model::functionArn(d.arn, c.function_name, c.qualifier);
    items.push_back(std::move(o));
  }
  json::object out;
  out["ProvisionedConcurrencyConfigs"] = std::move(items);
  if (!next.empty()) out["NextMarker"] = next;
  return jsonReply(req, Status::ok, out, rid);
}

Response get(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
             const std::string& rid) {
  if (p.query.count("List")) return list(d, req, p, rid);
  auto t = targetOf(d, p, true);
  if (!t) return gateway::errorResponse(req, t.error(), rid);
  auto c = find(d, *t);
  if (!c) {
    if (c.error().code == ErrorCode::kNotFound) return configNotFound(req, rid);
    return gateway::errorResponse(req, c.error(), rid);
  }
  return jsonReply(req, Status::ok, statusJson(statusOf(d, *c)), rid);
}

Response remove(const FunctionsApiDeps& d, Request& req, const RouteParams& p,
                const std::string& rid) {
  auto t = targetOf(d, p, true);
  if (!t) return gateway::errorResponse(req, t.error(), rid);
  const std::string& name = t->config.name;
  if (auto ok = d.store.deleteProvisionedConcurrency(name, t->qualifier); !ok) {
    if (ok.error().code == ErrorCode::kNotFound) return configNotFound(req, rid);
    return gateway::errorResponse(req, ok.error(), rid);
  }
  if (auto others = othersTotal(d, name, t->qualifier)) {
    (void)d.pool.admission().setProvisioned(name, *others);
  }
  d.pool.unprovision(name, t->qualifier);
  log::info("control", "provisioned concurrency removed",
            {{"request_id", rid}, {"function", name}, {"qualifier", t->qualifier}});
  return noContent(req, rid);
}

}  // namespace

void addProvisionedConcurrencyRoutes(http::Router& router, FunctionsApiDeps deps) {
  auto d = std::make_shared<FunctionsApiDeps>(deps);
  auto route = [&](http::Verb verb, const char* path, auto fn) {
    addSyncRoute(router, d, verb, path, fn);
  };
  const char* path = "/2019-09-30/functions/{name}/provisioned-concurrency";
  route(http::Verb::put, path, put);
  route(http::Verb::get, path, get);
  route(http::Verb::delete_, path, remove);
}

void restoreProvisionedConcurrency(const FunctionsApiDeps& d) {
  auto all = d.store.listProvisionedConcurrency("");
  if (!all) {
    log::error("control", "cannot load provisioned concurrency", {{"error", all.error().message}});
    return;
  }
  std::map<std::string, int> totals;
  for (const auto& c : *all) totals[c.function_name] += c.requested;
  for (const auto& [name, total] : totals) {
    if (auto ok = d.pool.admission().setProvisioned(name, total); !ok) {
      log::warn("control", "provisioned concurrency over the limits after a restart",
                {{"function", name}, {"error", ok.error().message}});
    }
  }
  for (const auto& c : *all) {
    auto config = d.store.getFunction(c.function_name, c.qualifier);
    if (!config) {
      log::warn("control", "provisioned concurrency for a missing version",
                {{"function", c.function_name}, {"qualifier", c.qualifier}});
      continue;
    }
    d.pool.provision(*config, c.requested, c.last_modified_ms);
  }
}

}  // namespace nimbus::control
