// The root credentials: from NIMBUS_ROOT_ACCESS_KEY_ID / NIMBUS_ROOT_SECRET_ACCESS_KEY,
// else from <data>/credentials, else made anew and written there (mode 0600) in the
// AWS shared-credentials format, so `AWS_SHARED_CREDENTIALS_FILE=<data>/credentials`
// works for the aws CLI and boto3.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "base/error.h"

namespace nimbus::control {

struct RootCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string source;  // "environment", or the file path
  bool created = false;
};

// `env` looks a variable up (injected so tests need not touch the process environment).
Result<RootCredentials> loadOrCreateRootCredentials(
    const std::filesystem::path& data_dir, const std::function<const char*(const char*)>& env);

// Parses "[default]\naws_access_key_id = X\naws_secret_access_key = Y".
Result<RootCredentials> parseCredentialsFile(const std::string& text);

}  // namespace nimbus::control
