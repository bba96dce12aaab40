// Tests for the Authenticator: Bearer tokens for curl and SigV4-signed requests as the
// AWS clients send them, and the error code each refusal carries.
#include "control/auth.h"

#include <gtest/gtest.h>

#include "control/sigv4.h"

namespace nimbus::control {
namespace {

constexpr const char* kKeyId = "NIMBTESTKEY0000000000";
constexpr const char* kSecret = "test/secret+key0123456789abcdefghijklmnop";
constexpr int64_t kNowMs = 1704067200000;  // 2024-01-01T00:00:00Z

Authenticator authenticator() {
  return Authenticator(RootCredentials{kKeyId, kSecret, "test", false});
}

http::Request invokeRequest(const std::string& body = R"({"k":"v"})") {
  http::Request req{http::Verb::post, "/2015-03-31/functions/my-fn%3A%24LATEST/invocations", 11};
  req.set(http::bhttp::field::host, "127.0.0.1:9000");
  req.set(http::bhttp::field::content_type, "application/json");
  req.set("X-Amz-Invocation-Type", "RequestResponse");
  req.body() = body;
  req.prepare_payload();
  return req;
}

// Signs `req` with SigV4 as botocore would and adds the resulting headers.
void sign(http::Request& req, const std::string& key_id, const std::string& secret,
          int64_t now_ms = kNowMs) {
  SigV4Request s;
  s.method = std::string(req.method_string());
  s.target = std::string(req.target());
  for (const auto& f : req.base()) {
    s.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  s.body = req.body();
  for (const auto& [name, value] : signSigV4(s, {key_id, secret}, "us-east-1", "lambda", now_ms)) {
    req.set(name, value);
  }
}

void expectRefused(const Result<Principal>& r, ErrorCode code) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().message.find(kSecret), std::string::npos) << "secret leaked";
}

TEST(Authenticator, BearerWithTheRootKeyIsAccepted) {
  auto req = invokeRequest();
  req.set(http::bhttp::field::authorization, std::string("Bearer ") + kKeyId + ":" + kSecret);
  auto r = authenticator().authenticate(req, kNowMs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->access_key_id, kKeyId);
}

TEST(Authenticator, BearerWithAnUnknownKeyIsUnrecognizedClient) {
  auto req = invokeRequest();
  req.set(http::bhttp::field::authorization, std::string("Bearer OTHERKEY:") + kSecret);
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kUnrecognizedClient);
}

TEST(Authenticator, BearerWithTheWrongSecretIsInvalidSignature) {
  auto req = invokeRequest();
  req.set(http::bhttp::field::authorization, std::string("Bearer ") + kKeyId + ":wrong");
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kInvalidSignature);
  // A secret that only shares a prefix is no better.
  req.set(http::bhttp::field::authorization,
          std::string("Bearer ") + kKeyId + ":" + std::string(kSecret).substr(0, 10));
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kInvalidSignature);
}

TEST(Authenticator, BearerWithoutColonIsInvalidSignature) {
  auto req = invokeRequest();
  req.set(http::bhttp::field::authorization, std::string("Bearer ") + kKeyId);
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kInvalidSignature);
}

TEST(Authenticator, MissingAuthorizationIsMissingAuthentication) {
  auto req = invokeRequest();
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kMissingAuthentication);
}

TEST(Authenticator, SigV4SignedRequestIsAccepted) {
  auto req = invokeRequest();
  sign(req, kKeyId, kSecret);
  auto r = authenticator().authenticate(req, kNowMs);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->access_key_id, kKeyId);
  // Within the allowed clock skew too.
  EXPECT_TRUE(authenticator().authenticate(req, kNowMs + 60 * 1000).ok());
}

TEST(Authenticator, SigV4GetWithQueryIsAccepted) {
  http::Request req{http::Verb::get, "/2015-03-31/functions/?MaxItems=10&Marker=a%2Bb", 11};
  req.set(http::bhttp::field::host, "localhost:9000");
  sign(req, kKeyId, kSecret);
  auto r = authenticator().authenticate(req, kNowMs);
  EXPECT_TRUE(r.ok()) << r.error().message;
}

TEST(Authenticator, SigV4WithTamperedBodyIsRefused) {
  auto req = invokeRequest();
  sign(req, kKeyId, kSecret);
  req.body() = R"({"k":"changed"})";
  req.prepare_payload();
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kInvalidSignature);
}

TEST(Authenticator, SigV4WithTheWrongSecretIsInvalidSignature) {
  auto req = invokeRequest();
  sign(req, kKeyId, "not-the-secret");
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kInvalidSignature);
}

TEST(Authenticator, SigV4WithAnUnknownKeyIsUnrecognizedClient) {
  auto req = invokeRequest();
  sign(req, "AKIAUNKNOWN", kSecret);
  expectRefused(authenticator().authenticate(req, kNowMs), ErrorCode::kUnrecognizedClient);
}

TEST(Authenticator, SigV4OutsideTheClockSkewIsRefused) {
  auto req = invokeRequest();
  sign(req, kKeyId, kSecret);
  expectRefused(authenticator().authenticate(req, kNowMs + 16 * 60 * 1000),
                ErrorCode::kInvalidSignature);
}

}  // namespace
}  // namespace nimbus::control
