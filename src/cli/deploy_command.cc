// `nimbus deploy`: create the function when it does not exist, else update its code and
// then whatever configuration was given — the upsert people expect from a deploy tool.
#include <boost/json.hpp>
#include <iostream>

#include "base/encoding.h"
#include "cli/arguments.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "cli/zip_builder.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

// nimbus has no IAM; Lambda's API still requires a role-shaped ARN.
constexpr const char* kRole = "arn:aws:iam::000000000000:role/nimbus";

Result<std::string> loadCode(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return zipDirectory(path);
  if (fs::is_regular_file(path, ec)) return readZipFile(path);
  return makeError(ErrorCode::kInvalidParameter,
                   path.string() + " is neither a folder nor a .zip file");
}

// The configuration fields the user gave, in Lambda's member names. Environment replaces
// the whole variable set, as UpdateFunctionConfiguration does.
json::object configFields(const DeployOptions& options,
                          const std::map<std::string, std::string>& env,
                          const std::optional<std::string>& dead_letter_arn) {
  json::object fields;
  if (dead_letter_arn) fields["DeadLetterConfig"] = json::object{{"TargetArn", *dead_letter_arn}};
  if (options.runtime) fields["Runtime"] = *options.runtime;
  if (options.handler) fields["Handler"] = *options.handler;
  if (options.description) fields["Description"] = *options.description;
  if (options.memory_mb) fields["MemorySize"] = *options.memory_mb;
  if (options.timeout_s) fields["Timeout"] = *options.timeout_s;
  if (!options.env.empty()) {
    json::object variables;
    for (const auto& [name, value] : env) variables[name] = value;
    fields["Environment"] = json::object{{"Variables", std::move(variables)}};
  }
  return fields;
}

// --dead-letter-queue takes a queue's name or its ARN ("" removes the setting); Lambda's
// DeadLetterConfig wants the ARN, which the queue API knows.
Result<std::string> deadLetterArn(ApiClient& client, const std::string& value) {
  if (value.empty() || value.rfind("arn:", 0) == 0) return value;
  auto response = client.send("GET", queuePath(value));
  if (!response.ok()) return response.error();
  if (response->status == 404) {
    return makeError(ErrorCode::kNotFound, "there is no queue named " + value +
                                               " (create it with: nimbus queue create " + value +
                                               ")");
  }
  if (!response->ok()) {
    return makeError(ErrorCode::kInternal, "cannot read queue " + value + ": HTTP " +
                                               std::to_string(response->status) + " " +
                                               response->body.substr(0, 200));
  }
  auto queue = parseJsonObject(response->body, "GetQueue");
  if (!queue.ok()) return queue.error();
  return stringField(*queue, "Arn");
}

// Prints the summary from a FunctionConfiguration response.
int summarize(const ApiResponse& response, bool created) {
  boost::system::error_code ec;
  json::value config = json::parse(response.body, ec);
  if (ec || !config.is_object()) {
    return reportError(makeError(
        ErrorCode::kInternal,
        "unexpected response (not a FunctionConfiguration): " + response.body.substr(0, 200)));
  }
  std::cout << deploySummary(config.get_object(), created) << "\n";
  return kExitOk;
}

// --network / --keep-alive go through nimbus's settings API once the function exists.
int applySettings(ApiClient& client, const DeployOptions& options) {
  if (options.settings.empty()) return kExitOk;
  auto response = patchSettings(client, options.name, options.settings);
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  return kExitOk;
}

int update(ApiClient& client, const DeployOptions& options, const json::object& config,
           const std::string& zip) {
  const std::string path = functionPath(options.name);
  json::object code{{"ZipFile", base64Encode(zip)}};
  auto response = client.send("PUT", path + "/code", json::serialize(code));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  if (!config.empty()) {
    response = client.send("PUT", path + "/configuration", json::serialize(config));
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
  }
  if (int rc = applySettings(client, options); rc != kExitOk) return rc;
  return summarize(*response, false);
}

}  // namespace

void addDeployCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("deploy", "Create or update a function from a folder or .zip");
  sub->add_option("path", "folder to zip (skipping __pycache__ and .git) or a ready .zip")
      ->required();
  sub->add_option("--name", "function name")->required();
  sub->add_option("--runtime",
                  "python3.11, nodejs20.x, provided or provided.al2023 "
                  "(needed to create)");
  sub->add_option("--handler", "module.function / file.export; passed through for provided");
  sub->add_option("--memory", "memory in MB")->type_name("MB")->check(positiveInt());
  sub->add_option("--timeout", "timeout in seconds")->type_name("SECONDS")->check(positiveInt());
  sub->add_option("--env", "environment variable NAME=VALUE (repeatable; replaces all)")
      ->type_name("NAME=VALUE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--description", "free text");
  sub->add_option("--dead-letter-queue",
                  "queue (name or ARN) for events given up after their retries "
                  "(Lambda's DeadLetterConfig; \"\" removes it)")
      ->type_name("QUEUE");
  addSettingsOptions(*sub);
  addCommonOptions(*sub, true);
}

DeployOptions readDeployOptions(const CLI::App& sub) {
  DeployOptions options;
  options.path = optionValue(sub, "path").value_or("");
  options.name = optionValue(sub, "--name").value_or("");
  options.runtime = optionValue(sub, "--runtime");
  options.handler = optionValue(sub, "--handler");
  options.description = optionValue(sub, "--description");
  options.memory_mb = intOptionValue(sub, "--memory");
  options.timeout_s = intOptionValue(sub, "--timeout");
  options.dead_letter_queue = optionValue(sub, "--dead-letter-queue");
  if (flagGiven(sub, "--env")) {
    options.env = sub.get_option("--env")->as<std::vector<std::string>>();
  }
  options.settings = readSettingsChange(sub);
  return options;
}

int runDeploy(const CommonOptions& common, const DeployOptions& options) {
  auto env = parseEnvAssignments(options.env);
  if (!env.ok()) return reportError(env.error());
  auto zip = loadCode(options.path);
  if (!zip.ok()) return reportError(zip.error());
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  std::optional<std::string> dead_letter_arn;
  if (options.dead_letter_queue) {
    auto arn = deadLetterArn(*client, *options.dead_letter_queue);
    if (!arn.ok()) return reportError(arn.error());
    dead_letter_arn = *arn;
  }
  json::object config = configFields(options, *env, dead_letter_arn);

  auto existing = client->send("GET", functionPath(options.name));
  if (!existing.ok()) return reportError(existing.error());
  if (existing->ok()) return update(*client, options, config, *zip);
  if (existing->status != 404) return reportApiError(*existing);

  if (!options.runtime) {
    return reportError(makeError(
        ErrorCode::kInvalidParameter,
        "function " + options.name + " does not exist yet; --runtime is needed to create it"));
  }
  json::object create = config;
  create["FunctionName"] = options.name;
  create["Role"] = kRole;
  create["Code"] = json::object{{"ZipFile", base64Encode(*zip)}};
  auto created = client->send("POST", "/2015-03-31/functions", json::serialize(create));
  if (!created.ok()) return reportError(created.error());
  // Someone else created it between our GET and POST: deploying means updating now.
  if (created->status == 409) return update(*client, options, config, *zip);
  if (!created->ok()) return reportApiError(*created);
  if (int rc = applySettings(*client, options); rc != kExitOk) return rc;
  return summarize(*created, true);
}

}  // namespace nimbus::cli
