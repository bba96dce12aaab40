// `nimbus stats <fn> [--window 1h] [--json]`: the function's health summary from
// GET /v1/functions/{name}/stats, as a short report (or the API's JSON).
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

double number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return 0;
}

std::string text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object& child(const json::object& o, const char* key) {
  static const json::object empty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : empty;
}

std::string format(const char* fmt, double a, double b = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

std::string formatStats(const json::object& s) {
  const json::object& d = child(s, "duration_ms");
  const json::object& cost = child(s, "cost");
  std::string out;
  auto line = [&out](const char* label, const std::string& value) {
    std::string l = label;
    l.resize(20, ' ');
    out += l + value + "\n";
  };
  line("function", text(s, "function"));
  line("window", text(s, "window") + " (" + text(s, "since") + " .. " + text(s, "until") + ")");
  line("invocations", format("%.0f", number(s, "invocations")));
  line("success rate", format("%.2f %%", 100 * number(s, "success_rate")));
  line("errors", format("%.0f (%.2f %%)", number(s, "errors"), 100 * number(s, "error_rate")) +
                     format(": %.0f function, ", number(s, "function_errors")) +
                     format("%.0f timeout, ", number(s, "timeouts")) +
                     format("%.0f out of memory, ", number(s, "out_of_memory")) +
                     format("%.0f platform", number(s, "platform_errors")));
  line("timeouts",
       format("%.0f (%.2f %%)", number(s, "timeouts"), 100 * number(s, "timeout_rate")));
  line("throttles",
       format("%.0f (%.2f %%)", number(s, "throttles"), 100 * number(s, "throttle_rate")));
  line("duration ms",
       format("p50 %.2f  ", number(d, "p50")) + format("p95 %.2f  ", number(d, "p95")) +
           format("p99 %.2f  ", number(d, "p99")) + format("max %.2f  ", number(d, "max")) +
           format("avg %.2f", number(d, "avg")));
  line("cold starts",
       format("%.0f (%.2f %%)", number(s, "cold_starts"), 100 * number(s, "cold_start_rate")));
  line("avg init ms", format("%.2f", number(s, "avg_init_duration_ms")));
  line("max concurrency", format("%.0f", number(s, "max_concurrency")));
  line("dlq additions", format("%.0f", number(s, "dlq_additions")));
  line("GB-seconds", format("%.6f", number(s, "gb_seconds")));
  line("cost", format("$%.8f", number(cost, "total")) +
                   format(" (compute $%.8f, ", number(cost, "compute")) +
                   format("requests $%.8f)", number(cost, "requests")));
  return out;
}

void addStatsCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("stats", "Show a function's health summary over a window");
  sub->add_option("name", "function name")->required();
  sub->add_option("-w,--window", "how far back: 90s, 15m, 1h (default), 7d; at most 30d");
  sub->add_option("--price-per-gb-second", "compute price (default 0.0000166667, Lambda x86)");
  sub->add_option("--price-per-request", "request price (default 0.0000002)");
  sub->add_flag("--json")->description("print the summary as JSON");
  addCommonOptions(*sub, true);
}

StatsOptions readStatsOptions(const CLI::App& sub) {
  StatsOptions o;
  o.name = optionValue(sub, "name").value_or("");
  if (auto w = optionValue(sub, "--window")) o.window = *w;
  o.price_per_gb_second = optionValue(sub, "--price-per-gb-second");
  o.price_per_request = optionValue(sub, "--price-per-request");
  o.as_json = flagGiven(sub, "--json");
  return o;
}

int runStats(const CommonOptions& common, const StatsOptions& o) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  std::string target =
      "/v1/functions/" + percentEncode(o.name) + "/stats?window=" + percentEncode(o.window);
  if (o.price_per_gb_second) {
    target += "&price_per_gb_second=" + percentEncode(*o.price_per_gb_second);
  }
  if (o.price_per_request) target += "&price_per_request=" + percentEncode(*o.price_per_request);
  auto response = client->send("GET", target);
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto body = parseJsonObject(response->body, "stats");
  if (!body.ok()) return reportError(body.error());
  std::cout << (o.as_json ? prettyJson(*body) : formatStats(*body));
  return kExitOk;
}

}  // namespace nimbus::cli
