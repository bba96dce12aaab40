// `nimbus dlq ls|show|replay|purge`: dead-letter queues as an operator sees them. A DLQ
// is a named queue used as an OnFailure destination, so these verbs read destination
// records (docs/queues.md) and start and follow the server's rate-limited replay.
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

constexpr auto kReplayPollInterval = std::chrono::milliseconds(500);
constexpr int kPageSize = 100;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t count(const json::object& object, std::string_view key) {
  return static_cast<int64_t>(numberField(object, key).value_or(0));
}

// Attribute `key` of a message, else what the destination record in its Body says.
std::string attribute(const json::object& message, const json::object* record,
                      std::string_view key) {
  const json::value* attributes = message.if_contains("Attributes");
  if (attributes != nullptr && attributes->is_object()) {
    const json::value* value = attributes->get_object().if_contains(key);
    if (value != nullptr && value->is_string() && !value->get_string().empty()) {
      return std::string(value->get_string());
    }
    if (value != nullptr && (value->is_int64() || value->is_uint64() || value->is_double())) {
      return json::serialize(*value);
    }
  }
  // A DeadLetterConfig message carries Lambda's RequestID; its body is the event, not
  // a record, so the record must not answer for it.
  if (key == "RequestId") {
    std::string lambda = attribute(message, nullptr, "RequestID");
    if (lambda != "-") return lambda;
  }
  if (record == nullptr) return "-";
  const json::value* context = record->if_contains("requestContext");
  if (context == nullptr || !context->is_object()) return "-";
  const json::object& ctx = context->get_object();
  if (key == "RequestId")
    return stringField(ctx, "requestId").empty() ? "-" : stringField(ctx, "requestId");
  if (key == "Condition")
    return stringField(ctx, "condition").empty() ? "-" : stringField(ctx, "condition");
  if (key == "ApproximateInvokeCount") {
    auto n = numberField(ctx, "approximateInvokeCount");
    return n ? std::to_string(static_cast<int64_t>(*n)) : "-";
  }
  if (key == "SourceFunction") {
    // arn:aws:lambda:region:account:function:NAME[:qualifier]
    std::string arn = stringField(ctx, "functionArn");
    size_t at = arn.find(":function:");
    if (at == std::string::npos) return "-";
    std::string name = arn.substr(at + 10);
    return name.substr(0, name.find(':'));
  }
  return "-";
}

Result<json::array> fetchAllMessages(ApiClient& client, const std::string& queue) {
  json::array messages;
  std::string after;
  std::set<std::string> seen;  // a server repeating NextAfter would loop forever
  while (true) {
    std::string target = queuePath(queue) + "/messages?limit=" + std::to_string(kPageSize);
    if (!after.empty()) target += "&after=" + percentEncode(after);
    auto response = client.send("GET", target);
    if (!response.ok()) return response.error();
    if (!response->ok()) {
      ApiErrorInfo info = describeApiError(*response);
      return makeError(ErrorCode::kInternal, info.type + ": " + info.message);
    }
    auto page = parseJsonObject(response->body, "ListMessages");
    if (!page.ok()) return page.error();
    const json::value* items = page->if_contains("Messages");
    if (items != nullptr && items->is_array()) {
      messages.insert(messages.end(), items->get_array().begin(), items->get_array().end());
    }
    after = stringField(*page, "NextAfter");
    if (after.empty()) return messages;
    if (!seen.insert(after).second) {
      return makeError(ErrorCode::kInternal, "server repeated NextAfter " + after);
    }
  }
}

int runDlqList(const CommonOptions& common, const std::optional<std::string>& queue, bool as_json) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  if (!queue) {
    auto response = client->send("GET", "/v1/queues");
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto page = parseJsonObject(response->body, "ListQueues");
    if (!page.ok()) return reportError(page.error());
    const json::value* queues = page->if_contains("Queues");
    if (as_json) {
      std::cout << prettyJson(*page);
    } else {
      std::cout << formatQueueTable(queues && queues->is_array() ? queues->get_array()
                                                                 : json::array{});
    }
    return kExitOk;
  }
  auto messages = fetchAllMessages(*client, *queue);
  if (!messages.ok()) return reportError(messages.error());
  if (as_json) {
    std::cout << prettyJson(json::object{{"Messages", std::move(*messages)}});
  } else {
    std::cout << formatDlqTable(*messages, nowMs());
  }
  return kExitOk;
}

int runDlqShow(const CommonOptions& common, const std::string& queue,
               const std::optional<std::string>& id) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  if (id) {
    auto response = client->send("GET", queuePath(queue) + "/messages/" + percentEncode(*id));
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto message = parseJsonObject(response->body, "GetMessage");
    if (!message.ok()) return reportError(message.error());
    std::cout << prettyJson(expandMessageBody(*message));
    return kExitOk;
  }
  auto messages = fetchAllMessages(*client, queue);
  if (!messages.ok()) return reportError(messages.error());
  json::array shown;
  for (const json::value& message : *messages) {
    shown.push_back(message.is_object() ? json::value(expandMessageBody(message.get_object()))
                                        : message);
  }
  std::cout << prettyJson(json::object{{"Messages", std::move(shown)}});
  return kExitOk;
}

int runDlqReplay(const CommonOptions& common, const std::string& queue,
                 const std::optional<std::string>& rate, bool wait) {
  json::object request;
  if (rate) {
    try {
      size_t used = 0;
      double value = std::stod(*rate, &used);
      if (used != rate->size() || !(value > 0)) throw std::invalid_argument("rate");
      request["Rate"] = value;
    } catch (const std::exception&) {
      return reportError(
          makeError(ErrorCode::kInvalidParameter, "--rate " + *rate + ": not a positive number"));
    }
  }
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto started = client->send("POST", queuePath(queue) + "/replay", json::serialize(request));
  if (!started.ok()) return reportError(started.error());
  if (!started->ok()) return reportApiError(*started);
  auto state = parseJsonObject(started->body, "StartReplay");
  if (!state.ok()) return reportError(state.error());
  ReplayProgress progress = readReplayProgress(*state);
  std::cout << "replaying " << queue << ": " << formatReplayProgress(progress) << "\n";
  std::cout.flush();
  if (!wait) return kExitOk;

  // Counters only grow during one replay; keeping the highest seen guards against a
  // server that clears them when the replay ends.
  ReplayProgress best = progress;
  std::string last_line = formatReplayProgress(progress);
  while (true) {
    std::this_thread::sleep_for(kReplayPollInterval);
    auto response = client->send("GET", queuePath(queue));
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto queue_state = parseJsonObject(response->body, "GetQueue");
    if (!queue_state.ok()) return reportError(queue_state.error());
    progress = readReplayProgress(*queue_state);
    best.replayed = std::max(best.replayed, progress.replayed);
    best.failed = std::max(best.failed, progress.failed);
    best.remaining = progress.remaining;
    best.running = progress.running;
    if (progress.rate > 0) best.rate = progress.rate;
    std::string line = formatReplayProgress(best);
    if (line != last_line) {
      std::cout << "replaying " << queue << ": " << line << "\n";
      std::cout.flush();
      last_line = line;
    }
    if (!progress.running) break;
  }
  std::cout << "replay of " << queue << " done: " << best.replayed << " replayed, " << best.failed
            << " failed\n";
  return best.failed > 0 ? kExitFunctionError : kExitOk;
}

int runDlqPurge(const CommonOptions& common, const std::string& queue) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("DELETE", queuePath(queue) + "/messages");
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto purged = parseJsonObject(response->body, "PurgeQueue");
  if (!purged.ok()) return reportError(purged.error());
  std::cout << "purged " << count(*purged, "Purged") << " messages from " << queue << "\n";
  return kExitOk;
}

}  // namespace

json::object expandMessageBody(const json::object& message) {
  json::object out = message;
  const json::value* body = message.if_contains("Body");
  if (body != nullptr && body->is_string()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(body->get_string(), ec);
    if (!ec && (parsed.is_object() || parsed.is_array())) out["Body"] = std::move(parsed);
  }
  return out;
}

std::string formatDlqTable(const json::array& messages, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "SOURCE_FUNCTION", "CONDITION", "ATTEMPTS", "REPLAYS", "AGE", "REQUEST_ID"}};
  for (const json::value& item : messages) {
    const json::object* message = item.if_object();
    if (message == nullptr) continue;
    json::object expanded = expandMessageBody(*message);
    const json::value* body = expanded.if_contains("Body");
    const json::object* record = body != nullptr ? body->if_object() : nullptr;
    std::optional<double> age;
    if (const json::value* sent = message->if_contains("SentAt")) {
      if (auto sent_ms = timestampMs(*sent)) {
        age = static_cast<double>(std::max<int64_t>(0, now_ms - *sent_ms)) / 1000.0;
      }
    }
    std::string id = stringField(*message, "MessageId");
    std::string replays = attribute(*message, nullptr, "ReplayCount");
    rows.push_back({id.empty() ? "-" : id, attribute(*message, record, "SourceFunction"),
                    attribute(*message, record, "Condition"),
                    attribute(*message, record, "ApproximateInvokeCount"),
                    replays == "-" ? "0" : replays, formatAge(age),
                    attribute(*message, record, "RequestId")});
  }
  return alignColumns(rows);
}

ReplayProgress readReplayProgress(const json::object& queue) {
  ReplayProgress progress;
  const json::value* replay = queue.if_contains("Replay");
  if (replay == nullptr || !replay->is_object()) return progress;
  const json::object& r = replay->get_object();
  progress.running = stringField(r, "State") == "running";
  progress.replayed = count(r, "Replayed");
  progress.failed = count(r, "Failed");
  progress.remaining = count(r, "Remaining");
  progress.rate = numberField(r, "Rate").value_or(0);
  return progress;
}

std::string formatReplayProgress(const ReplayProgress& progress) {
  std::string text = std::to_string(progress.replayed) + " replayed, " +
                     std::to_string(progress.failed) + " failed, " +
                     std::to_string(progress.remaining) + " remaining";
  if (progress.rate > 0) {
    char rate[32];
    std::snprintf(rate, sizeof rate, " (%g/s)", progress.rate);
    text += rate;
  }
  return text;
}

void addDlqCommands(CLI::App& app) {
  CLI::App* dlq = app.add_subcommand("dlq", "Inspect, replay and purge dead-letter queues");
  dlq->require_subcommand(1);

  CLI::App* ls = dlq->add_subcommand("ls", "List queues, or the records of one queue");
  ls->add_option("queue", "queue name (omit to list every queue)");
  ls->add_flag("--json")->description("print the API's JSON instead of a table");
  addCommonOptions(*ls, true);

  CLI::App* show = dlq->add_subcommand("show", "Print records in full");
  show->add_option("queue", "queue name")->required();
  show->add_option("id", "message id (omit for every message)");
  addCommonOptions(*show, true);

  CLI::App* replay =
      dlq->add_subcommand("replay", "Re-submit every record to its function, rate-limited");
  replay->add_option("queue", "queue name")->required();
  replay->add_option("--rate", "records per second (0.1-1000, default 10)")->type_name("N");
  replay->add_flag("--no-wait")->description("start the replay and return");
  addCommonOptions(*replay, true);

  CLI::App* purge = dlq->add_subcommand("purge", "Delete every record of a queue");
  purge->add_option("queue", "queue name")->required();
  addCommonOptions(*purge, true);
}

int runDlqCommand(const CLI::App& dlq) {
  for (const CLI::App* sub : dlq.get_subcommands()) {
    CommonOptions common = readCommonOptions(*sub);
    const std::string verb = sub->get_name();
    auto queue = optionValue(*sub, "queue");
    if (verb == "ls") return runDlqList(common, queue, flagGiven(*sub, "--json"));
    if (verb == "show") return runDlqShow(common, queue.value_or(""), optionValue(*sub, "id"));
    if (verb == "replay") {
      return runDlqReplay(common, queue.value_or(""), optionValue(*sub, "--rate"),
                          !flagGiven(*sub, "--no-wait"));
    }
    if (verb == "purge") return runDlqPurge(common, queue.value_or(""));
  }
  return reportError(makeError(ErrorCode::kInvalidParameter, "dlq: no subcommand given"));
}

}  // namespace nimbus::cli
