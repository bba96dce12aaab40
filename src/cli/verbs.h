// Internal to the cli module: each verb's options, how they are declared on and read
// back from its CLI::App, and its run function. Options are read from the parsed App
// rather than bound to variables, so no state outlives addClientCommands().
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cli/api_client.h"
#include "cli/credentials.h"

namespace nimbus::cli {

inline constexpr const char* kDefaultDataDir = "./data";

// --endpoint, the data folder and the key pair, on every verb.
struct CommonOptions {
  std::string endpoint = kDefaultEndpoint;
  std::filesystem::path data_dir = kDefaultDataDir;
  CredentialFlags credentials;
};

// `invoke` uses --data for its payload (as curl does, @file included), so there the data
// folder is only --data-dir; the other verbs take both spellings, like `nimbus serve`.
void addCommonOptions(CLI::App& sub, bool data_means_folder);
CommonOptions readCommonOptions(const CLI::App& sub);

// The value of option `name` on `sub` when given (or taken from its environment variable).
std::optional<std::string> optionValue(const CLI::App& sub, const std::string& name);
std::optional<int> intOptionValue(const CLI::App& sub, const std::string& name);
bool flagGiven(const CLI::App& sub, const std::string& name);
// Accepts a whole number >= 1; the server checks the real limits, which it owns.
CLI::Validator positiveInt();

// Resolves the endpoint and credentials into a client; errors say what is missing.
Result<ApiClient> openClient(const CommonOptions& options, const EnvLookup& env);

// "/2015-03-31/functions/<percent-encoded name>".
std::string functionPath(const std::string& name);

// Print "error: ..." to stderr and return kExitFailure.
int reportError(const Error& error);
int reportApiError(const ApiResponse& response);

// nimbus's own settings (GET/PATCH /v1/functions/{name}/settings); unset: unchanged.
struct SettingsChange {
  std::optional<std::string> network;  // "isolated" | "egress"
  std::optional<int> keep_alive_s;     // 0: the host default
  bool empty() const { return !network && !keep_alive_s; }
};
std::string settingsPath(const std::string& name);
Result<ApiResponse> patchSettings(ApiClient& client, const std::string& name,
                                  const SettingsChange& change);
void addSettingsOptions(CLI::App& sub);  // --network, --keep-alive
SettingsChange readSettingsChange(const CLI::App& sub);
void addSettingsCommand(CLI::App& app);
int runSettings(const CommonOptions& common, const std::string& name, const SettingsChange& change);

struct DeployOptions {
  std::string path;
  std::string name;
  std::optional<std::string> runtime;
  std::optional<std::string> handler;
  std::optional<std::string> description;
  std::optional<int> memory_mb;
  std::optional<int> timeout_s;
  std::vector<std::string> env;                  // NAME=VALUE items as typed
  std::optional<std::string> dead_letter_queue;  // a queue's name or ARN; "" removes it
  SettingsChange settings;  // --network, --keep-alive: applied after the deploy
};
void addDeployCommand(CLI::App& app);
DeployOptions readDeployOptions(const CLI::App& sub);
int runDeploy(const CommonOptions& common, const DeployOptions& options);

struct InvokeOptions {
  std::string name;
  std::optional<std::string> data;  // inline JSON, @file or @-
  std::optional<std::string> qualifier;
  bool async = false;
  bool log = false;
  std::optional<std::string> idempotency_key;  // sent as X-Nimbus-Idempotency-Key
};
void addInvokeCommand(CLI::App& app);
InvokeOptions readInvokeOptions(const CLI::App& sub);
int runInvoke(const CommonOptions& common, const InvokeOptions& options);

void addFunctionCommands(CLI::App& app);  // ls, get, rm
int runList(const CommonOptions& common, bool as_json);
int runGet(const CommonOptions& common, const std::string& name,
           const std::optional<std::string>& qualifier);
int runRemove(const CommonOptions& common, const std::string& name,
              const std::optional<std::string>& qualifier);

struct LogsOptions {
  std::string name;
  int limit = 100;
  bool follow = false;
  std::optional<std::string> request_id;
  std::optional<std::string> since;  // epoch ms or RFC 3339
};
void addLogsCommand(CLI::App& app);
LogsOptions readLogsOptions(const CLI::App& sub);
int runLogs(const CommonOptions& common, const LogsOptions& options);

// One answer of GET /v1/logs ({"events":[{"id","timestamp","request_id","message"}],
// "next_after"}) or of the older GET /v1/functions/{name}/logs ("next_since"). Each
// cursor is absent when the server sent none.
struct LogPage {
  std::vector<std::string> messages;
  std::optional<int64_t> next_since;
  std::optional<int64_t> next_after;
  bool stored = true;  // false: the server keeps no logs (--records off)
};
Result<LogPage> parseLogPage(std::string_view body);

// `queue create|ls|rm|send|receive`, `dlq ls|show|replay|purge` and `async`: verbs over
// the native queue API of docs/queues.md. Each run* takes its (sub)command's App.
void addQueueCommands(CLI::App& app);
int runQueueCommand(const CLI::App& queue);
void addDlqCommands(CLI::App& app);
int runDlqCommand(const CLI::App& dlq);
void addAsyncCommand(CLI::App& app);
int runAsync(const CommonOptions& common, const std::string& function, bool as_json);

// "/v1/queues/<percent-encoded name>".
std::string queuePath(const std::string& name);
// Parses a JSON object answer; kInternal naming `what` otherwise.
Result<boost::json::object> parseJsonObject(std::string_view body, std::string_view what);
// A number member (int, unsigned or double) of `object`; nullopt when absent or not a number.
std::optional<double> numberField(const boost::json::object& object, std::string_view key);
// A string member of `object`; "" when absent or not a string.
std::string stringField(const boost::json::object& object, std::string_view key);
// Rows of cells as left-aligned columns two spaces apart, one line each.
std::string alignColumns(const std::vector<std::vector<std::string>>& rows);

// Formatting of the queue verbs; pure, so tested without a server. `now_ms` is the
// wall clock in milliseconds since the epoch, for ages.
//   Epoch milliseconds of a SentAt/CreatedAt value: epoch seconds or milliseconds
//   (numbers or digit strings; values above 1e11 are milliseconds) or ISO 8601 UTC.
std::optional<int64_t> timestampMs(const boost::json::value& value);
//   "42s", "3m07s", "2h05m", "4d03h"; "-" when unknown.
std::string formatAge(std::optional<double> seconds);
//   NAME DEPTH VISIBLE IN_FLIGHT OLDEST REPLAY from queue objects.
std::string formatQueueTable(const boost::json::array& queues);
//   ID SOURCE_FUNCTION CONDITION ATTEMPTS REPLAYS AGE REQUEST_ID from DLQ messages.
std::string formatDlqTable(const boost::json::array& messages, int64_t now_ms);
//   A message with its Body shown as JSON when it is JSON text.
boost::json::object expandMessageBody(const boost::json::object& message);
//   The `nimbus async` summary of GET /v1/functions/{name}/async-events.
std::string formatAsyncEvents(const std::string& function, const boost::json::object& events);

// The Replay object of a queue, as `dlq replay` follows it.
struct ReplayProgress {
  bool running = false;
  int64_t replayed = 0;
  int64_t failed = 0;
  int64_t remaining = 0;
  double rate = 0;
};
ReplayProgress readReplayProgress(const boost::json::object& queue);
std::string formatReplayProgress(const ReplayProgress& progress);

// `nimbus invocations <fn>`: the function's invocation records, newest first.
struct InvocationsOptions {
  std::string name;
  std::optional<std::string> outcome;
  std::optional<std::string> request_id;
  std::optional<std::string> since;
  std::optional<std::string> until;
  int limit = 20;
  bool as_json = false;
};
void addInvocationsCommand(CLI::App& app);
InvocationsOptions readInvocationsOptions(const CLI::App& sub);
int runInvocations(const CommonOptions& common, const InvocationsOptions& options);
// The table `nimbus invocations` prints, from the API's "invocations" array.
std::string formatInvocationTable(const boost::json::array& invocations);

// `nimbus stats <fn>`: the function's health summary (GET /v1/functions/{name}/stats).
struct StatsOptions {
  std::string name;
  std::string window = "1h";
  std::optional<std::string> price_per_gb_second;
  std::optional<std::string> price_per_request;
  bool as_json = false;
};
void addStatsCommand(CLI::App& app);
StatsOptions readStatsOptions(const CLI::App& sub);
int runStats(const CommonOptions& common, const StatsOptions& options);
// The summary `nimbus stats` prints, from the API's answer.
std::string formatStats(const boost::json::object& stats);

}  // namespace nimbus::cli
