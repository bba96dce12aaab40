// Where the CLI finds its access key pair: flags, then environment, then the AWS-style
// credentials file that `nimbus serve` writes into its data folder.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "model/credentials_file.h"

namespace nimbus::cli {

using Credentials = model::AccessKeyPair;
using model::parseCredentialsFile;

struct CredentialFlags {
  std::optional<std::string> access_key;
  std::optional<std::string> secret_key;
};

// Looks an environment variable up; empty values count as unset. Passed in so tests do
// not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup processEnv();

// Takes the first complete pair from: the flags, NIMBUS_ACCESS_KEY_ID/
// NIMBUS_SECRET_ACCESS_KEY, NIMBUS_ROOT_ACCESS_KEY_ID/NIMBUS_ROOT_SECRET_ACCESS_KEY, the
// file. A half-given pair is an error rather than mixed with another source, because a
// key from one place and a secret from another never authenticate. MissingAuthentication
// when nothing is found; the message says everywhere it looked.
Result<Credentials> resolveCredentials(const CredentialFlags& flags, const EnvLookup& env,
                                       const std::filesystem::path& credentials_file);

// The value of the Authorization header nimbus accepts besides SigV4.
std::string bearerAuthorization(const Credentials& credentials);

}  // namespace nimbus::cli
