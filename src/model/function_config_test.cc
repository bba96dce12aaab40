// Tests for validate(): every Lambda limit on a function's configuration, checked just
// inside and just outside its bounds.
#include "model/function_config.h"

#include <gtest/gtest.h>

#include <string>

namespace nimbus::model {
namespace {

FunctionConfig validConfig() {
  FunctionConfig c;
  c.name = "f";
  c.runtime = "python3.11";
  c.handler = "app.handler";
  c.role = "arn:aws:iam::123456789012:role/lambda-role";
  return c;
}

void expectInvalid(const FunctionConfig& c, const std::string& fragment) {
  auto r = validate(c);
  ASSERT_FALSE(r.ok()) << "expected a refusal mentioning " << fragment;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(Validate, DefaultsAreValid) {
  auto r = validate(validConfig());
  EXPECT_TRUE(r.ok()) << r.error().message;
  FunctionConfig c;
  EXPECT_EQ(c.version, "$LATEST");
  EXPECT_EQ(c.memory_mb, 128);
  EXPECT_EQ(c.timeout_s, 3);
  EXPECT_EQ(c.ephemeral_storage_mb, 512);
}

TEST(Validate, MemoryBounds) {
  auto c = validConfig();
  c.memory_mb = 127;
  expectInvalid(c, "MemorySize");
  c.memory_mb = 128;
  EXPECT_TRUE(validate(c).ok());
  c.memory_mb = 10240;
  EXPECT_TRUE(validate(c).ok());
  c.memory_mb = 10241;
  expectInvalid(c, "MemorySize");
}

TEST(Validate, TimeoutBounds) {
  auto c = validConfig();
  c.timeout_s = 0;
  expectInvalid(c, "Timeout");
  c.timeout_s = 1;
  EXPECT_TRUE(validate(c).ok());
  c.timeout_s = 900;
  EXPECT_TRUE(validate(c).ok());
  c.timeout_s = 901;
  expectInvalid(c, "Timeout");
}

TEST(Validate, EphemeralStorageBounds) {
  auto c = validConfig();
  c.ephemeral_storage_mb = 511;
  expectInvalid(c, "EphemeralStorage");
  c.ephemeral_storage_mb = 512;
  EXPECT_TRUE(validate(c).ok());
  c.ephemeral_storage_mb = 10240;
  EXPECT_TRUE(validate(c).ok());
  c.ephemeral_storage_mb = 10241;
  expectInvalid(c, "EphemeralStorage");
}

TEST(Validate, RuntimeMustBeSupported) {
  auto c = validConfig();
  for (const auto& rt : supportedRuntimes()) {
    c.runtime = rt;
    EXPECT_TRUE(validate(c).ok()) << rt;
  }
  c.runtime = "python2.7";
  expectInvalid(c, "runtime");
  c.runtime = "";
  expectInvalid(c, "runtime");
}

TEST(Validate, HandlerRequiredExceptForProvidedRuntimes) {
  auto c = validConfig();
  c.handler.clear();
  expectInvalid(c, "Handler");
  c.runtime = "nodejs20.x";
  expectInvalid(c, "Handler");
  c.runtime = "provided";
  EXPECT_TRUE(validate(c).ok());
  c.runtime = "provided.al2023";
  EXPECT_TRUE(validate(c).ok());
  EXPECT_TRUE(isProvidedRuntime("provided.al2023"));
  EXPECT_FALSE(isProvidedRuntime("python3.11"));
}

TEST(Validate, HandlerLength) {
  auto c = validConfig();
  c.handler = std::string(128, 'h');
  EXPECT_TRUE(validate(c).ok());
  c.handler = std::string(129, 'h');
  expectInvalid(c, "Handler");
}

TEST(Validate, FunctionName) {
  auto c = validConfig();
  c.name = std::string(64, 'n');
  EXPECT_TRUE(validate(c).ok());
  c.name = std::string(65, 'n');
  expectInvalid(c, "functionName");
  c.name = "";
  expectInvalid(c, "functionName");
  c.name = "bad.name";
  expectInvalid(c, "functionName");
}

TEST(Validate, DescriptionLength) {
  auto c = validConfig();
  c.description = std::string(256, 'd');
  EXPECT_TRUE(validate(c).ok());
  c.description = std::string(257, 'd');
  expectInvalid(c, "Description");
}

TEST(Validate, RolePattern) {
  auto c = validConfig();
  c.role = "";  // nimbus does not require a role
  EXPECT_TRUE(validate(c).ok());
  c.role = "arn:aws:iam::123456789012:role/service-role/my_role+=,.@-";
  EXPECT_TRUE(validate(c).ok());
  c.role = "arn:aws-us-gov:iam::123456789012:role/r";
  EXPECT_TRUE(validate(c).ok());
  c.role = "not-an-arn";
  expectInvalid(c, "role");
  c.role = "arn:aws:iam::12345:role/r";  // account must be 12 digits
  expectInvalid(c, "role");
  c.role = "arn:aws:iam::123456789012:user/r";
  expectInvalid(c, "role");
}

TEST(Validate, EnvironmentKeys) {
  auto c = validConfig();
  c.environment = {{"GOOD_KEY_1", "v"}, {"a", ""}};
  EXPECT_TRUE(validate(c).ok());
  for (const char* bad : {"1STARTS_WITH_DIGIT", "HAS-DASH", "HAS SPACE", "", "_LEADING"}) {
    c.environment = {{bad, "v"}};
    expectInvalid(c, "Environment variable name");
  }
}

TEST(Validate, EnvironmentSizeLimitIs4KB) {
  auto c = validConfig();
  // Keys plus values count: exactly 4096 bytes passes, one more byte fails.
  c.environment = {{"K", std::string(4095, 'v')}};
  EXPECT_TRUE(validate(c).ok());
  c.environment = {{"K", std::string(4096, 'v')}};
  expectInvalid(c, "4KB");
  c.environment = {{"A", std::string(2048, 'v')}, {"B", std::string(2048, 'v')}};
  expectInvalid(c, "4KB");
}

TEST(Validate, KeepAliveIsZeroOrUpToADay) {
  auto c = validConfig();
  for (int ok : {0, 1, 60, 86400}) {
    c.keep_alive_s = ok;
    EXPECT_TRUE(validate(c).ok()) << ok;
  }
  for (int bad : {-1, 86401}) {
    c.keep_alive_s = bad;
    expectInvalid(c, "KeepAliveSeconds");
  }
}

TEST(NetworkMode, NamesRoundTrip) {
  for (NetworkMode m : {NetworkMode::kIsolated, NetworkMode::kEgress}) {
    EXPECT_EQ(parseNetworkMode(networkModeName(m)), m);
  }
  EXPECT_FALSE(parseNetworkMode("Egress").has_value());
  EXPECT_FALSE(parseNetworkMode("").has_value());
}

}  // namespace
}  // namespace nimbus::model
