// The options every client verb shares and the plumbing from them to an ApiClient and
// to error messages.
#include <iostream>
#include <limits>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {

void addCommonOptions(CLI::App& sub, bool data_means_folder) {
  // CLI11 2.1 takes a computed description only through description().
  sub.add_option("--endpoint")
      ->description("nimbus API URL (default " + std::string(kDefaultEndpoint) + ")")
      ->type_name("URL")
      ->envname("NIMBUS_ENDPOINT");
  sub.add_option(data_means_folder ? "--data,--data-dir" : "--data-dir")
      ->description("data folder of the server, where its credentials file is (default " +
                    std::string(kDefaultDataDir) + ")")
      ->type_name("DIR")
      ->envname("NIMBUS_DATA");
  sub.add_option("--access-key",
                 "access key id (else NIMBUS_ACCESS_KEY_ID, NIMBUS_ROOT_ACCESS_KEY_ID, the "
                 "credentials file)")
      ->type_name("ID");
  sub.add_option("--secret-key",
                 "secret access key (else NIMBUS_SECRET_ACCESS_KEY, "
                 "NIMBUS_ROOT_SECRET_ACCESS_KEY, the credentials file)")
      ->type_name("SECRET");
}

std::optional<std::string> optionValue(const CLI::App& sub, const std::string& name) {
  const CLI::Option* option = sub.get_option_no_throw(name);
  if (option == nullptr || option->count() == 0) return std::nullopt;
  return option->as<std::string>();
}

std::optional<int> intOptionValue(const CLI::App& sub, const std::string& name) {
  const CLI::Option* option = sub.get_option_no_throw(name);
  if (option == nullptr || option->count() == 0) return std::nullopt;
  return option->as<int>();
}

bool flagGiven(const CLI::App& sub, const std::string& name) {
  const CLI::Option* option = sub.get_option_no_throw(name);
  return option != nullptr && option->count() > 0;
}

CLI::Validator positiveInt() {
  // An empty description keeps the help to the option's type name.
  return CLI::Range(1, std::numeric_limits<int>::max()).description("");
}

CommonOptions readCommonOptions(const CLI::App& sub) {
  CommonOptions options;
  if (auto endpoint = optionValue(sub, "--endpoint")) options.endpoint = *endpoint;
  if (auto data = optionValue(sub, "--data-dir")) options.data_dir = *data;
  options.credentials.access_key = optionValue(sub, "--access-key");
  options.credentials.secret_key = optionValue(sub, "--secret-key");
  return options;
}

Result<ApiClient> openClient(const CommonOptions& options, const EnvLookup& env) {
  auto endpoint = parseEndpoint(options.endpoint);
  if (!endpoint.ok()) return endpoint.error();
  auto credentials = resolveCredentials(options.credentials, env, options.data_dir / "credentials");
  if (!credentials.ok()) return credentials.error();
  return ApiClient(std::move(*endpoint), std::move(*credentials));
}

std::string functionPath(const std::string& name) {
  return "/2015-03-31/functions/" + percentEncode(name);
}

int reportError(const Error& error) {
  std::cerr << "error: " << error.message << "\n";
  return kExitFailure;
}

int reportApiError(const ApiResponse& response) {
  ApiErrorInfo info = describeApiError(response);
  std::cerr << "error: " << info.type << ": " << info.message << "\n";
  return kExitFailure;
}

}  // namespace nimbus::cli
