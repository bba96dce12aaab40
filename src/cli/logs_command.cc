// `nimbus logs`: prints a function's log lines from the native GET /v1/logs (kept in the
// store, one request id on every line) and, with --follow, keeps polling from the
// cursor where the last answer ended. Ctrl-C ends it the default
// way, like `tail -f`; there is no state to flush.
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

constexpr auto kPollInterval = std::chrono::milliseconds(500);

std::optional<int64_t> asInt64(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) return static_cast<int64_t>(value.get_uint64());
  if (value.is_double()) return static_cast<int64_t>(value.get_double());
  return std::nullopt;
}

}  // namespace

Result<LogPage> parseLogPage(std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorCode::kInternal, "unexpected logs response (not a JSON object): " +
                                               std::string(body.substr(0, 200)));
  }
  const json::object& object = value.get_object();
  LogPage page;
  if (const json::value* events = object.if_contains("events"); events && events->is_array()) {
    for (const json::value& event : events->get_array()) {
      const json::value* message =
          event.is_object() ? event.get_object().if_contains("message") : nullptr;
      if (message == nullptr || !message->is_string()) continue;
      std::string line(message->get_string());
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      page.messages.push_back(std::move(line));
    }
  }
  if (const json::value* next = object.if_contains("next_since")) page.next_since = asInt64(*next);
  if (const json::value* next = object.if_contains("next_after")) page.next_after = asInt64(*next);
  if (const json::value* enabled = object.if_contains("records_enabled");
      enabled && enabled->is_bool()) {
    page.stored = enabled->get_bool();
  }
  return page;
}

void addLogsCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("logs", "Print a function's log lines");
  sub->add_option("name", "function name")->required();
  sub->add_option("-n,--limit", "how many recent lines (default 100)")->check(positiveInt());
  sub->add_flag("-f,--follow")->description("keep printing new lines until interrupted");
  sub->add_option("--request-id", "only the lines of this invocation");
  sub->add_option("--since", "only lines from this time on (epoch ms or RFC 3339)");
  addCommonOptions(*sub, true);
}

LogsOptions readLogsOptions(const CLI::App& sub) {
  LogsOptions options;
  options.name = optionValue(sub, "name").value_or("");
  if (auto limit = intOptionValue(sub, "--limit")) options.limit = *limit;
  options.follow = flagGiven(sub, "--follow");
  options.request_id = optionValue(sub, "--request-id");
  options.since = optionValue(sub, "--since");
  return options;
}

int runLogs(const CommonOptions& common, const LogsOptions& options) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  std::string base = "/v1/logs?function=" + percentEncode(options.name) +
                     "&limit=" + std::to_string(options.limit);
  if (options.request_id) base += "&request_id=" + percentEncode(*options.request_id);
  if (options.since) base += "&since=" + percentEncode(*options.since);
  // A server that keeps no logs (--records off) still has the recent lines in memory,
  // behind the older per-function endpoint and its own cursor.
  bool in_memory = false;
  int64_t cursor = 0;  // 0: none yet
  while (true) {
    std::string target = base;
    if (cursor > 0) target += (in_memory ? "&since=" : "&after=") + std::to_string(cursor);
    auto response = client->send("GET", target);
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto page = parseLogPage(response->body);
    if (!page.ok()) return reportError(page.error());
    if (!page->stored && !in_memory) {
      in_memory = true;
      base = "/v1/functions/" + percentEncode(options.name) +
             "/logs?limit=" + std::to_string(options.limit);
      cursor = 0;
      continue;
    }
    for (const std::string& line : page->messages) std::cout << line << "\n";
    std::cout.flush();
    std::optional<int64_t> next = in_memory ? page->next_since : page->next_after;
    if (next) cursor = *next;
    if (!options.follow) return kExitOk;
    // A full page means more lines are waiting: fetch them now rather than falling
    // further behind a busy function.
    bool full = page->messages.size() >= static_cast<size_t>(options.limit);
    if (!full || !next) std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace nimbus::cli
