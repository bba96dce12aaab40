// `nimbus queue create|ls|rm|send|receive`: thin verbs over the native queue API
// (docs/queues.md), plus the JSON, time and table helpers the queue, dlq and async verbs
// share.
#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

// `queue send` takes any text as the body: inline, @file or @- (stdin), unchecked.
Result<std::string> loadBody(const std::string& spec) {
  if (spec == "@-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (!spec.empty() && spec.front() == '@') {
    std::ifstream in(spec.substr(1), std::ios::binary);
    if (!in) {
      return makeError(ErrorCode::kInvalidParameter, "cannot read " + spec.substr(1));
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return spec;
}

std::string replayCell(const json::object& queue) {
  ReplayProgress progress = readReplayProgress(queue);
  if (!progress.running) return "idle";
  return "running (" + std::to_string(progress.remaining) + " left)";
}

std::string countCell(const json::object& object, std::string_view key) {
  auto number = numberField(object, key);
  return number ? std::to_string(static_cast<int64_t>(*number)) : "-";
}

void addQueueSub(CLI::App& queue, const char* name, const char* description,
                 void (*more)(CLI::App&)) {
  CLI::App* sub = queue.add_subcommand(name, description);
  if (more) more(*sub);
  addCommonOptions(*sub, true);
}

int runCreate(const CommonOptions& common, const std::string& name) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("POST", "/v1/queues", json::serialize(json::object{{"Name", name}}));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto queue = parseJsonObject(response->body, "CreateQueue");
  if (!queue.ok()) return reportError(queue.error());
  std::cout << "created queue " << name << " " << stringField(*queue, "Arn") << "\n";
  return kExitOk;
}

int runQueueList(const CommonOptions& common, bool as_json) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("GET", "/v1/queues");
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto page = parseJsonObject(response->body, "ListQueues");
  if (!page.ok()) return reportError(page.error());
  if (as_json) {
    std::cout << prettyJson(*page);
    return kExitOk;
  }
  const json::value* queues = page->if_contains("Queues");
  std::cout << formatQueueTable(queues && queues->is_array() ? queues->get_array() : json::array{});
  return kExitOk;
}

int runQueueRemove(const CommonOptions& common, const std::string& name) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("DELETE", queuePath(name));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  std::cout << "deleted queue " << name << "\n";
  return kExitOk;
}

int runSend(const CommonOptions& common, const std::string& name, const std::string& body_spec) {
  auto body = loadBody(body_spec);
  if (!body.ok()) return reportError(body.error());
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("POST", queuePath(name) + "/messages",
                               json::serialize(json::object{{"Body", *body}}));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto sent = parseJsonObject(response->body, "SendMessage");
  if (!sent.ok()) return reportError(sent.error());
  std::cout << stringField(*sent, "MessageId") << "\n";
  return kExitOk;
}

int runReceive(const CommonOptions& common, const CLI::App& sub) {
  const std::string name = optionValue(sub, "name").value_or("");
  json::object request;
  if (auto max = intOptionValue(sub, "--max")) request["MaxMessages"] = *max;
  if (auto timeout = intOptionValue(sub, "--visibility-timeout")) {
    request["VisibilityTimeout"] = *timeout;
  }
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("POST", queuePath(name) + "/receive", json::serialize(request));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto received = parseJsonObject(response->body, "ReceiveMessages");
  if (!received.ok()) return reportError(received.error());
  std::cout << prettyJson(*received);
  std::cout.flush();
  if (!flagGiven(sub, "--delete")) return kExitOk;
  int deleted = 0;
  const json::value* messages = received->if_contains("Messages");
  if (messages != nullptr && messages->is_array()) {
    for (const json::value& message : messages->get_array()) {
      if (!message.is_object()) continue;
      std::string id = stringField(message.get_object(), "MessageId");
      if (id.empty()) continue;
      auto gone = client->send("DELETE", queuePath(name) + "/messages/" + percentEncode(id));
      if (!gone.ok()) return reportError(gone.error());
      if (!gone->ok()) return reportApiError(*gone);
      ++deleted;
    }
  }
  std::cerr << "deleted " << deleted << " message" << (deleted == 1 ? "" : "s") << "\n";
  return kExitOk;
}

}  // namespace

std::string queuePath(const std::string& name) { return "/v1/queues/" + percentEncode(name); }

Result<json::object> parseJsonObject(std::string_view body, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorCode::kInternal,
                     "unexpected " + std::string(what) +
                         " response (not a JSON object): " + std::string(body.substr(0, 200)));
  }
  return std::move(value.get_object());
}

std::optional<double> numberField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return static_cast<double>(value->get_int64());
  if (value->is_uint64()) return static_cast<double>(value->get_uint64());
  if (value->is_double()) return value->get_double();
  return std::nullopt;
}

std::string stringField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

std::string alignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::optional<int64_t> timestampMs(const json::value& value) {
  auto fromNumber = [](double number) -> int64_t {
    // Seconds since 1970 stay below 1e11 until the year 5138.
    return static_cast<int64_t>(std::llround(number >= 1e11 ? number : number * 1000.0));
  };
  if (value.is_int64()) return fromNumber(static_cast<double>(value.get_int64()));
  if (value.is_uint64()) return fromNumber(static_cast<double>(value.get_uint64()));
  if (value.is_double()) return fromNumber(value.get_double());
  if (!value.is_string()) return std::nullopt;
  std::string text(value.get_string());
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789.") == std::string::npos) {
    char* end = nullptr;
    double number = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    return fromNumber(number);
  }
  // ISO 8601 in UTC: 2024-01-02T03:04:05[.fff](Z|+0000|+00:00).
  struct tm parts = {};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &parts.tm_year, &parts.tm_mon,
                  &parts.tm_mday, &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  int64_t ms = static_cast<int64_t>(timegm(&parts)) * 1000;
  std::string_view rest = std::string_view(text).substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int64_t scale = 100;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      ms += (rest.front() - '0') * scale;
      scale /= 10;
      rest.remove_prefix(1);
    }
  }
  if (rest.empty() || rest == "Z" || rest == "+0000" || rest == "+00:00") return ms;
  // Another offset: +hh:mm / +hhmm / -hh...
  int hours = 0;
  int minutes = 0;
  char sign = rest.front();
  std::string offset(rest.substr(1));
  offset.erase(std::remove(offset.begin(), offset.end(), ':'), offset.end());
  if ((sign != '+' && sign != '-') || offset.size() != 4 ||
      std::sscanf(offset.c_str(), "%2d%2d", &hours, &minutes) != 2) {
    return std::nullopt;
  }
  int64_t shift = (hours * 60 + minutes) * 60000LL;
  return sign == '+' ? ms - shift : ms + shift;
}

std::string formatAge(std::optional<double> seconds) {
  if (!seconds || *seconds < 0 || !std::isfinite(*seconds)) return "-";
  auto total = static_cast<int64_t>(*seconds);
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(total));
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  } else if (total < 86400) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(total / 3600),
                  static_cast<long long>(total % 3600 / 60));
  } else {
    std::snprintf(text, sizeof text, "%lldd%02lldh", static_cast<long long>(total / 86400),
                  static_cast<long long>(total % 86400 / 3600));
  }
  return text;
}

std::string formatQueueTable(const json::array& queues) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "DEPTH", "VISIBLE", "IN_FLIGHT", "OLDEST", "REPLAY"}};
  for (const json::value& item : queues) {
    const json::object* queue = item.if_object();
    if (queue == nullptr) continue;
    std::string name = stringField(*queue, "Name");
    rows.push_back({name.empty() ? "-" : name, countCell(*queue, "Depth"),
                    countCell(*queue, "Visible"), countCell(*queue, "InFlight"),
                    formatAge(numberField(*queue, "OldestAgeSeconds")), replayCell(*queue)});
  }
  return alignColumns(rows);
}

void addQueueCommands(CLI::App& app) {
  CLI::App* queue = app.add_subcommand("queue", "Manage named queues (destinations, DLQs)");
  queue->require_subcommand(1);
  addQueueSub(*queue, "create", "Create a queue", [](CLI::App& sub) {
    sub.add_option("name", "queue name (1-80 of A-Z a-z 0-9 - _)")->required();
  });
  addQueueSub(*queue, "ls", "List queues with their depth", [](CLI::App& sub) {
    sub.add_flag("--json")->description("print the API's JSON instead of a table");
  });
  addQueueSub(*queue, "rm", "Delete a queue and its messages",
              [](CLI::App& sub) { sub.add_option("name", "queue name")->required(); });
  addQueueSub(*queue, "send", "Send one message", [](CLI::App& sub) {
    sub.add_option("name", "queue name")->required();
    sub.add_option("body", "message body: text, @file or @- for stdin")
        ->required()
        ->type_name("TEXT|@FILE");
  });
  addQueueSub(*queue, "receive", "Receive messages (hidden for the visibility timeout)",
              [](CLI::App& sub) {
                sub.add_option("name", "queue name")->required();
                sub.add_option("--max", "at most this many messages (1-10, default 1)")
                    ->check(positiveInt());
                sub.add_option("--visibility-timeout",
                               "seconds the messages stay hidden (0-43200, default 30)")
                    ->check(CLI::Range(0, std::numeric_limits<int>::max()).description(""));
                sub.add_flag("--delete")->description("delete the messages received");
              });
}

int runQueueCommand(const CLI::App& queue) {
  for (const CLI::App* sub : queue.get_subcommands()) {
    CommonOptions common = readCommonOptions(*sub);
    const std::string verb = sub->get_name();
    const std::string name = optionValue(*sub, "name").value_or("");
    if (verb == "create") return runCreate(common, name);
    if (verb == "ls") return runQueueList(common, flagGiven(*sub, "--json"));
    if (verb == "rm") return runQueueRemove(common, name);
    if (verb == "send") return runSend(common, name, optionValue(*sub, "body").value_or(""));
    if (verb == "receive") return runReceive(common, *sub);
  }
  return reportError(makeError(ErrorCode::kInvalidParameter, "queue: no subcommand given"));
}

}  // namespace nimbus::cli
