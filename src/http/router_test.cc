// Tests for route matching (literal and {param} segments, methods, trailing slashes,
// percent-decoding) and the URL helpers in types.h (query parsing, percent coding).
#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>

#include "http/types.h"

namespace nimbus::http {
namespace {

// A handler that answers with its tag, so a test can tell which route matched.
RouteHandler tagged(std::string tag) {
  return [tag](Request& req, const RequestInfo&, const RouteParams&) -> asio::awaitable<Response> {
    co_return makeResponse(req, Status::ok, tag, "text/plain");
  };
}

std::string runHandler(const Router::Match& m) {
  if (m.handler == nullptr) return "<none>";
  asio::io_context ioc;
  Request req{Verb::get, "/", 11};
  RequestInfo info;
  auto fut = asio::co_spawn(ioc, (*m.handler)(req, info, m.params), asio::use_future);
  ioc.run();
  return fut.get().body();
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.add(Verb::get, "/2015-03-31/functions", tagged("list"));
    router_.add(Verb::post, "/2015-03-31/functions", tagged("create"));
    router_.add(Verb::get, "/2015-03-31/functions/{name}", tagged("get"));
    router_.add(Verb::delete_, "/2015-03-31/functions/{name}", tagged("delete"));
    router_.add(Verb::post, "/2015-03-31/functions/{name}/invocations", tagged("invoke"));
    router_.add(Verb::put, "/2015-03-31/functions/{name}/aliases/{alias}", tagged("alias"));
  }
  Router router_;
};

TEST_F(RouterTest, LiteralRoutesMatchByMethod) {
  auto m = router_.match(Verb::get, "/2015-03-31/functions");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "list");
  m = router_.match(Verb::post, "/2015-03-31/functions");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "create");
  EXPECT_EQ(m.params.raw_path, "/2015-03-31/functions");
  EXPECT_TRUE(m.params.path.empty());
}

TEST_F(RouterTest, CapturesParameters) {
  auto m = router_.match(Verb::put, "/2015-03-31/functions/my-fn/aliases/live");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "alias");
  EXPECT_EQ(m.params.path.at("name"), "my-fn");
  EXPECT_EQ(m.params.path.at("alias"), "live");
}

TEST_F(RouterTest, ParametersArePercentDecoded) {
  auto m = router_.match(Verb::post, "/2015-03-31/functions/f%3A%24LATEST/invocations");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "invoke");
  EXPECT_EQ(m.params.path.at("name"), "f:$LATEST");
  // raw_path keeps the bytes as received (SigV4 signs them).
  EXPECT_EQ(m.params.raw_path, "/2015-03-31/functions/f%3A%24LATEST/invocations");

  m = router_.match(Verb::get,
                    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3A"
                    "function%3Af");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(m.params.path.at("name"), "arn:aws:lambda:us-east-1:123456789012:function:f");
}

TEST_F(RouterTest, EncodedSlashDoesNotSplitASegment) {
  auto m = router_.match(Verb::get, "/2015-03-31/functions/a%2Fb");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(m.params.path.at("name"), "a/b");
}

TEST_F(RouterTest, TrailingSlashIsTolerated) {
  auto m = router_.match(Verb::get, "/2015-03-31/functions/");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "list");

  m = router_.match(Verb::get, "/2015-03-31/functions/?MaxItems=5");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(m.params.query.at("MaxItems"), "5");

  m = router_.match(Verb::get, "/2015-03-31/functions/f/");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(runHandler(m), "get");
  EXPECT_EQ(m.params.path.at("name"), "f");
}

TEST_F(RouterTest, QueryIsParsedAndDecoded) {
  auto m = router_.match(Verb::post,
                         "/2015-03-31/functions/f/invocations?Qualifier=%24LATEST&x=a+b%20c");
  ASSERT_EQ(m.kind, Router::MatchKind::kMatched);
  EXPECT_EQ(m.params.query.at("Qualifier"), "$LATEST");
  EXPECT_EQ(m.params.query.at("x"), "a b c");
  EXPECT_EQ(m.params.raw_path, "/2015-03-31/functions/f/invocations");
}

TEST_F(RouterTest, WrongMethodIsReported) {
  auto m = router_.match(Verb::patch, "/2015-03-31/functions/f");
  EXPECT_EQ(m.kind, Router::MatchKind::kWrongMethod);
  EXPECT_EQ(m.handler, nullptr);
  m = router_.match(Verb::get, "/2015-03-31/functions/f/invocations");
  EXPECT_EQ(m.kind, Router::MatchKind::kWrongMethod);
}

TEST_F(RouterTest, UnknownPathIsReported) {
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/nothing").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match(Verb::get, "/").kind, Router::MatchKind::kNoPath);
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/functions/f/invocations/extra").kind,
            Router::MatchKind::kNoPath);
  // Literal segments are compared raw: an encoded literal is a different path.
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/function%73").kind, Router::MatchKind::kNoPath);
}

TEST_F(RouterTest, BadEscapeInParameterIsReported) {
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/functions/f%zz").kind,
            Router::MatchKind::kBadEncoding);
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/functions/f%2").kind,
            Router::MatchKind::kBadEncoding);
  EXPECT_EQ(router_.match(Verb::get, "/2015-03-31/functions/f%").kind,
            Router::MatchKind::kBadEncoding);
}

TEST(ParseQuery, PlusAndPercentTwentyAreSpaces) {
  auto q = parseQuery("a=x+y&b=x%20y&c=%2B");
  EXPECT_EQ(q.at("a"), "x y");
  EXPECT_EQ(q.at("b"), "x y");
  EXPECT_EQ(q.at("c"), "+");
}

TEST(ParseQuery, KeysAreDecodedToo) {
  auto q = parseQuery("my+key=1&k%3Dx=2");
  EXPECT_EQ(q.at("my key"), "1");
  EXPECT_EQ(q.at("k=x"), "2");
}

TEST(ParseQuery, LaterDuplicatesWin) {
  auto q = parseQuery("Marker=1&Marker=2&Marker=3");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q.at("Marker"), "3");
}

TEST(ParseQuery, ToleratesGarbage) {
  auto q = parseQuery("&&=&novalue&bad=%zz&ok=1&=v&a=b=c&");
  EXPECT_EQ(q.at("novalue"), "");
  EXPECT_EQ(q.at("ok"), "1");
  EXPECT_EQ(q.at("a"), "b=c");
  EXPECT_EQ(q.count("bad"), 0u);  // a malformed escape drops the pair
  EXPECT_TRUE(parseQuery("").empty());
  EXPECT_TRUE(parseQuery("&&&").empty());
}

TEST(PercentDecode, DecodesBothCases) {
  std::string out;
  ASSERT_TRUE(percentDecode("%3a%3A%24%7e", out));
  EXPECT_EQ(out, "::$~");
  ASSERT_TRUE(percentDecode("plain+text", out));
  EXPECT_EQ(out, "plain+text");  // '+' is only a space in queries
  ASSERT_TRUE(percentDecode("", out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(percentDecode("%00", out));
  EXPECT_EQ(out, std::string(1, '\0'));
}

TEST(PercentDecode, RefusesMalformedEscapes) {
  std::string out;
  EXPECT_FALSE(percentDecode("%", out));
  EXPECT_FALSE(percentDecode("a%4", out));
  EXPECT_FALSE(percentDecode("%g0", out));
  EXPECT_FALSE(percentDecode("%0g", out));
  EXPECT_FALSE(percentDecode("ab%", out));
}

TEST(PercentEncode, KeepsUnreservedOnly) {
  EXPECT_EQ(percentEncode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(percentEncode("f:$LATEST"), "f%3A%24LATEST");
  EXPECT_EQ(percentEncode("a b/c+"), "a%20b%2Fc%2B");
  EXPECT_EQ(percentEncode("\xff\x01"), "%FF%01");
}

TEST(PercentEncode, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string encoded = percentEncode(all);
  std::string decoded;
  ASSERT_TRUE(percentDecode(encoded, decoded));
  EXPECT_EQ(decoded, all);
}

TEST(MakeResponse, CopiesVersionAndKeepAlive) {
  Request req{Verb::get, "/", 11};
  req.keep_alive(false);
  auto res = makeResponse(req, Status::created, "{}");
  EXPECT_EQ(res.result(), Status::created);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res[bhttp::field::content_length], "2");
}

}  // namespace
}  // namespace nimbus::http
