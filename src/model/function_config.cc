// Validation of function configuration against Lambda's limits.
#include "model/function_config.h"

#include <algorithm>
#include <regex>

namespace nimbus::model {

const std::vector<std::string>& supportedRuntimes() {
  static const std::vector<std::string> kRuntimes = {"python3.11", "nodejs20.x", "provided",
                                                     "provided.al2023"};
  return kRuntimes;
}

bool isSupportedRuntime(const std::string& runtime) {
  const auto& r = supportedRuntimes();
  return std::find(r.begin(), r.end(), runtime) != r.end();
}

bool isProvidedRuntime(const std::string& runtime) {
  return runtime == "provided" || runtime == "provided.al2023";
}

const char* networkModeName(NetworkMode mode) {
  return mode == NetworkMode::kEgress ? "egress" : "isolated";
}

std::optional<NetworkMode> parseNetworkMode(std::string_view name) {
  if (name == "isolated") return NetworkMode::kIsolated;
  if (name == "egress") return NetworkMode::kEgress;
  return std::nullopt;
}

bool isValidFunctionName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

Result<void> validate(const FunctionConfig& c) {
  auto bad = [](std::string m) { return makeError(ErrorCode::kInvalidParameter, std::move(m)); };
  if (!isValidFunctionName(c.name)) {
    return bad("1 validation error detected: Value '" + c.name +
               "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
               "expression pattern: [a-zA-Z0-9-_]+ and have length at most 64");
  }
  if (!isSupportedRuntime(c.runtime)) {
    return bad("Value " + c.runtime +
               " at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
               "[python3.11, nodejs20.x, provided, provided.al2023]");
  }
  if (!isProvidedRuntime(c.runtime) && c.handler.empty()) {
    return bad("Handler is required for runtime " + c.runtime);
  }
  if (c.handler.size() > 128) return bad("Handler must be at most 128 characters");
  if (c.memory_mb < kMinMemoryMb || c.memory_mb > kMaxMemoryMb) {
    return bad("'MemorySize' value failed to satisfy constraint: Member must have value between " +
               std::to_string(kMinMemoryMb) + " and " + std::to_string(kMaxMemoryMb));
  }
  if (c.timeout_s < kMinTimeoutS || c.timeout_s > kMaxTimeoutS) {
    return bad(
        "'Timeout' value failed to satisfy constraint: Member must have value between 1 "
        "and 900");
  }
  if (c.ephemeral_storage_mb < 512 || c.ephemeral_storage_mb > 10240) {
    return bad("'EphemeralStorage.Size' must be between 512 and 10240");
  }
  if (c.keep_alive_s < 0 || c.keep_alive_s > kMaxKeepAliveS) {
    return bad("'KeepAliveSeconds' must be 0 (the host default) or between 1 and " +
               std::to_string(kMaxKeepAliveS));
  }
  if (c.description.size() > 256) return bad("Description must be at most 256 characters");
  if (!c.role.empty()) {
    static const std::regex kRole(
        R"(arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)");
    if (!std::regex_match(c.role, kRole)) {
      return bad(
          "Value '" + c.role +
          "' at 'role' failed to satisfy constraint: Member must satisfy regular "
          "expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    }
  }
  size_t env_bytes = 0;
  for (const auto& [k, v] : c.environment) {
    static const std::regex kKey(R"([a-zA-Z]([a-zA-Z0-9_])*)");
    if (!std::regex_match(k, kKey)) {
      return bad("Environment variable name '" + k + "' is not valid");
    }
    env_bytes += k.size() + v.size();
  }
  if (env_bytes > kMaxEnvironmentBytes) {
    return bad(
        "Lambda was unable to configure your environment variables because the "
        "environment variables you have provided exceeded the 4KB limit.");
  }
  return {};
}

}  // namespace nimbus::model
