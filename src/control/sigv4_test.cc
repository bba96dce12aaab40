// Tests for SigV4: AWS's published test-suite vectors, Lambda-shaped round trips, the
// refusals (tampering, clock skew, unknown keys, garbage), and requests signed by botocore.
#include "control/sigv4.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "base/encoding.h"

namespace nimbus::control {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// ---- AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, 2015-08-30 edition):
// every vector is signed by AKIDEXAMPLE for us-east-1, service "service", at 12:36:00Z.
constexpr const char* kSuiteKeyId = "AKIDEXAMPLE";
constexpr const char* kSuiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr const char* kSuiteDate = "20150830T123600Z";
constexpr const char* kSuiteScope = "20150830/us-east-1/service/aws4_request";
constexpr int64_t kSuiteNowMs = 1440938160000;  // 2015-08-30T12:36:00Z
constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SuiteVector {
  const char* name;
  const char* method;
  const char* target;
  Headers headers;  // besides Host and X-Amz-Date, which every vector has
  std::string body;
  const char* signed_headers;
  // The last line of the vector's .sts file (hash of the canonical request) and the
  // signature from its .authz file.
  const char* creq_sha256;
  const char* signature;
};

constexpr const char* kSecurityToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"
    "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPky"
    "QDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
    "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

const std::vector<SuiteVector>& suiteVectors() {
  static const std::vector<SuiteVector> vectors = {
      {"get-header-key-duplicate",
       "GET",
       "/",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order",
       "GET",
       "/",
       {{"My-Header1", "value4"},
        {"My-Header1", "value1"},
        {"My-Header1", "value3"},
        {"My-Header1", "value2"}},
       "",
       "host;my-header1;x-amz-date",
       "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim",
       "GET",
       "/",
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
       "",
       "host;my-header1;my-header2;x-amz-date",
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-unreserved",
       "GET",
       "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       "",
       "host;x-amz-date",
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-vanilla",
       "GET",
       "/",
       {},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key",
       "GET",
       "/?Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-order-key",
       "GET",
       "/?Param1=value2&Param1=Value1",
       {},
       "",
       "host;x-amz-date",
       "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
       "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
      {"get-vanilla-query-order-key-case",
       "GET",
       "/?Param2=value2&Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value",
       "GET",
       "/?Param1=value2&Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-query-unreserved",
       "GET",
       "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {},
       "",
       "host;x-amz-date",
       "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query",
       "GET",
       "/?\xE1\x88\xB4=bar",
       {},
       "",
       "host;x-amz-date",
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"post-header-key-case",
       "POST",
       "/",
       {},
       "",
       "host;x-amz-date",
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-key-sort",
       "POST",
       "/",
       {{"My-Header1", "value1"}},
       "",
       "host;my-header1;x-amz-date",
       "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case",
       "POST",
       "/",
       {{"My-Header1", "VALUE1"}},
       "",
       "host;my-header1;x-amz-date",
       "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-vanilla-query",
       "POST",
       "/?Param1=value1",
       {},
       "",
       "host;x-amz-date",
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      // The suite's .creq for this one lists content-length, but its .sts and .authz (which
      // agree with each other) sign content-type;host;x-amz-date, as botocore would.
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       {{"Content-Type", "application/x-www-form-urlencoded"}, {"Content-Length", "13"}},
       "Param1=value1",
       "content-type;host;x-amz-date",
       "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"get-relative",
       "GET",
       "/example/..",
       {},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative",
       "GET",
       "/example1/example2/../..",
       {},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash",
       "GET",
       "//",
       {},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-dot-slash",
       "GET",
       "/./",
       {},
       "",
       "host;x-amz-date",
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-pointless-dot",
       "GET",
       "/./example",
       {},
       "",
       "host;x-amz-date",
       "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
      {"get-slashes",
       "GET",
       "//example//",
       {},
       "",
       "host;x-amz-date",
       "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"get-space",
       "GET",
       "/example space/",
       {},
       "",
       "host;x-amz-date",
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"post-sts-header-before",
       "POST",
       "/",
       {{"X-Amz-Security-Token", kSecurityToken}},
       "",
       "host;x-amz-date;x-amz-security-token",
       "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
  };
  return vectors;
}

SigV4Request suiteRequest(const SuiteVector& v, bool with_date = true) {
  SigV4Request req{v.method, v.target, {{"Host", "example.amazonaws.com"}}, v.body};
  if (with_date) req.headers.emplace_back("X-Amz-Date", kSuiteDate);
  req.headers.insert(req.headers.end(), v.headers.begin(), v.headers.end());
  return req;
}

std::vector<std::string> splitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ';');) out.push_back(name);
  return out;
}

SecretLookup lookupOnly(std::string key_id, std::string secret) {
  return [key_id, secret](const std::string& id) -> std::optional<std::string> {
    if (id == key_id) return secret;
    return std::nullopt;
  };
}

std::string suiteAuthorization(const SuiteVector& v) {
  return std::string("AWS4-HMAC-SHA256 Credential=") + kSuiteKeyId + "/" + kSuiteScope +
         ", SignedHeaders=" + v.signed_headers + ", Signature=" + v.signature;
}

TEST(SigV4Suite, CanonicalRequestAndSignatureMatchPublishedVectors) {
  std::string key = deriveSigningKey(kSuiteSecret, "20150830", "us-east-1", "service");
  int checked = 0;
  for (const SuiteVector& v : suiteVectors()) {
    SCOPED_TRACE(v.name);
    SigV4Request req = suiteRequest(v);
    auto creq = buildCanonicalRequest(req, splitList(v.signed_headers), sha256Hex(v.body));
    ASSERT_TRUE(creq.ok()) << creq.error().message;
    EXPECT_EQ(sha256Hex(*creq), v.creq_sha256) << *creq;
    std::string sts = buildStringToSign(kSuiteDate, kSuiteScope, *creq);
    EXPECT_EQ(hexEncode(hmacSha256(key, sts)), v.signature);
    ++checked;
  }
  EXPECT_GE(checked, 8);
}

TEST(SigV4Suite, VerifierAcceptsEveryPublishedSignedRequest) {
  for (const SuiteVector& v : suiteVectors()) {
    SCOPED_TRACE(v.name);
    SigV4Request req = suiteRequest(v);
    req.headers.emplace_back("Authorization", suiteAuthorization(v));
    auto result =
        verifySigV4ForService(req, lookupOnly(kSuiteKeyId, kSuiteSecret), kSuiteNowMs, "service");
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->access_key_id, kSuiteKeyId);
    EXPECT_EQ(result->region, "us-east-1");
  }
}

TEST(SigV4Suite, SignerReproducesPublishedAuthorizationHeaders) {
  for (const SuiteVector& v : suiteVectors()) {
    SCOPED_TRACE(v.name);
    Headers added = signSigV4(suiteRequest(v, /*with_date=*/false), {kSuiteKeyId, kSuiteSecret},
                              "us-east-1", "service", kSuiteNowMs);
    ASSERT_EQ(added.size(), 2u);
    EXPECT_EQ(added[0], std::make_pair(std::string("Authorization"), suiteAuthorization(v)));
    EXPECT_EQ(added[1], std::make_pair(std::string("X-Amz-Date"), std::string(kSuiteDate)));
  }
}

TEST(SigV4Suite, CanonicalRequestTextMatchesPublishedCreq) {
  // Straight from the suite's .creq files.
  auto creqOf = [](const char* name) {
    for (const SuiteVector& v : suiteVectors()) {
      if (std::string(v.name) == name) {
        return buildCanonicalRequest(suiteRequest(v), splitList(v.signed_headers),
                                     sha256Hex(v.body))
            .value();
      }
    }
    return std::string();
  };
  EXPECT_EQ(creqOf("get-vanilla-query-order-key-case"),
            std::string("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha256);
  EXPECT_EQ(creqOf("get-header-value-trim"),
            std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                        "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
                        "host;my-header1;my-header2;x-amz-date\n") +
                kEmptySha256);
  EXPECT_EQ(creqOf("get-vanilla-utf8-query"),
            std::string("GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha256);
  EXPECT_EQ(creqOf("get-space"),
            std::string("GET\n/example%20space/\n\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha256);
  EXPECT_EQ(creqOf("get-header-key-duplicate"),
            std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
                        "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n") +
                kEmptySha256);
}

TEST(SigV4Suite, SigningKeyMatchesAwsDocumentation) {
  // The "derive the signing key" example of the AWS General Reference (service iam).
  EXPECT_EQ(hexEncode(deriveSigningKey(kSuiteSecret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4Dates, FormatAndParseRoundTrip) {
  EXPECT_EQ(formatAmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(formatAmzDate(0), "19700101T000000Z");
  EXPECT_EQ(formatAmzDate(951782400), "20000229T000000Z");  // leap day
  EXPECT_EQ(parseAmzDate("20150830T123600Z"), 1440938160);
  EXPECT_EQ(parseAmzDate("20000229T000000Z"), 951782400);
  EXPECT_FALSE(parseAmzDate("20150230T123600Z"));  // no 30 February
  EXPECT_FALSE(parseAmzDate("20150830T243600Z"));
  EXPECT_FALSE(parseAmzDate("20150830 123600Z"));
  EXPECT_FALSE(parseAmzDate("2015083OT123600Z"));
  EXPECT_FALSE(parseAmzDate("-0150830T123600Z"));
  EXPECT_FALSE(parseAmzDate(""));
}

// ---- Lambda-shaped requests

constexpr const char* kKeyId = "AKIANIMBUSTEST000001";
constexpr const char* kSecret = "nimbus/secret+key/for/tests/only0000000";
constexpr int64_t kNowMs = 1704067200000;  // 2024-01-01T00:00:00Z

SigV4Request invokeRequest() {
  return SigV4Request{
      "POST",
      "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3Alive/"
      "invocations?Qualifier=%24LATEST",
      {{"Host", "127.0.0.1:8080"},
       {"Content-Type", "application/json"},
       {"X-Amz-Invocation-Type", "RequestResponse"},
       {"X-Amz-Log-Type", "Tail"},
       {"User-Agent", "Boto3/1.26 Python/3.11"},
       {"Content-Length", "10"}},
      "{\"k\":\"v\"}"};
}

SigV4Request signedCopy(SigV4Request req, const std::string& region = "eu-west-3",
                        int64_t now_ms = kNowMs, SigV4SignOptions options = {}) {
  for (auto& header : signSigV4(req, {kKeyId, kSecret}, region, "lambda", now_ms, options)) {
    req.headers.push_back(std::move(header));
  }
  return req;
}

Result<SigV4Result> verify(const SigV4Request& req, int64_t now_ms = kNowMs) {
  return verifySigV4(req, lookupOnly(kKeyId, kSecret), now_ms);
}

std::string authorizationOf(const SigV4Request& req) {
  for (const auto& [name, value] : req.headers) {
    if (name == "Authorization") return value;
  }
  return {};
}

void setHeader(SigV4Request& req, const std::string& name, const std::string& value) {
  for (auto& header : req.headers) {
    if (header.first == name) header.second = value;
  }
}

TEST(SigV4Lambda, ArnPathRoundTrip) {
  SigV4Request req = signedCopy(invokeRequest());
  EXPECT_EQ(authorizationOf(req).rfind(
                "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/eu-west-3/lambda/"
                "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type;"
                "x-amz-log-type, Signature=",
                0),
            0u)
      << authorizationOf(req);
  auto result = verify(req, kNowMs + 60'000);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->access_key_id, kKeyId);
  EXPECT_EQ(result->region, "eu-west-3");
}

TEST(SigV4Lambda, PathIsEncodedOnceMoreAndQueryIsCanonical) {
  auto creq = buildCanonicalRequest(invokeRequest(), {"host"}, kEmptySha256);
  ASSERT_TRUE(creq.ok());
  EXPECT_EQ(creq->substr(0, creq->find("\nhost:")),
            "POST\n/2015-03-31/functions/"
            "arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012%253Afunction%253Af%253Alive/"
            "invocations\nQualifier=%24LATEST");
  // An unencoded '$' or a lower-case escape in the query canonicalises the same.
  for (const char* query :
       {"?Qualifier=$LATEST", "?Qualifier=%24LATEST", "?Qualifier=%24LATEST&"}) {
    SigV4Request req{"GET", std::string("/f") + query, {{"Host", "h"}}, ""};
    EXPECT_EQ(buildCanonicalRequest(req, {"host"}, kEmptySha256).value(),
              std::string("GET\n/f\nQualifier=%24LATEST\nhost:h\n\nhost\n") + kEmptySha256);
  }
  SigV4Request spaces{"GET", "/f?b=x+y&a=%7e%20&c", {{"Host", "h"}}, ""};
  EXPECT_EQ(buildCanonicalRequest(spaces, {"host"}, kEmptySha256).value(),
            std::string("GET\n/f\na=~%20&b=x%2By&c=\nhost:h\n\nhost\n") + kEmptySha256);
}

TEST(SigV4Lambda, JavaScriptStyleContentSha256RoundTrip) {
  SigV4Request req = signedCopy(invokeRequest(), "us-east-1", kNowMs, {.add_content_sha256 = true});
  EXPECT_NE(authorizationOf(req).find("x-amz-content-sha256"), std::string::npos);
  ASSERT_TRUE(verify(req).ok()) << verify(req).error().message;
}

TEST(SigV4Lambda, TamperedRequestsAreRejected) {
  const SigV4Request original = signedCopy(invokeRequest());
  ASSERT_TRUE(verify(original).ok());

  SigV4Request body = original;
  body.body = "{\"k\":\"w\"}";
  auto result = verify(body);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidSignature);
  EXPECT_EQ(
      result.error().message.rfind(
          "The request signature we calculated does not match the signature you provided.", 0),
      0u);

  SigV4Request hashed =
      signedCopy(invokeRequest(), "us-east-1", kNowMs, {.add_content_sha256 = true});
  hashed.body = "{\"k\":\"w\"}";
  EXPECT_EQ(verify(hashed).error().code, ErrorCode::kInvalidSignature);

  SigV4Request header = original;
  setHeader(header, "X-Amz-Invocation-Type", "Event");
  EXPECT_EQ(verify(header).error().code, ErrorCode::kInvalidSignature);

  SigV4Request path = original;
  path.target = "/2015-03-31/functions/other/invocations?Qualifier=%24LATEST";
  EXPECT_EQ(verify(path).error().code, ErrorCode::kInvalidSignature);

  SigV4Request query = original;
  query.target += "&extra=1";
  EXPECT_EQ(verify(query).error().code, ErrorCode::kInvalidSignature);

  // Unsigned headers may change: an HTTP stack rewrites them.
  SigV4Request agent = original;
  setHeader(agent, "User-Agent", "curl/8");
  EXPECT_TRUE(verify(agent).ok());
}

TEST(SigV4Lambda, WrongSecretIsInvalidSignature) {
  SigV4Request req = invokeRequest();
  for (auto& header : signSigV4(req, {kKeyId, "not-the-secret"}, "us-east-1", "lambda", kNowMs)) {
    req.headers.push_back(header);
  }
  auto result = verify(req);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidSignature);
  EXPECT_NE(result.error().message.find("The Canonical String for this request should have been"),
            std::string::npos);
}

TEST(SigV4Lambda, UnknownKeyIsUnrecognizedClient) {
  SigV4Request req = invokeRequest();
  for (auto& header : signSigV4(req, {"AKIAUNKNOWN", kSecret}, "us-east-1", "lambda", kNowMs)) {
    req.headers.push_back(header);
  }
  auto result = verify(req);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnrecognizedClient);
  EXPECT_EQ(result.error().message, "The security token included in the request is invalid.");
  EXPECT_EQ(verifySigV4(req, SecretLookup(), kNowMs).error().code, ErrorCode::kUnrecognizedClient);
}

TEST(SigV4Lambda, MissingAuthorizationIsMissingAuthentication) {
  auto result = verify(invokeRequest());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kMissingAuthentication);
}

TEST(SigV4Lambda, ClockSkewBeyondFifteenMinutesIsRejected) {
  const SigV4Request req = signedCopy(invokeRequest());
  constexpr int64_t kMinute = 60'000;
  EXPECT_TRUE(verify(req, kNowMs + 14 * kMinute).ok());
  EXPECT_TRUE(verify(req, kNowMs - 14 * kMinute).ok());

  auto late = verify(req, kNowMs + 16 * kMinute);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kInvalidSignature);
  EXPECT_EQ(late.error().message,
            "Signature expired: 20240101T000000Z is now earlier than 20240101T000100Z "
            "(20240101T001600Z - 15 min.)");

  auto early = verify(req, kNowMs - 16 * kMinute);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kInvalidSignature);
  EXPECT_EQ(early.error().message.rfind("Signature not yet current: 20240101T000000Z", 0), 0u);
}

TEST(SigV4Lambda, ScopeAndHostRulesAreEnforced) {
  // Host must be signed.
  SigV4Request no_host = invokeRequest();
  no_host.headers.erase(no_host.headers.begin());  // Host
  no_host = signedCopy(no_host);
  no_host.headers.emplace_back("Host", "127.0.0.1:8080");
  auto result = verify(no_host);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidSignature);
  EXPECT_NE(result.error().message.find("'Host'"), std::string::npos);

  // Service must be lambda.
  SigV4Request s3 = invokeRequest();
  for (auto& header : signSigV4(s3, {kKeyId, kSecret}, "us-east-1", "s3", kNowMs)) {
    s3.headers.push_back(header);
  }
  EXPECT_EQ(verify(s3).error().code, ErrorCode::kInvalidSignature);
  EXPECT_NE(verify(s3).error().message.find("correct service: 'lambda'"), std::string::npos);

  // The credential scope's day must be X-Amz-Date's day.
  SigV4Request day = signedCopy(invokeRequest());
  setHeader(day, "X-Amz-Date", "20231231T235959Z");
  EXPECT_EQ(verify(day).error().code, ErrorCode::kInvalidSignature);
  EXPECT_NE(verify(day).error().message.find("Date in Credential scope"), std::string::npos);

  // A signed header that is not sent.
  SigV4Request dropped = signedCopy(invokeRequest());
  std::erase_if(dropped.headers, [](const auto& h) { return h.first == "X-Amz-Log-Type"; });
  EXPECT_EQ(verify(dropped).error().code, ErrorCode::kInvalidSignature);

  // Two Authorization headers.
  SigV4Request twice = signedCopy(invokeRequest());
  twice.headers.emplace_back("Authorization", authorizationOf(twice));
  EXPECT_EQ(verify(twice).error().code, ErrorCode::kInvalidSignature);
}

TEST(SigV4Lambda, DateHeaderFallback) {
  SigV4Request req = invokeRequest();
  req.headers.emplace_back("Date", "Mon, 01 Jan 2024 00:00:00 GMT");
  // Sign with the building blocks: botocore always sends X-Amz-Date, older clients did not.
  std::vector<std::string> names = {"date", "host"};
  std::string creq = buildCanonicalRequest(req, names, sha256Hex(req.body)).value();
  std::string scope = "20240101/us-east-1/lambda/aws4_request";
  std::string signature =
      hexEncode(hmacSha256(deriveSigningKey(kSecret, "20240101", "us-east-1", "lambda"),
                           buildStringToSign("20240101T000000Z", scope, creq)));
  req.headers.emplace_back("Authorization", std::string("AWS4-HMAC-SHA256 Credential=") + kKeyId +
                                                "/" + scope +
                                                ",SignedHeaders=date;host,Signature=" + signature);
  auto result = verify(req);
  ASSERT_TRUE(result.ok()) << result.error().message;
}

TEST(SigV4Lambda, PresignedQueryForm) {
  std::string scope = "20240101/us-east-1/lambda/aws4_request";
  SigV4Request req{
      "GET",
      std::string("/2015-03-31/functions/f%3A%24LATEST?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                  "&X-Amz-Credential=") +
          kKeyId +
          "%2F20240101%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20240101T000000Z"
          "&X-Amz-Expires=300&X-Amz-SignedHeaders=host",
      {{"Host", "127.0.0.1:8080"}},
      ""};
  std::string creq =
      buildCanonicalRequest(req, {"host"}, kEmptySha256, {.presigned = true}).value();
  std::string signature =
      hexEncode(hmacSha256(deriveSigningKey(kSecret, "20240101", "us-east-1", "lambda"),
                           buildStringToSign("20240101T000000Z", scope, creq)));
  req.target += "&X-Amz-Signature=" + signature;
  auto result = verify(req, kNowMs + 299'000);
  ASSERT_TRUE(result.ok()) << result.error().message;

  auto expired = verify(req, kNowMs + 301'000);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kInvalidSignature);
  EXPECT_EQ(expired.error().message.rfind("Signature expired", 0), 0u);

  SigV4Request missing = req;
  missing.target = "/f?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + signature;
  EXPECT_EQ(verify(missing).error().code, ErrorCode::kInvalidSignature);
}

// ---- Garbage never crashes and never verifies.

TEST(SigV4Garbage, MalformedAuthorizationHeadersAreErrors) {
  const SigV4Request valid = signedCopy(invokeRequest());
  const std::string good = authorizationOf(valid);
  auto withAuthorization = [&](const std::string& value) {
    SigV4Request req = valid;
    setHeader(req, "Authorization", value);
    return verify(req);
  };
  std::vector<std::string> cases = {
      "",
      "AWS4-HMAC-SHA256",
      "AWS4-HMAC-SHA256 ",
      "Bearer abc:def",
      "AWS AKIA:sig",
      "AWS4-HMAC-SHA256 Credential=",
      "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request",
      "AWS4-HMAC-SHA256 ,,,,,,",
      "AWS4-HMAC-SHA256 ====",
      "AWS4-HMAC-SHA256 Credential=x,Credential=y,SignedHeaders=host,Signature=" +
          std::string(64, 'a'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001//us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(64, '0'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101//lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(64, '0'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;;x-amz-date, Signature=" +
          std::string(64, '0'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request, "
      "SignedHeaders=Host;X-Amz-Date, Signature=" +
          std::string(64, '0'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(64, 'g'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(63, '0'),
      "AWS4-HMAC-SHA256 Credential=AKIANIMBUSTEST000001/20240101/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(64, '0'),
      good + "0",
      good.substr(0, good.size() - 1),
      std::string(100000, 'A'),
      std::string("AWS4-HMAC-SHA256 \0Credential", 29),
  };
  for (const std::string& value : cases) {
    SCOPED_TRACE(value.substr(0, 200));
    auto result = withAuthorization(value);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidSignature) << result.error().message;
  }

  std::mt19937 rng(20240101);
  auto randomInt = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> tokens = {
      "AWS4-HMAC-SHA256", " ",    ",",  "=",    "Credential",        "SignedHeaders",
      "Signature",        "/",    ";",  "host", "aws4_request",      "lambda",
      "20240101",         kKeyId, "\t", "%",    std::string(64, 'f')};
  for (int i = 0; i < 100; ++i) {
    std::string value;
    switch (i % 4) {
      case 0:  // random bytes
        for (int n = randomInt(0, 300); n > 0; --n)
          value.push_back(static_cast<char>(randomInt(0, 255)));
        break;
      case 1: {  // a valid header with a few characters changed
        value = good;
        for (int n = randomInt(1, 4); n > 0; --n) {
          size_t at = static_cast<size_t>(randomInt(0, static_cast<int>(value.size()) - 1));
          char old = value[at];
          char repl;
          do {
            repl = static_cast<char>(randomInt(0, 255));
          } while (repl == old ||
                   std::tolower(static_cast<unsigned char>(repl)) ==
                       std::tolower(static_cast<unsigned char>(old)) ||
                   (std::isspace(static_cast<unsigned char>(old)) &&
                    std::isspace(static_cast<unsigned char>(repl))));
          value[at] = repl;
        }
        break;
      }
      case 2:  // a valid header cut short
        value =
            good.substr(0, static_cast<size_t>(randomInt(0, static_cast<int>(good.size()) - 1)));
        break;
      default:  // a soup of the right words
        for (int n = randomInt(1, 30); n > 0; --n) {
          value += tokens[static_cast<size_t>(randomInt(0, static_cast<int>(tokens.size()) - 1))];
        }
    }
    SCOPED_TRACE("case " + std::to_string(i) + ": " + hexEncode(value));
    auto result = withAuthorization(value);
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.error().code == ErrorCode::kInvalidSignature ||
                result.error().code == ErrorCode::kUnrecognizedClient)
        << result.error().message;
  }
}

TEST(SigV4Garbage, MalformedDatesTargetsAndQueriesAreErrors) {
  const SigV4Request valid = signedCopy(invokeRequest());
  for (const char* date : {"", "2024", "20240101T000000", "20240101T00000Z", "garbage-garbage!",
                           "99999999T999999Z", "Mon, 01 Jan 2024 00:00:00 GMT"}) {
    SigV4Request req = valid;
    setHeader(req, "X-Amz-Date", date);
    auto result = verify(req);
    ASSERT_FALSE(result.ok()) << date;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidSignature) << date;
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 100; ++i) {
    SigV4Request req = valid;
    std::string target;
    for (int n = std::uniform_int_distribution<int>(0, 80)(rng); n > 0; --n) {
      target.push_back(
          "/?&=%X-Amz-AlgorithmSignature:ab"[std::uniform_int_distribution<int>(0, 31)(rng)]);
    }
    req.target = target;
    EXPECT_FALSE(verify(req).ok()) << target;
    std::erase_if(req.headers, [](const auto& h) { return h.first == "Authorization"; });
    EXPECT_FALSE(verify(req).ok()) << target;
  }
}

// ---- A request signed by real botocore verifies.

constexpr const char* kBotocoreScript = R"PY(
import binascii, sys
from urllib.parse import urlsplit
import boto3
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY, SECRET = sys.argv[1], sys.argv[2]
ENDPOINT = 'http://127.0.0.1:8080'

def h(b):
    if isinstance(b, str):
        b = b.encode('utf-8')
    return binascii.hexlify(b or b'').decode()

def emit(method, url, headers, body):
    parts = urlsplit(url)
    target = parts.path + ('?' + parts.query if parts.query else '')
    print('REQUEST')
    print('METHOD', h(method))
    print('TARGET', h(target))
    names = set()
    for k, v in headers.items():
        names.add(k.lower())
        print('HEADER', h(k), h(v))
    if 'host' not in names:  # added by the HTTP client after signing, as botocore expects
        print('HEADER', h('Host'), h(parts.netloc))
    print('BODY', h(body))
    print('END')

class Captured(Exception):
    pass

def capture(request, **kwargs):
    emit(request.method, request.url, request.headers, request.body)
    raise Captured()

client = boto3.client('lambda', endpoint_url=ENDPOINT, region_name='us-west-2',
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET)
client.meta.events.register('before-send.lambda.*', capture)
calls = [
    lambda: client.get_function(
        FunctionName='arn:aws:lambda:us-east-1:123456789012:function:f', Qualifier='live'),
    lambda: client.invoke(FunctionName='f', Qualifier='$LATEST', Payload=b'{"k": "v"}',
                          InvocationType='RequestResponse', LogType='Tail'),
    lambda: client.list_functions(MaxItems=5, Marker='a b+c/d~e'),
    lambda: client.create_function(
        FunctionName='f', Runtime='python3.11', Role='arn:aws:iam::1:role/r',
        Handler='app.handler', Code={'ZipFile': b'PK\x05\x06' + b'\0' * 18}),
]
for call in calls:
    try:
        call()
    except Captured:
        pass

req = AWSRequest(method='GET',
                 url=ENDPOINT + '/2015-03-31/functions/f%3A%24LATEST?Qualifier=%24LATEST')
SigV4QueryAuth(Credentials(KEY, SECRET), 'lambda', 'ap-south-1', expires=300).add_auth(req)
p = req.prepare()
emit(p.method, p.url, p.headers, p.body)
)PY";

struct CapturedRequest {
  std::string method, target, body;
  Headers headers;
};

std::optional<std::string> unhex(const std::string& text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<CapturedRequest> parseCaptured(const std::string& output) {
  std::vector<CapturedRequest> requests;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, a, b;
    words >> kind >> a >> b;
    if (kind == "REQUEST") requests.emplace_back();
    if (requests.empty()) continue;
    CapturedRequest& r = requests.back();
    if (kind == "METHOD") r.method = unhex(a).value_or("");
    if (kind == "TARGET") r.target = unhex(a).value_or("");
    if (kind == "BODY") r.body = unhex(a).value_or("");
    if (kind == "HEADER") r.headers.emplace_back(unhex(a).value_or(""), unhex(b).value_or(""));
  }
  return requests;
}

TEST(SigV4Botocore, RequestsSignedByBotocoreVerify) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  char path[] = "/tmp/nimbus_sigv4_botocoreXXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << kBotocoreScript;
  std::string command =
      std::string("/usr/bin/python3 ") + path + " " + kKeyId + " '" + kSecret + "' 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  int status = pclose(pipe);
  std::remove(path);
  if (status != 0 && output.find("No module named") != std::string::npos) {
    GTEST_SKIP() << "botocore is not installed: " << output;
  }
  ASSERT_EQ(status, 0) << output;

  std::vector<CapturedRequest> requests = parseCaptured(output);
  ASSERT_EQ(requests.size(), 5u) << output;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (const CapturedRequest& captured : requests) {
    SCOPED_TRACE(captured.method + " " + captured.target);
    SigV4Request req{captured.method, captured.target, captured.headers, captured.body};
    auto result = verify(req, now_ms);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->access_key_id, kKeyId);

    // And the same request with its body or target changed does not.
    SigV4Request tampered = req;
    std::string changed_body = captured.body + " ";
    tampered.body = changed_body;
    if (captured.method != "GET") {
      EXPECT_FALSE(verify(tampered, now_ms).ok());
    }
    tampered = req;
    tampered.target.insert(tampered.target.find('/', 1), "/x");
    EXPECT_FALSE(verify(tampered, now_ms).ok());
  }
  // botocore encodes the ARN once in the path; the canonical form encodes it again.
  EXPECT_NE(requests[0].target.find("arn%3Aaws%3Alambda"), std::string::npos);
  EXPECT_NE(requests[4].target.find("X-Amz-Signature="), std::string::npos);
}

}  // namespace
}  // namespace nimbus::control
