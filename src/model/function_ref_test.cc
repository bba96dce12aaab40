// Tests for FunctionName parsing (plain, qualified, partial and full ARN forms), the
// Qualifier query parameter merge, and the ARNs nimbus builds.
#include "model/function_ref.h"

#include <gtest/gtest.h>

#include <string>

namespace nimbus::model {
namespace {

FunctionRef parseOk(const std::string& text) {
  auto r = parseFunctionRef(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : FunctionRef{};
}

void expectInvalid(const std::string& text) {
  auto r = parseFunctionRef(text);
  ASSERT_FALSE(r.ok()) << "accepted: " << text;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(r.error().message.find("functionName"), std::string::npos);
}

TEST(ParseFunctionRef, PlainName) {
  auto ref = parseOk("my-func_1");
  EXPECT_EQ(ref.name, "my-func_1");
  EXPECT_FALSE(ref.qualifier.has_value());
}

TEST(ParseFunctionRef, NameWithQualifier) {
  auto ref = parseOk("f:live");
  EXPECT_EQ(ref.name, "f");
  EXPECT_EQ(ref.qualifier, "live");

  ref = parseOk("f:7");
  EXPECT_EQ(ref.name, "f");
  EXPECT_EQ(ref.qualifier, "7");
}

TEST(ParseFunctionRef, NameWithLatest) {
  auto ref = parseOk("f:$LATEST");
  EXPECT_EQ(ref.name, "f");
  EXPECT_EQ(ref.qualifier, "$LATEST");
}

TEST(ParseFunctionRef, PartialArn) {
  auto ref = parseOk("123456789012:function:f");
  EXPECT_EQ(ref.name, "f");
  EXPECT_FALSE(ref.qualifier.has_value());

  ref = parseOk("123456789012:function:f:3");
  EXPECT_EQ(ref.name, "f");
  EXPECT_EQ(ref.qualifier, "3");
}

TEST(ParseFunctionRef, FullArnWithoutQualifier) {
  auto ref = parseOk("arn:aws:lambda:us-east-1:123456789012:function:my-func");
  EXPECT_EQ(ref.name, "my-func");
  EXPECT_FALSE(ref.qualifier.has_value());
}

TEST(ParseFunctionRef, FullArnWithQualifier) {
  auto ref = parseOk("arn:aws:lambda:eu-west-2:123456789012:function:my-func:$LATEST");
  EXPECT_EQ(ref.name, "my-func");
  EXPECT_EQ(ref.qualifier, "$LATEST");

  ref = parseOk("arn:aws:lambda:us-east-1:123456789012:function:my-func:prod");
  EXPECT_EQ(ref.name, "my-func");
  EXPECT_EQ(ref.qualifier, "prod");
}

TEST(ParseFunctionRef, NameOf64CharsIsAcceptedAnd65Refused) {
  std::string name64(64, 'a');
  EXPECT_EQ(parseOk(name64).name, name64);
  expectInvalid(std::string(65, 'a'));
  expectInvalid("arn:aws:lambda:us-east-1:123456789012:function:" + std::string(65, 'a'));
}

TEST(ParseFunctionRef, RefusesEmpty) {
  expectInvalid("");
  expectInvalid(":live");
  expectInvalid("f:");
}

TEST(ParseFunctionRef, RefusesBadCharacters) {
  expectInvalid("my func");
  expectInvalid("my.func");
  expectInvalid("f/g");
  expectInvalid("f\xc3\xa9");
  expectInvalid("f:bad.qualifier");
  expectInvalid("f:$latest");
}

TEST(ParseFunctionRef, RefusesMalformedArns) {
  expectInvalid("arn:aws:lambda:us-east-1:123456789012:function:");
  expectInvalid("arn:aws:lambda:us-east-1:function:f");            // no account
  expectInvalid("arn:aws:lambda:us-east-1:12345:function:f");      // short account
  expectInvalid("arn:aws:lambda:us-east-1:123456789012:layer:f");  // not a function
  expectInvalid("arn:aws:s3:us-east-1:123456789012:function:f");   // not lambda
  expectInvalid("arn:aws:lambda:...");
}

TEST(ParseFunctionRef, RefusesTooManyColons) {
  expectInvalid("f:1:2");
  expectInvalid("123456789012:function:f:1:2");
  expectInvalid("arn:aws:lambda:us-east-1:123456789012:function:f:1:2");
}

TEST(ParseFunctionRef, RefusesOverlongText) {
  expectInvalid("arn:aws:lambda:us-east-1:123456789012:function:f:" + std::string(129, 'q'));
  expectInvalid(std::string(200, 'a'));
}

TEST(WithQualifier, EmptyQueryKeepsRef) {
  auto r = withQualifier(FunctionRef{"f", "3"}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->qualifier, "3");

  r = withQualifier(FunctionRef{"f", std::nullopt}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->qualifier.has_value());
}

TEST(WithQualifier, QueryQualifierApplies) {
  auto r = withQualifier(FunctionRef{"f", std::nullopt}, "$LATEST");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "f");
  EXPECT_EQ(r->qualifier, "$LATEST");
}

TEST(WithQualifier, AgreementIsAccepted) {
  auto r = withQualifier(FunctionRef{"f", "live"}, "live");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->qualifier, "live");
}

TEST(WithQualifier, MismatchIsRefused) {
  auto r = withQualifier(FunctionRef{"f", "live"}, "2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(r.error().message.find("does not match"), std::string::npos);
}

TEST(WithQualifier, MalformedQueryQualifierIsRefused) {
  auto r = withQualifier(FunctionRef{"f", std::nullopt}, "a:b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);
}

TEST(FunctionArn, UnqualifiedAndQualified) {
  ArnContext ctx;
  EXPECT_EQ(functionArn(ctx, "f"), "arn:aws:lambda:us-east-1:000000000000:function:f");
  ctx.region = "eu-central-1";
  ctx.account = "123456789012";
  EXPECT_EQ(functionArn(ctx, "f", "$LATEST"),
            "arn:aws:lambda:eu-central-1:123456789012:function:f:$LATEST");
  EXPECT_EQ(functionArn(ctx, "f", "live"),
            "arn:aws:lambda:eu-central-1:123456789012:function:f:live");
}

TEST(FunctionArn, ParsesBackToTheSameRef) {
  ArnContext ctx;
  auto ref = parseOk(functionArn(ctx, "round-trip", "4"));
  EXPECT_EQ(ref.name, "round-trip");
  EXPECT_EQ(ref.qualifier, "4");
}

}  // namespace
}  // namespace nimbus::model
