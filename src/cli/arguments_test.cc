// Tests for --env and --data parsing.
#include "cli/arguments.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace nimbus::cli {
namespace {

TEST(ParseEnvAssignments, SplitsAtTheFirstEquals) {
  auto env = parseEnvAssignments({"GREETING=hi", "EMPTY=", "URL=a=b&c=d", "_x1=y"});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->size(), 4u);
  EXPECT_EQ(env->at("GREETING"), "hi");
  EXPECT_EQ(env->at("EMPTY"), "");
  EXPECT_EQ(env->at("URL"), "a=b&c=d");
  EXPECT_EQ(env->at("_x1"), "y");
}

TEST(ParseEnvAssignments, RejectsBadItems) {
  EXPECT_FALSE(parseEnvAssignments({"NOEQUALS"}).ok());
  EXPECT_FALSE(parseEnvAssignments({"=value"}).ok());
  EXPECT_FALSE(parseEnvAssignments({"1ABC=x"}).ok());
  EXPECT_FALSE(parseEnvAssignments({"A-B=x"}).ok());
  auto twice = parseEnvAssignments({"A=1", "A=2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("twice"), std::string::npos);
}

TEST(ParseEnvAssignments, EmptyListIsEmptyMap) {
  auto env = parseEnvAssignments({});
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->empty());
}

TEST(LoadPayload, InlineJsonIsPassedThroughUnchanged) {
  std::istringstream no_stdin;
  auto payload = loadPayload(R"({"a": [1, 2]})", no_stdin);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, R"({"a": [1, 2]})");
  EXPECT_EQ(*loadPayload("42", no_stdin), "42");
  EXPECT_EQ(*loadPayload(R"("text")", no_stdin), R"("text")");
}

TEST(LoadPayload, InvalidJsonIsAClearError) {
  std::istringstream no_stdin;
  auto payload = loadPayload("{name: 1}", no_stdin);
  ASSERT_FALSE(payload.ok());
  EXPECT_EQ(payload.error().code, ErrorCode::kInvalidRequestContent);
  EXPECT_NE(payload.error().message.find("--data"), std::string::npos);
  EXPECT_NE(payload.error().message.find("not valid JSON"), std::string::npos);
  EXPECT_FALSE(loadPayload("{} {}", no_stdin).ok());
}

TEST(LoadPayload, ReadsStdinWithAtDash) {
  std::istringstream in(R"({"from":"stdin"})");
  auto payload = loadPayload("@-", in);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, R"({"from":"stdin"})");
}

TEST(LoadPayload, ReadsFilesWithAt) {
  std::string pattern = (std::filesystem::temp_directory_path() / "nimbus-payload-XXXXXX").string();
  int fd = ::mkstemp(pattern.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(pattern) << "{\"from\": \"file\"}\n";
  std::istringstream no_stdin;
  auto payload = loadPayload("@" + pattern, no_stdin);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, "{\"from\": \"file\"}\n");

  std::ofstream(pattern) << "not json";
  auto bad = loadPayload("@" + pattern, no_stdin);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(pattern), std::string::npos);
  std::filesystem::remove(pattern);

  auto missing = loadPayload("@/nonexistent/event.json", no_stdin);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/event.json"), std::string::npos);
}

TEST(LoadPayload, BlankMeansNoPayload) {
  std::istringstream in("  \n");
  auto payload = loadPayload("@-", in);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, "");
}

}  // namespace
}  // namespace nimbus::cli
