// Byte encodings and digests used across the platform: hex, base64, SHA-256, HMAC,
// constant-time comparison, random ids. Backed by OpenSSL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nimbus {

std::string hexEncode(std::string_view bytes);
std::string base64Encode(std::string_view bytes);
// Returns nullopt on malformed input (whitespace and newlines are tolerated).
std::optional<std::string> base64Decode(std::string_view text);

std::string sha256(std::string_view bytes);  // raw 32 bytes
std::string sha256Hex(std::string_view bytes);
std::string hmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes

bool constantTimeEquals(std::string_view a, std::string_view b);

std::string randomBytes(size_t n);  // cryptographic: for secrets and keys
// Unpredictable enough for ids (request, trace, instance), never for secrets: a
// per-thread generator seeded from randomBytes, so a warm invoke makes no syscall
// (OpenSSL's RAND_bytes checks getpid() on every call).
std::string idRandomBytes(size_t n);
std::string newUuid();  // random (v4) UUID, lower-case, the form of Lambda request ids

}  // namespace nimbus
