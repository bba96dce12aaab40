// `nimbus invocations <fn>`: the function's invocation records from GET /v1/invocations,
// newest first, as a table (or the API's JSON), following the paging token until
// --limit records are shown.
#include <boost/json.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

std::string cell(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return v->get_string().empty() ? "-" : std::string(v->get_string());
  if (v->is_bool()) return v->get_bool() ? "cold" : "warm";
  if (v->is_double()) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(2) << v->get_double();
    return out.str();
  }
  return json::serialize(*v);
}

}  // namespace

std::string formatInvocationTable(const json::array& invocations) {
  const std::vector<std::pair<const char*, const char*>> columns = {
      {"START", "start_time"},
      {"REQUEST_ID", "request_id"},
      {"VERSION", "version"},
      {"TRIGGER", "trigger"},
      {"ATTEMPT", "attempt"},
      {"OUTCOME", "outcome"},
      {"DURATION_MS", "duration_ms"},
      {"BILLED_MS", "billed_duration_ms"},
      {"START_KIND", "cold_start"},
      {"INIT_MS", "init_duration_ms"},
      {"MAX_MEM_MB", "max_memory_used_mb"},
      {"ERROR", "error_type"}};
  std::vector<std::vector<std::string>> rows;
  rows.emplace_back();
  for (const auto& c : columns) rows.back().push_back(c.first);
  for (const json::value& item : invocations) {
    if (!item.is_object()) continue;
    rows.emplace_back();
    for (const auto& c : columns) rows.back().push_back(cell(item.get_object(), c.second));
  }
  std::vector<size_t> width(columns.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

void addInvocationsCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("invocations", "List a function's invocation records");
  sub->add_option("name", "function name")->required();
  sub->add_option("--outcome",
                  "success, function_error, timeout, out_of_memory, throttled or platform_error");
  sub->add_option("--request-id", "only this invocation (every attempt of it)");
  sub->add_option("--since", "from this time (epoch ms or RFC 3339)");
  sub->add_option("--until", "before this time (epoch ms or RFC 3339)");
  sub->add_option("-n,--limit", "how many records (default 20)")->check(positiveInt());
  sub->add_flag("--json")->description("print the records as JSON");
  addCommonOptions(*sub, true);
}

InvocationsOptions readInvocationsOptions(const CLI::App& sub) {
  InvocationsOptions o;
  o.name = optionValue(sub, "name").value_or("");
  o.outcome = optionValue(sub, "--outcome");
  o.request_id = optionValue(sub, "--request-id");
  o.since = optionValue(sub, "--since");
  o.until = optionValue(sub, "--until");
  if (auto limit = intOptionValue(sub, "--limit")) o.limit = *limit;
  o.as_json = flagGiven(sub, "--json");
  return o;
}

int runInvocations(const CommonOptions& common, const InvocationsOptions& o) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  std::string base = "/v1/invocations?function=" + percentEncode(o.name);
  if (o.outcome) base += "&outcome=" + percentEncode(*o.outcome);
  if (o.request_id) base += "&request_id=" + percentEncode(*o.request_id);
  if (o.since) base += "&since=" + percentEncode(*o.since);
  if (o.until) base += "&until=" + percentEncode(*o.until);
  json::array all;
  std::string next;
  while (static_cast<int>(all.size()) < o.limit) {
    const int want = std::min(1000, o.limit - static_cast<int>(all.size()));
    std::string target = base + "&limit=" + std::to_string(want);
    if (!next.empty()) target += "&next=" + percentEncode(next);
    auto response = client->send("GET", target);
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto body = parseJsonObject(response->body, "invocations");
    if (!body.ok()) return reportError(body.error());
    const json::object& page = *body;
    if (const json::value* items = page.if_contains("invocations"); items && items->is_array()) {
      for (const json::value& item : items->get_array()) all.push_back(item);
    }
    const json::value* token = page.if_contains("next");
    if (token == nullptr || !token->is_string() || token->get_string().empty()) break;
    next = std::string(token->get_string());
  }
  if (o.as_json) {
    std::cout << prettyJson(json::object{{"invocations", std::move(all)}});
  } else {
    std::cout << formatInvocationTable(all);
  }
  return kExitOk;
}

}  // namespace nimbus::cli
