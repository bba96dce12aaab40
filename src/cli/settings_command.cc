// `nimbus settings <fn> [--network M] [--keep-alive S]`: shows or changes nimbus's own
// per-function settings through GET/PATCH /v1/functions/{name}/settings.
#include <boost/json.hpp>
#include <iostream>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {

namespace json = boost::json;

std::string settingsPath(const std::string& name) {
  return "/v1/functions/" + percentEncode(name) + "/settings";
}

Result<ApiResponse> patchSettings(ApiClient& client, const std::string& name,
                                  const SettingsChange& change) {
  json::object body;
  if (change.network) body["NetworkMode"] = *change.network;
  if (change.keep_alive_s) body["KeepAliveSeconds"] = *change.keep_alive_s;
  return client.send("PATCH", settingsPath(name), json::serialize(body));
}

void addSettingsOptions(CLI::App& sub) {
  sub.add_option("--network", "network mode: isolated (default) or egress")
      ->type_name("MODE")
      ->check(CLI::IsMember({"isolated", "egress"}));
  sub.add_option("--keep-alive", "idle seconds before an instance ends (0: the host default)")
      ->type_name("SECONDS")
      ->check(CLI::Range(0, 86400));
}

SettingsChange readSettingsChange(const CLI::App& sub) {
  return SettingsChange{optionValue(sub, "--network"), intOptionValue(sub, "--keep-alive")};
}

void addSettingsCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "settings", "Show or change a function's nimbus settings (network mode, keep-alive)");
  sub->add_option("name", "function name or ARN")->required();
  addSettingsOptions(*sub);
  addCommonOptions(*sub, true);
}

int runSettings(const CommonOptions& common, const std::string& name,
                const SettingsChange& change) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = change.empty() ? client->send("GET", settingsPath(name))
                                 : patchSettings(*client, name, change);
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto settings = parseJsonObject(response->body, "settings");
  if (!settings.ok()) return reportError(settings.error());
  std::cout << prettyJson(*settings);
  return kExitOk;
}

}  // namespace nimbus::cli
