// Credential lookup for the CLI: ini parsing of the shared credentials file and the
// precedence between flags, environment and file.
#include "cli/credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace nimbus::cli {
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

// A pair from one source: both halves, neither (skip to the next source), or an error
// naming the half that is missing.
Result<std::optional<Credentials>> takePair(const Pair& pair, const std::string& id_name,
                                            const std::string& secret_name) {
  if (!pair.id && !pair.secret) return std::optional<Credentials>();
  if (!pair.id || !pair.secret) {
    const std::string& given = pair.id ? id_name : secret_name;
    const std::string& missing = pair.id ? secret_name : id_name;
    return makeError(ErrorCode::kMissingAuthentication,
                     given + " is set but " + missing + " is not; give both or neither");
  }
  return std::optional<Credentials>(Credentials{*pair.id, *pair.secret});
}

}  // namespace

Result<Credentials> parseCredentialsFile(std::string_view text, std::string_view profile) {
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
  return Credentials{*pair.id, *pair.secret};
}

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

Result<Credentials> resolveCredentials(const CredentialFlags& flags, const EnvLookup& env,
                                       const std::filesystem::path& credentials_file) {
  struct Source {
    Pair pair;
    std::string id_name;
    std::string secret_name;
  };
  const Source sources[] = {
      {{flags.access_key, flags.secret_key}, "--access-key", "--secret-key"},
      {{env("NIMBUS_ACCESS_KEY_ID"), env("NIMBUS_SECRET_ACCESS_KEY")},
       "NIMBUS_ACCESS_KEY_ID",
       "NIMBUS_SECRET_ACCESS_KEY"},
      {{env("NIMBUS_ROOT_ACCESS_KEY_ID"), env("NIMBUS_ROOT_SECRET_ACCESS_KEY")},
       "NIMBUS_ROOT_ACCESS_KEY_ID",
       "NIMBUS_ROOT_SECRET_ACCESS_KEY"},
  };
  for (const Source& source : sources) {
    auto taken = takePair(source.pair, source.id_name, source.secret_name);
    if (!taken.ok()) return taken.error();
    if (*taken) return **taken;
  }

  const std::string looked =
      "no credentials: looked at --access-key/--secret-key, NIMBUS_ACCESS_KEY_ID/"
      "NIMBUS_SECRET_ACCESS_KEY, NIMBUS_ROOT_ACCESS_KEY_ID/NIMBUS_ROOT_SECRET_ACCESS_KEY and " +
      credentials_file.string();
  std::error_code exists_error;
  if (!std::filesystem::exists(credentials_file, exists_error)) {
    return makeError(ErrorCode::kMissingAuthentication,
                     looked +
                         ", which does not exist (is --data the folder `nimbus serve` uses? "
                         "it writes the file there on first start)");
  }
  std::ifstream in(credentials_file, std::ios::binary);
  if (!in) {
    int err = errno;  // libstdc++ opens with open(2), which leaves the reason in errno
    return makeError(ErrorCode::kMissingAuthentication,
                     looked + ", which cannot be read: " + std::strerror(err), err);
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parseCredentialsFile(text.str());
  if (!parsed.ok()) {
    return makeError(ErrorCode::kMissingAuthentication, looked + ": " + parsed.error().message);
  }
  return parsed;
}

std::string bearerAuthorization(const Credentials& credentials) {
  return "Bearer " + credentials.access_key_id + ":" + credentials.secret_access_key;
}

}  // namespace nimbus::cli
