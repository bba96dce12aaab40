// The AWS shared-credentials file format (ini: `[profile]`, `aws_access_key_id = ...`,
// `aws_secret_access_key = ...`), which nimbus writes its root credentials in and the
// CLI, the aws CLI and boto3 all read.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace nimbus::model {

struct AccessKeyPair {
  std::string access_key_id;
  std::string secret_access_key;
};

// Reads one profile. kNotFound when the profile or one of the two keys is missing.
Result<AccessKeyPair> parseCredentialsFile(std::string_view text,
                                           std::string_view profile = "default");
// The text of a file holding `pair` as the default profile.
std::string formatCredentialsFile(const AccessKeyPair& pair);

}  // namespace nimbus::model
