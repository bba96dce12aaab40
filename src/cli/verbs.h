// Internal to the cli module: each verb's options, how they are declared on and read
// back from its CLI::App, and its run function. Options are read from the parsed App
// rather than bound to variables, so no state outlives addClientCommands().
#pragma once

#include <CLI/CLI.hpp>
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
  std::vector<std::string> env;  // NAME=VALUE items as typed
  SettingsChange settings;       // --network, --keep-alive: applied after the deploy
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
};
void addLogsCommand(CLI::App& app);
LogsOptions readLogsOptions(const CLI::App& sub);
int runLogs(const CommonOptions& common, const LogsOptions& options);

// One answer of GET /v1/functions/{name}/logs: {"events":[{"timestamp","request_id",
// "message"}],"next_since"}. next_since is absent when the server sent none.
struct LogPage {
  std::vector<std::string> messages;
  std::optional<int64_t> next_since;
};
Result<LogPage> parseLogPage(std::string_view body);

}  // namespace nimbus::cli
