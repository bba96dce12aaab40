// `nimbus ls`, `get` and `rm`: the read and delete verbs over /2015-03-31/functions.
#include <boost/json.hpp>
#include <iostream>
#include <set>

#include "cli/output.h"
#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

Result<json::object> parseObject(const ApiResponse& response) {
  boost::system::error_code ec;
  json::value value = json::parse(response.body, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorCode::kInternal,
                     "unexpected response (not a JSON object): " + response.body.substr(0, 200));
  }
  return std::move(value.get_object());
}

std::string qualifierQuery(const std::optional<std::string>& qualifier) {
  return qualifier ? "?Qualifier=" + percentEncode(*qualifier) : "";
}

}  // namespace

void addFunctionCommands(CLI::App& app) {
  CLI::App* ls = app.add_subcommand("ls", "List functions");
  ls->add_flag("--json")->description("print the API's JSON instead of a table");
  addCommonOptions(*ls, true);

  CLI::App* get = app.add_subcommand("get", "Show a function's configuration and code location");
  get->add_option("name", "function name or ARN")->required();
  get->add_option("-q,--qualifier", "version or alias");
  addCommonOptions(*get, true);

  CLI::App* rm = app.add_subcommand("rm", "Delete a function (or one version with --qualifier)");
  rm->add_option("name", "function name or ARN")->required();
  rm->add_option("-q,--qualifier", "version to delete");
  addCommonOptions(*rm, true);
}

int runList(const CommonOptions& common, bool as_json) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  json::array functions;
  std::string marker;
  std::set<std::string> seen_markers;  // a server repeating a marker would loop forever
  while (true) {
    std::string target = "/2015-03-31/functions";
    if (!marker.empty()) target += "?Marker=" + percentEncode(marker);
    auto response = client->send("GET", target);
    if (!response.ok()) return reportError(response.error());
    if (!response->ok()) return reportApiError(*response);
    auto page = parseObject(*response);
    if (!page.ok()) return reportError(page.error());
    if (const json::array* items =
            page->contains("Functions") ? page->at("Functions").if_array() : nullptr) {
      functions.insert(functions.end(), items->begin(), items->end());
    }
    const json::value* next = page->if_contains("NextMarker");
    if (next == nullptr || !next->is_string() || next->get_string().empty()) break;
    marker = std::string(next->get_string());
    if (!seen_markers.insert(marker).second) {
      return reportError(makeError(ErrorCode::kInternal, "server repeated NextMarker " + marker));
    }
  }
  if (as_json) {
    std::cout << prettyJson(json::object{{"Functions", std::move(functions)}});
  } else {
    std::cout << formatFunctionTable(functions);
  }
  return kExitOk;
}

int runGet(const CommonOptions& common, const std::string& name,
           const std::optional<std::string>& qualifier) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("GET", functionPath(name) + qualifierQuery(qualifier));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  auto object = parseObject(*response);
  if (!object.ok()) return reportError(object.error());
  std::cout << prettyJson(*object);
  return kExitOk;
}

int runRemove(const CommonOptions& common, const std::string& name,
              const std::optional<std::string>& qualifier) {
  auto client = openClient(common, processEnv());
  if (!client.ok()) return reportError(client.error());
  auto response = client->send("DELETE", functionPath(name) + qualifierQuery(qualifier));
  if (!response.ok()) return reportError(response.error());
  if (!response->ok()) return reportApiError(*response);
  std::cout << "deleted " << name << (qualifier ? ":" + *qualifier : "") << "\n";
  return kExitOk;
}

}  // namespace nimbus::cli
