// Tests for the FunctionConfiguration JSON nimbus returns and for the request members
// CreateFunction / UpdateFunctionConfiguration accept, with Lambda's type errors.
#include "control/function_json.h"

#include <gtest/gtest.h>

namespace nimbus::control {
namespace {

namespace json = boost::json;

model::FunctionConfig sampleConfig() {
  model::FunctionConfig c;
  c.name = "hello";
  c.runtime = "python3.11";
  c.handler = "app.handler";
  c.role = "arn:aws:iam::123456789012:role/r";
  c.description = "says hello";
  c.memory_mb = 256;
  c.timeout_s = 10;
  c.code_sha256_b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  c.code_size = 1234;
  c.last_modified_ms = 1704067200000;  // 2024-01-01T00:00:00Z
  c.revision_id = "rev-1";
  return c;
}

std::string str(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return "<absent>";
  return std::string(it->value().as_string());
}

json::object parsed(const std::string& text) {
  auto r = parseObject(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() ? *r : json::object{};
}

TEST(ToFunctionConfiguration, CoreFields) {
  model::ArnContext arn{"eu-west-1", "123456789012"};
  auto o = toFunctionConfiguration(sampleConfig(), arn);
  EXPECT_EQ(str(o, "FunctionName"), "hello");
  EXPECT_EQ(str(o, "FunctionArn"), "arn:aws:lambda:eu-west-1:123456789012:function:hello");
  EXPECT_EQ(str(o, "Runtime"), "python3.11");
  EXPECT_EQ(str(o, "Handler"), "app.handler");
  EXPECT_EQ(str(o, "Role"), "arn:aws:iam::123456789012:role/r");
  EXPECT_EQ(str(o, "Description"), "says hello");
  EXPECT_EQ(o.at("MemorySize"), json::value(256));
  EXPECT_EQ(o.at("Timeout"), json::value(10));
  EXPECT_EQ(o.at("CodeSize"), json::value(1234));
  EXPECT_EQ(str(o, "CodeSha256"), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(str(o, "Version"), "$LATEST");
  EXPECT_EQ(str(o, "LastModified"), "2024-01-01T00:00:00.000+0000");
  EXPECT_EQ(str(o, "State"), "Active");
  EXPECT_EQ(str(o, "LastUpdateStatus"), "Successful");
  EXPECT_EQ(str(o, "PackageType"), "Zip");
  EXPECT_EQ(str(o, "RevisionId"), "rev-1");
  EXPECT_EQ(o.at("EphemeralStorage").as_object().at("Size"), json::value(512));
}

TEST(ToFunctionConfiguration, LastModifiedKeepsMilliseconds) {
  auto c = sampleConfig();
  c.last_modified_ms = 1704067200000 + 86400000 + 3723456;  // 2024-01-02T01:02:03.456
  auto o = toFunctionConfiguration(c, {});
  EXPECT_EQ(str(o, "LastModified"), "2024-01-02T01:02:03.456+0000");
}

TEST(ToFunctionConfiguration, PublishedVersionHasAQualifiedArn) {
  auto c = sampleConfig();
  c.version = "3";
  auto o = toFunctionConfiguration(c, {});
  EXPECT_EQ(str(o, "FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:hello:3");
  EXPECT_EQ(str(o, "Version"), "3");
}

TEST(ToFunctionConfiguration, EnvironmentOnlyWhenNonEmpty) {
  auto c = sampleConfig();
  EXPECT_FALSE(toFunctionConfiguration(c, {}).contains("Environment"));
  c.environment = {{"A", "1"}, {"B", "two"}};
  auto o = toFunctionConfiguration(c, {});
  ASSERT_TRUE(o.contains("Environment"));
  const auto& vars = o.at("Environment").as_object().at("Variables").as_object();
  EXPECT_EQ(vars.size(), 2u);
  EXPECT_EQ(str(vars, "A"), "1");
  EXPECT_EQ(str(vars, "B"), "two");
}

TEST(ToFunctionConfiguration, DeadLetterConfigOnlyWhenSet) {
  auto c = sampleConfig();
  EXPECT_FALSE(toFunctionConfiguration(c, {}).contains("DeadLetterConfig"));
  c.dead_letter_target = "arn:nimbus:queue:us-east-1:000000000000:dlq";
  auto o = toFunctionConfiguration(c, {});
  ASSERT_TRUE(o.contains("DeadLetterConfig"));
  EXPECT_EQ(str(o.at("DeadLetterConfig").as_object(), "TargetArn"), c.dead_letter_target);
}

TEST(ParseObject, AcceptsObjectsAndEmptyBodies) {
  EXPECT_TRUE(parseObject("{}").ok());
  EXPECT_TRUE(parseObject("").ok());
  auto r = parseObject("[1]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidRequestContent);
  r = parseObject("{not json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidRequestContent);
}

TEST(ApplyConfiguration, SetsThePresentMembers) {
  model::FunctionConfig c = sampleConfig();
  auto in = parsed(R"({"Runtime":"nodejs20.x","Handler":"index.handler","MemorySize":1024,
                       "Timeout":30,"Description":"new","EphemeralStorage":{"Size":1024}})");
  ASSERT_TRUE(applyConfiguration(in, c).ok());
  EXPECT_EQ(c.runtime, "nodejs20.x");
  EXPECT_EQ(c.handler, "index.handler");
  EXPECT_EQ(c.memory_mb, 1024);
  EXPECT_EQ(c.timeout_s, 30);
  EXPECT_EQ(c.description, "new");
  EXPECT_EQ(c.ephemeral_storage_mb, 1024);
  EXPECT_EQ(c.role, "arn:aws:iam::123456789012:role/r") << "absent members stay";
}

TEST(ApplyConfiguration, NullMembersAreIgnored) {
  model::FunctionConfig c = sampleConfig();
  ASSERT_TRUE(applyConfiguration(parsed(R"({"MemorySize":null,"Handler":null})"), c).ok());
  EXPECT_EQ(c.memory_mb, 256);
  EXPECT_EQ(c.handler, "app.handler");
}

TEST(ApplyConfiguration, TypeErrorsAreInvalidParameter) {
  for (const char* body :
       {R"({"MemorySize":"x"})", R"({"Timeout":1.5})", R"({"Timeout":true})", R"({"Runtime":3})",
        R"({"Handler":["a"]})", R"({"Environment":"A=1"})", R"({"Environment":{"Variables":[1]}})",
        R"({"Environment":{"Variables":{"A":1}}})", R"({"EphemeralStorage":{"Size":"big"}})",
        R"({"MemorySize":99999999999})"}) {
    SCOPED_TRACE(body);
    model::FunctionConfig c = sampleConfig();
    auto r = applyConfiguration(parsed(body), c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  }
  model::FunctionConfig c = sampleConfig();
  auto r = applyConfiguration(parsed(R"({"MemorySize":"x"})"), c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("MemorySize"), std::string::npos) << r.error().message;
}

TEST(ApplyConfiguration, EnvironmentVariablesReplaceTheOldSet) {
  model::FunctionConfig c = sampleConfig();
  c.environment = {{"OLD", "1"}};
  ASSERT_TRUE(
      applyConfiguration(parsed(R"({"Environment":{"Variables":{"A":"1","B":""}}})"), c).ok());
  EXPECT_EQ(c.environment, (std::map<std::string, std::string>{{"A", "1"}, {"B", ""}}));

  // An Environment without Variables clears them.
  ASSERT_TRUE(applyConfiguration(parsed(R"({"Environment":{}})"), c).ok());
  EXPECT_TRUE(c.environment.empty());
}

TEST(ApplyConfiguration, DeadLetterConfigSetsAndEmptyTargetRemoves) {
  model::FunctionConfig c = sampleConfig();
  const std::string arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
  ASSERT_TRUE(
      applyConfiguration(parsed(R"({"DeadLetterConfig":{"TargetArn":")" + arn + R"("}})"), c).ok());
  EXPECT_EQ(c.dead_letter_target, arn);
  // Absent and null leave it; "" and a config without TargetArn remove it.
  ASSERT_TRUE(applyConfiguration(parsed(R"({"Timeout":5})"), c).ok());
  ASSERT_TRUE(applyConfiguration(parsed(R"({"DeadLetterConfig":null})"), c).ok());
  EXPECT_EQ(c.dead_letter_target, arn);
  ASSERT_TRUE(applyConfiguration(parsed(R"({"DeadLetterConfig":{"TargetArn":""}})"), c).ok());
  EXPECT_EQ(c.dead_letter_target, "");
  c.dead_letter_target = arn;
  ASSERT_TRUE(applyConfiguration(parsed(R"({"DeadLetterConfig":{}})"), c).ok());
  EXPECT_EQ(c.dead_letter_target, "");

  for (const char* body :
       {R"({"DeadLetterConfig":"arn"})", R"({"DeadLetterConfig":{"TargetArn":7}})"}) {
    SCOPED_TRACE(body);
    auto r = applyConfiguration(parsed(body), c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  }
}

TEST(ApplyConfiguration, OnlyZipPackagesAreSupported) {
  model::FunctionConfig c = sampleConfig();
  EXPECT_TRUE(applyConfiguration(parsed(R"({"PackageType":"Zip"})"), c).ok());
  auto r = applyConfiguration(parsed(R"({"PackageType":"Image"})"), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
}

TEST(OptInt, AcceptsIntegersOnly) {
  auto o = parsed(R"({"a":5,"b":"5","c":null,"d":-3})");
  EXPECT_EQ(*optInt(o, "a").value(), 5);
  EXPECT_FALSE(optInt(o, "b").ok());
  EXPECT_FALSE(optInt(o, "c").value().has_value());
  EXPECT_FALSE(optInt(o, "missing").value().has_value());
  EXPECT_EQ(*optInt(o, "d").value(), -3);
}

}  // namespace
}  // namespace nimbus::control
