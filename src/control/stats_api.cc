// The stats route: window and price parsing, the record scan, the JSON answer. Runs its
// store reads on the I/O thread, like /v1/invocations (README: to move off later).
#include "control/stats_api.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "base/encoding.h"
#include "base/time.h"
#include "control/api_responses.h"
#include "gateway/error_mapping.h"
#include "model/function_ref.h"
#include "observability/function_stats.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;

namespace {

std::optional<double> parsePrice(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !(v >= 0) || v > 1e6) return std::nullopt;
  return v;
}

std::string queryText(const RouteParams& p, const char* key) {
  auto it = p.query.find(key);
  return it == p.query.end() ? std::string() : it->second;
}

json::object statsJson(const std::string& function, const std::string& window,
                       const observability::FunctionStats& s,
                       const observability::StatsPrices& prices) {
  return json::object{
      {"function", function},
      {"window", window},
      {"since", formatIso8601Millis(s.since_ms)},
      {"until", formatIso8601Millis(s.until_ms)},
      {"since_ms", s.since_ms},
      {"until_ms", s.until_ms},
      {"invocations", s.invocations},
      {"successes", s.successes},
      {"errors", s.errors},
      {"function_errors", s.function_errors},
      {"timeouts", s.timeouts},
      {"out_of_memory", s.out_of_memory},
      {"platform_errors", s.platform_errors},
      {"throttles", s.throttles},
      {"success_rate", s.success_rate},
      {"error_rate", s.error_rate},
      {"timeout_rate", s.timeout_rate},
      {"throttle_rate", s.throttle_rate},
      {"duration_ms", json::object{{"p50", s.p50_ms},
                                   {"p95", s.p95_ms},
                                   {"p99", s.p99_ms},
                                   {"max", s.max_ms},
                                   {"avg", s.avg_ms}}},
      {"cold_starts", s.cold_starts},
      {"cold_start_rate", s.cold_start_rate},
      {"avg_init_duration_ms", s.avg_init_ms},
      {"max_concurrency", s.max_concurrency},
      {"dlq_additions", s.dlq_additions},
      {"gb_seconds", s.gb_seconds},
      {"cost", json::object{{"compute", s.cost_compute},
                            {"requests", s.cost_requests},
                            {"total", s.cost_total},
                            {"price_per_gb_second", prices.per_gb_second},
                            {"price_per_request", prices.per_request}}},
  };
}

Response stats(const StatsApiDeps& d, Request& req, const RouteParams& p, const std::string& rid) {
  auto fail = [&](const Error& e) { return gateway::errorResponse(req, e, rid); };
  auto ref = model::parseFunctionRef(p.path.at("name"));
  if (!ref) return fail(ref.error());
  std::string window = queryText(p, "window");
  int64_t window_ms = observability::kDefaultStatsWindowMs;
  if (window.empty()) {
    window = "1h";
  } else {
    auto parsed = observability::parseWindow(window);
    if (!parsed || *parsed > observability::kMaxStatsWindowMs) {
      return fail(makeError(ErrorCode::kInvalidParameter,
                            "window must be a number with an s, m, h or d suffix, at most 30d"));
    }
    window_ms = *parsed;
  }
  observability::StatsPrices prices;
  for (auto [key, target] : {std::pair{"price_per_gb_second", &prices.per_gb_second},
                             std::pair{"price_per_request", &prices.per_request}}) {
    const std::string text = queryText(p, key);
    if (text.empty()) continue;
    auto v = parsePrice(text);
    if (!v) {
      return fail(makeError(ErrorCode::kInvalidParameter,
                            std::string(key) + " must be a non-negative number"));
    }
    *target = *v;
  }
  auto config = d.store.getFunction(ref->name, "$LATEST");
  if (!config) return fail(config.error());

  const int64_t until = systemNowMillis() + 1;
  const int64_t since = until - window_ms;
  observability::StatsAccumulator acc(since, until);
  if (d.records_enabled) {
    auto scanned = d.store.scanInvocationRecords(
        ref->name, since, until, [&acc](const model::InvocationRecord& r) { acc.add(r); });
    if (!scanned) return fail(scanned.error());
  }
  auto dead = d.store.countDeadEvents(ref->name, since, until);
  if (!dead) return fail(dead.error());
  json::object body = statsJson(ref->name, window, acc.finish(*dead, prices), prices);
  body["records_enabled"] = d.records_enabled;
  auto res = http::makeResponse(req, http::Status::ok, json::serialize(body));
  res.set("x-amzn-RequestId", rid);
  return res;
}

}  // namespace

void addStatsRoutes(http::Router& router, StatsApiDeps deps) {
  auto d = std::make_shared<StatsApiDeps>(deps);
  addBlockingRoute(router, d, d->worker, http::Verb::get, "/v1/functions/{name}/stats", stats);
}

}  // namespace nimbus::control
