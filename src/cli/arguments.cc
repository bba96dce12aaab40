// --env and --data parsing for the client verbs.
#include "cli/arguments.h"

#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nimbus::cli {
namespace {

bool isEnvName(std::string_view name) {
  if (name.empty()) return false;
  auto head = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!head(name.front())) return false;
  for (char c : name) {
    if (!head(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string readAll(std::istream& in) {
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

}  // namespace

Result<std::map<std::string, std::string>> parseEnvAssignments(
    const std::vector<std::string>& items) {
  std::map<std::string, std::string> env;
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return makeError(ErrorCode::kInvalidParameter, "--env \"" + item + "\": expected NAME=VALUE");
    }
    std::string name = item.substr(0, eq);
    if (!isEnvName(name)) {
      return makeError(ErrorCode::kInvalidParameter,
                       "--env \"" + item + "\": \"" + name +
                           "\" is not a valid variable name (letters, digits, '_'; not "
                           "starting with a digit)");
    }
    if (!env.emplace(name, item.substr(eq + 1)).second) {
      return makeError(ErrorCode::kInvalidParameter, "--env " + name + " is given twice");
    }
  }
  return env;
}

Result<void> checkJson(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidRequestContent, "not valid JSON: " + ec.message());
  }
  return {};
}

Result<std::string> loadPayload(std::string_view spec, std::istream& stdin_stream) {
  std::string payload;
  std::string source = "--data";
  if (spec == "@-") {
    payload = readAll(stdin_stream);
    source = "--data @- (stdin)";
  } else if (!spec.empty() && spec.front() == '@') {
    std::string path(spec.substr(1));
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return makeError(ErrorCode::kInvalidParameter,
                       "--data @" + path + ": " + std::strerror(errno), errno);
    }
    payload = readAll(in);
    source = "--data @" + path;
  } else {
    payload = std::string(spec);
  }
  // Whitespace-only counts as no payload, as for a client that omits it.
  if (payload.find_first_not_of(" \t\r\n") == std::string::npos) return std::string();
  auto valid = checkJson(payload);
  if (!valid.ok()) return valid.error().withContext(source);
  return payload;
}

}  // namespace nimbus::cli
