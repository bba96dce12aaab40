// Tests for what the verbs print: pretty JSON, the ls table, the deploy summary, API
// error descriptions and the logs page parser.
#include "cli/output.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

namespace json = boost::json;

TEST(PrettyJson, IndentsNestedValuesInOrder) {
  json::value value = json::parse(R"({"b":1,"a":{"x":[1,"two",null],"e":{},"l":[]},"s":"q\""})");
  EXPECT_EQ(prettyJson(value),
            "{\n"
            "  \"b\": 1,\n"
            "  \"a\": {\n"
            "    \"x\": [\n"
            "      1,\n"
            "      \"two\",\n"
            "      null\n"
            "    ],\n"
            "    \"e\": {},\n"
            "    \"l\": []\n"
            "  },\n"
            "  \"s\": \"q\\\"\"\n"
            "}\n");
  EXPECT_EQ(prettyJson(json::value(3)), "3\n");
}

TEST(FormatFunctionTable, AlignsColumns) {
  json::array functions = json::parse(R"([
    {"FunctionName":"hello","Runtime":"python3.11","MemorySize":128,"Timeout":3,
     "LastModified":"2024-01-01T00:00:00.000+0000"},
    {"FunctionName":"a-much-longer-name","Runtime":"provided.al2023","MemorySize":1024,
     "Timeout":900}
  ])")
                              .as_array();
  EXPECT_EQ(formatFunctionTable(functions),
            "NAME                RUNTIME          MEMORY  TIMEOUT  LAST_MODIFIED\n"
            "hello               python3.11       128     3        2024-01-01T00:00:00.000+0000\n"
            "a-much-longer-name  provided.al2023  1024    900      -\n");
}

TEST(FormatFunctionTable, HeaderOnlyWhenEmpty) {
  EXPECT_EQ(formatFunctionTable({}), "NAME  RUNTIME  MEMORY  TIMEOUT  LAST_MODIFIED\n");
}

TEST(DeploySummary, OneLine) {
  json::object config = json::parse(R"({"FunctionName":"hello","Runtime":"nodejs20.x",
      "CodeSha256":"abc=","CodeSize":321})")
                            .as_object();
  EXPECT_EQ(deploySummary(config, true),
            "created hello runtime=nodejs20.x CodeSha256=abc= CodeSize=321");
  EXPECT_EQ(deploySummary(config, false).rfind("updated hello", 0), 0u);
}

ApiResponse errorResponse(int status, Headers headers, std::string body) {
  ApiResponse response;
  response.status = status;
  response.headers = std::move(headers);
  response.body = std::move(body);
  return response;
}

TEST(DescribeApiError, HeaderTypeAndEitherMessageCase) {
  auto not_found =
      describeApiError(errorResponse(404, {{"x-amzn-ErrorType", "ResourceNotFoundException"}},
                                     R"({"Type":"User","Message":"Function not found: f"})"));
  EXPECT_EQ(not_found.type, "ResourceNotFoundException");
  EXPECT_EQ(not_found.message, "Function not found: f");

  auto invalid = describeApiError(
      errorResponse(400, {{"X-Amzn-ErrorType", "InvalidParameterValueException:http://x/"}},
                    R"({"Type":"User","message":"bad runtime"})"));
  EXPECT_EQ(invalid.type, "InvalidParameterValueException");
  EXPECT_EQ(invalid.message, "bad runtime");
}

TEST(DescribeApiError, FallsBackToBodyAndStatus) {
  auto from_body = describeApiError(
      errorResponse(409, {}, R"({"__type":"com.amazon#ResourceConflictException","message":"x"})"));
  EXPECT_EQ(from_body.type, "ResourceConflictException");

  auto user_type = describeApiError(errorResponse(400, {}, R"({"Type":"User","message":"m"})"));
  EXPECT_EQ(user_type.type, "User");

  auto proxy = describeApiError(errorResponse(502, {}, "<html>Bad Gateway</html>\n"));
  EXPECT_EQ(proxy.type, "HTTP 502");
  EXPECT_EQ(proxy.message, "<html>Bad Gateway</html>");

  auto empty = describeApiError(errorResponse(500, {}, ""));
  EXPECT_EQ(empty.type, "HTTP 500");
  EXPECT_EQ(empty.message, "(no message)");
}

TEST(ParseLogPage, MessagesAndNextSince) {
  auto page = parseLogPage(R"({"events":[
      {"timestamp":1700000000000,"request_id":"r1","message":"START\n"},
      {"timestamp":1700000000001,"request_id":"r1","message":"hello"},
      {"timestamp":1700000000002,"request_id":"r1"}],
    "next_since":1700000000003})");
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->messages, (std::vector<std::string>{"START", "hello"}));
  EXPECT_EQ(page->next_since, 1700000000003);

  auto none = parseLogPage(R"({"events":[]})");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->messages.empty());
  EXPECT_FALSE(none->next_since);

  EXPECT_FALSE(parseLogPage("[]").ok());
  EXPECT_FALSE(parseLogPage("oops").ok());
}

}  // namespace
}  // namespace nimbus::cli
