// Parsing and writing the shared-credentials ini format.
#include "model/credentials_file.h"

#include <optional>
#include <sstream>

namespace nimbus::model {
namespace {

std::string_view trim(std::string_view s) {
  const char* kSpace = " \t\r\n";
  size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

struct Pair {
  std::optional<std::string> id;
  std::optional<std::string> secret;
};

}  // namespace

Result<AccessKeyPair> parseCredentialsFile(std::string_view text, std::string_view profile) {
  bool in_profile = false;
  bool saw_profile = false;
  Pair pair;
  std::istringstream lines{std::string(text)};
  std::string raw;
  while (std::getline(lines, raw)) {
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      std::string_view name = trim(
          line.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
      in_profile = name == profile;
      saw_profile = saw_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = trim(line.substr(0, eq));
    std::string value(trim(line.substr(eq + 1)));
    if (value.empty()) continue;
    if (key == "aws_access_key_id") pair.id = value;
    if (key == "aws_secret_access_key") pair.secret = value;
  }
  std::string where = "profile [" + std::string(profile) + "]";
  if (!saw_profile) return makeError(ErrorCode::kNotFound, "no " + where);
  if (!pair.id || !pair.secret) {
    return makeError(ErrorCode::kNotFound,
                     where + " lacks " + (pair.id ? "aws_secret_access_key" : "aws_access_key_id"));
  }
  return AccessKeyPair{*pair.id, *pair.secret};
}

std::string formatCredentialsFile(const AccessKeyPair& pair) {
  return "[default]\naws_access_key_id = " + pair.access_key_id +
         "\naws_secret_access_key = " + pair.secret_access_key + "\n";
}

}  // namespace nimbus::model
