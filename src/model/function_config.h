// The stored shape of a function version: what CreateFunction sets and every later
// stage (pool, runtime, gateway) reads. Plain values, no behaviour beyond validation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace nimbus::model {

inline constexpr const char* kLatest = "$LATEST";
inline constexpr int kMinMemoryMb = 128;
inline constexpr int kMaxMemoryMb = 10240;
inline constexpr int kDefaultMemoryMb = 128;
inline constexpr int kMinTimeoutS = 1;
inline constexpr int kMaxTimeoutS = 900;
inline constexpr int kDefaultTimeoutS = 3;
inline constexpr size_t kMaxEnvironmentBytes = 4096;
inline constexpr int kDefaultEphemeralMb = 512;
inline constexpr int kMaxKeepAliveS = 86400;  // a day; 0 means the host-wide default

// nimbus's own per-function settings (not in Lambda's API; set through /v1).
enum class NetworkMode { kIsolated, kEgress };
const char* networkModeName(NetworkMode mode);  // "isolated" | "egress"
std::optional<NetworkMode> parseNetworkMode(std::string_view name);

struct FunctionConfig {
  std::string name;
  std::string version = kLatest;  // "$LATEST" or "1", "2", ...
  std::string runtime;            // python3.11 | nodejs20.x | provided | provided.al2023
  std::string handler;
  std::string role;
  std::string description;
  int memory_mb = kDefaultMemoryMb;
  int timeout_s = kDefaultTimeoutS;
  int ephemeral_storage_mb = kDefaultEphemeralMb;
  std::map<std::string, std::string> environment;
  std::string code_sha256_b64;  // Lambda's CodeSha256: base64 of sha256(zip)
  std::string code_digest_hex;  // content address of the unpacked code
  int64_t code_size = 0;        // bytes of the zip
  int64_t last_modified_ms = 0;
  std::string revision_id;  // changes on every update; instances of an older one retire
  NetworkMode network_mode = NetworkMode::kIsolated;
  int keep_alive_s = 0;  // idle instances end after this; 0: the host-wide default
  // Lambda's DeadLetterConfig.TargetArn: the nimbus queue that gets the original event
  // of an async invocation given up on. Empty: none.
  std::string dead_letter_target;
};

bool isSupportedRuntime(const std::string& runtime);
bool isProvidedRuntime(const std::string& runtime);
const std::vector<std::string>& supportedRuntimes();

// Checks ranges and formats Lambda checks server-side (maximums, enums, patterns).
Result<void> validate(const FunctionConfig& config);
bool isValidFunctionName(const std::string& name);

}  // namespace nimbus::model
