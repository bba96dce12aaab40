// `nimbus async <function>`: the async-events visibility endpoint of one function
// (queued, running, done and dead events, the oldest queued age, retries, and the depth
// of its destination queues).
#include <boost/json.hpp>
#include <iostream>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

std::string countText(const json::object& events, std::string_view key) {
  auto number = numberField(events, key);
  return number ? std::to_string(static_cast<int64_t>(*number)) : "-";
}

// "arn:nimbus:queue:...:q (depth 3)" from {"Destination","Depth"}, "... (queue missing)"
// when the server flags a queue destination that does not exist; nullopt when absent.
std::optional<std::string> destinationText(const json::object& events, std::string_view key) {
  const json::value* value = events.if_contains(key);
  if (value == nullptr || !value->is_object()) return std::nullopt;
  const json::object& destination = value->get_object();
  std::string text = stringField(destination, "Destination");
  if (text.empty()) text = "-";
  if (auto depth = numberField(destination, "Depth")) {
    text += " (depth " + std::to_string(static_cast<int64_t>(*depth)) + ")";
  }
  const json::value* missing = destination.if_contains("Missing");
  if (missing != nullptr && missing->is_bool() && missing->get_bool()) text += " (queue missing)";
  return text;
}

}  // namespace

std::string formatAsyncEvents(const std::string& function, const json::object& events) {
  std::vector<std::vector<std::string>> rows = {
      {"function", function},
      {"queued", countText(events, "queued")},
      {"running", countText(events, "running")},
      {"done", countText(events, "done")},
      {"dead", countText(events, "dead")},
      {"oldest queued", formatAge(numberField(events, "OldestQueuedAgeSeconds"))},
      {"retries", countText(events, "Retries")},
  };
  if (auto text = destinationText(events, "OnSuccess")) rows.push_back({"on success", *text});
  if (auto text = destinationText(events, "OnFailure")) rows.push_back({"on failure", *text});
  if (auto text = destinationText(events, "DeadLetterQueue")) {
    rows.push_back({"dead-letter queue", *text});
  }
  return alignColumns(rows);
}

void addAsyncCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("async", "Show a function's async events and destinations");
  sub->add_option("function", "function name")->required();
  sub->add_flag("--json")->description("print the API's JSON instead of a summary");
  addCommonOptions(*sub, true);
}

int runAsync(const CommonOptions& common, const std::string& function, bool as_json) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("GET", "/v1/functions/" + percentEncode(function) + "/async-events");
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto events = parseJsonObject(response->body, "async-events");
  if (!events.ok()) return reportError(events.error());
  std::cout << (as_json ? prettyJson(*events) : formatAsyncEvents(function, *events));
  return kExitOk;
}

}  // namespace nimbus::cli
