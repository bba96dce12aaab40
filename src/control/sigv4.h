// AWS Signature Version 4: verifying the requests AWS clients sign (header and presigned
// query forms) and signing requests the way botocore does, for tests and the CLI.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace nimbus::control {

// What the HTTP layer hands over. Nothing here is decoded or normalised: SigV4 signs the
// bytes the client sent, so the verifier must see them as they arrived.
struct SigV4Request {
  std::string method;  // "GET"
  // Raw request-target as received, e.g. "/2015-03-31/functions/f%3A%24LATEST?Qualifier=%24LATEST".
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // any case, repeats allowed
  std::string_view body;
};

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Looks up the secret for an access key id; nullopt if unknown. Called at most once per
// verification, from the verifying thread.
using SecretLookup = std::function<std::optional<std::string>(const std::string& access_key_id)>;

struct SigV4Result {
  std::string access_key_id;
  std::string region;
};

// Verifies the Authorization header (AWS4-HMAC-SHA256 ...) or, when there is none, the
// presigned query form (X-Amz-Algorithm=...), for service "lambda" and any region.
// Errors:
//   kMissingAuthentication  no Authorization header and no presigned query parameters;
//   kUnrecognizedClient     the access key id is unknown;
//   kInvalidSignature       malformed header, wrong scope, date more than 15 minutes from
//                           now (or presigned URL expired), body not matching its hash,
//                           or a signature mismatch.
// Never throws on malformed input. Thread-safe if `lookup` is.
Result<SigV4Result> verifySigV4(const SigV4Request& req, const SecretLookup& lookup,
                                int64_t now_epoch_ms);

struct SigV4SignOptions {
  // Also send (and sign) x-amz-content-sha256, as the AWS SDK for JavaScript does.
  bool add_content_sha256 = false;
};

// Signs a request the way botocore does: every header in `req` except a few hop-level ones
// (authorization, user-agent, expect, content-length, ...) is signed, plus x-amz-date.
// `req` must carry its Host header. Returns the headers to add: Authorization, X-Amz-Date
// and, if asked, x-amz-content-sha256. Any Authorization or X-Amz-Date already in `req`
// (and x-amz-content-sha256 when asked) is left out of the signature: the caller is
// expected to replace it with the returned one.
std::vector<std::pair<std::string, std::string>> signSigV4(
    const SigV4Request& req, const SigV4Credentials& creds, const std::string& region,
    const std::string& service, int64_t now_epoch_ms, const SigV4SignOptions& options = {});

// ---- Building blocks, exposed so tests can check each step against AWS's published
// ---- test suite, whose vectors use service "service" rather than "lambda".

struct CanonicalRequestOptions {
  // Remove "." and ".." segments and merge repeated slashes before encoding, as botocore
  // and the JavaScript SDK do for every service but S3.
  bool normalize_path = true;
  // Leave X-Amz-Signature out of the canonical query (presigned form).
  bool presigned = false;
};

// Step 1. `signed_headers` are lower-case names in the order they were signed; fails if
// one of them is absent from the request.
Result<std::string> buildCanonicalRequest(const SigV4Request& req,
                                          const std::vector<std::string>& signed_headers,
                                          std::string_view payload_hash,
                                          const CanonicalRequestOptions& options = {});
// Step 2. `amz_date` is yyyymmddThhmmssZ; `scope` is date/region/service/aws4_request.
std::string buildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request);
// Step 3. The raw 32-byte key; the signature is hex(HMAC(key, string to sign)).
std::string deriveSigningKey(std::string_view secret, std::string_view date,
                             std::string_view region, std::string_view service);

// verifySigV4 for any service name.
Result<SigV4Result> verifySigV4ForService(const SigV4Request& req, const SecretLookup& lookup,
                                          int64_t now_epoch_ms, std::string_view service);

// yyyymmddThhmmssZ for an epoch second, and back (nullopt if malformed).
std::string formatAmzDate(int64_t epoch_seconds);
std::optional<int64_t> parseAmzDate(std::string_view text);

}  // namespace nimbus::control
