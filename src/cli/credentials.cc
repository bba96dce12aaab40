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
