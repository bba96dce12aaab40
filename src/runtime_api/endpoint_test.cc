// Tests for the Runtime API endpoint over loopback HTTP, as a runtime client sees it:
// the /next long-poll and its headers, /response, /error, /init/error and refusals.
#include "runtime_api/endpoint.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "base/time.h"

namespace nimbus::runtime_api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;
constexpr const char* kNext = "/2018-06-01/runtime/invocation/next";

// A runtime-side HTTP client on its own io_context, reading with a deadline.
class RuntimeClient {
 public:
  explicit RuntimeClient(unsigned short port) : stream_(ioc_) {
    error_code ec;
    stream_.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  void send(bhttp::verb method, const std::string& target, std::string body = "",
            std::vector<std::pair<std::string, std::string>> headers = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = std::move(body);
    req.prepare_payload();
    error_code ec;
    bhttp::write(stream_.socket(), req, ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  bhttp::response<bhttp::string_body> read() {
    bhttp::response<bhttp::string_body> res;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    error_code result = asio::error::would_block;
    stream_.expires_after(kDeadline);
    bhttp::async_read(stream_, buffer_, parser, [&](error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    EXPECT_FALSE(result) << result.message();
    if (!result) res = parser.release();
    return res;
  }

  bhttp::response<bhttp::string_body> call(
      bhttp::verb method, const std::string& target, std::string body = "",
      std::vector<std::pair<std::string, std::string>> h = {}) {
    send(method, target, std::move(body), std::move(h));
    return read();
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    channel_->on_ready = [this] { ready_ = true; };
    endpoint_ = std::make_unique<Endpoint>(ioc_, channel_, "test-instance");
    auto address = endpoint_->start("127.0.0.1");
    ASSERT_TRUE(address.ok()) << address.error().message;
    ASSERT_EQ(address->rfind("127.0.0.1:", 0), 0u) << *address;
    port_ = static_cast<unsigned short>(std::stoi(address->substr(address->find(':') + 1)));
    ASSERT_NE(port_, 0);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    channel_->close();
    endpoint_.reset();  // stops the server
    work_.reset();
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!ioc_.stopped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  void waitForReady() {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!ready_ && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_TRUE(ready_) << "the runtime's /next never arrived";
  }

  RuntimeReply replyOf(const Channel::ReplySlot& slot) {
    auto f = asio::co_spawn(ioc_, slot->wait(), asio::use_future);
    if (f.wait_for(kDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "reply never arrived";
      return {};
    }
    return f.get();
  }

  static Event event(const std::string& id) {
    Event e;
    e.request_id = id;
    e.payload = R"({"key":"value"})";
    e.timeout_ms = 3000;
    e.invoked_arn = "arn:aws:lambda:us-east-1:000000000000:function:f:live";
    return e;
  }

  // Delivers an event, takes it over HTTP and returns the pool-side slot.
  Channel::ReplySlot takeOver(RuntimeClient& rt, const std::string& id) {
    auto slot = channel_->deliver(event(id));
    auto res = rt.call(bhttp::verb::get, kNext);
    EXPECT_EQ(res.result(), bhttp::status::ok);
    EXPECT_EQ(res["Lambda-Runtime-Aws-Request-Id"], id);
    return slot;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::vector<std::thread> threads_;
  std::shared_ptr<Channel> channel_ = std::make_shared<Channel>();
  std::unique_ptr<Endpoint> endpoint_;
  unsigned short port_ = 0;
  std::atomic<bool> ready_{false};
};

TEST_F(EndpointTest, NextLongPollsAndCarriesTheInvocationHeaders) {
  RuntimeClient rt(port_);
  rt.send(bhttp::verb::get, kNext);
  waitForReady();  // the GET is parked in the channel now

  Event e = event("11111111-2222-3333-4444-555555555555");
  e.trace_id = "Root=1-5e1b4151-5ac6c58f3e7e4f9a1c0b2d3e;Sampled=0";
  e.client_context = R"({"custom":{"k":"v"}})";
  e.cognito_identity = R"({"cognitoIdentityId":"id"})";
  e.correlation_id = "order-4711";
  int64_t before = systemNowMillis();
  auto slot = channel_->deliver(e);
  auto res = rt.read();
  int64_t after = systemNowMillis();

  EXPECT_EQ(res.result(), bhttp::status::ok);
  EXPECT_EQ(res.body(), R"({"key":"value"})");
  EXPECT_EQ(res["Lambda-Runtime-Aws-Request-Id"], "11111111-2222-3333-4444-555555555555");
  int64_t deadline = std::stoll(std::string(res["Lambda-Runtime-Deadline-Ms"]));
  EXPECT_GE(deadline, before + 3000);
  EXPECT_LE(deadline, after + 3000);
  EXPECT_EQ(res["Lambda-Runtime-Invoked-Function-Arn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f:live");
  EXPECT_EQ(res["Lambda-Runtime-Trace-Id"], e.trace_id);
  EXPECT_EQ(res["Lambda-Runtime-Client-Context"], e.client_context);
  EXPECT_EQ(res["Lambda-Runtime-Cognito-Identity"], e.cognito_identity);
  EXPECT_EQ(res["Lambda-Runtime-Correlation-Id"], "order-4711");
  EXPECT_FALSE(slot->isSet());
}

TEST_F(EndpointTest, OptionalHeadersAreLeftOutWhenEmpty) {
  RuntimeClient rt(port_);
  auto slot = channel_->deliver(event("r1"));
  auto res = rt.call(bhttp::verb::get, kNext);
  EXPECT_EQ(res.result(), bhttp::status::ok);
  EXPECT_EQ(res["Lambda-Runtime-Aws-Request-Id"], "r1");
  EXPECT_EQ(res.count("Lambda-Runtime-Trace-Id"), 0u);
  EXPECT_EQ(res.count("Lambda-Runtime-Client-Context"), 0u);
  EXPECT_EQ(res.count("Lambda-Runtime-Cognito-Identity"), 0u);
  EXPECT_EQ(res.count("Lambda-Runtime-Correlation-Id"), 0u);
}

TEST_F(EndpointTest, PostResponseIsAcceptedAndReachesThePool) {
  RuntimeClient rt(port_);
  auto slot = takeOver(rt, "r1");
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/r1/response",
                     R"({"answer":42})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(res.result(), bhttp::status::accepted);
  EXPECT_EQ(boost::json::parse(res.body()), boost::json::parse(R"({"status":"OK"})"));
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, RuntimeReply::Kind::kResponse);
  EXPECT_EQ(reply.body, R"({"answer":42})");
}

TEST_F(EndpointTest, PostToAnUnknownIdIs400) {
  RuntimeClient rt(port_);
  auto slot = takeOver(rt, "r1");
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/nope/response", "{}");
  EXPECT_EQ(res.result(), bhttp::status::bad_request);
  EXPECT_NE(res.body().find("InvalidRequestID"), std::string::npos) << res.body();
  res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/nope/error", "{}");
  EXPECT_EQ(res.result(), bhttp::status::bad_request);
  EXPECT_FALSE(slot->isSet());
}

TEST_F(EndpointTest, PostErrorPassesTheErrorTypeHeader) {
  RuntimeClient rt(port_);
  auto slot = takeOver(rt, "r1");
  std::string body = R"({"errorMessage":"boom","errorType":"ValueError","stackTrace":[]})";
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/r1/error", body,
                     {{"Lambda-Runtime-Function-Error-Type", "Unhandled"}});
  EXPECT_EQ(res.result(), bhttp::status::accepted);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, RuntimeReply::Kind::kError);
  EXPECT_EQ(reply.error_type, "Unhandled");
  EXPECT_EQ(reply.body, body);
}

TEST_F(EndpointTest, PostErrorWithoutHeaderIsAccepted) {
  // aws-lambda-cpp sends no error-type header.
  RuntimeClient rt(port_);
  auto slot = takeOver(rt, "r1");
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/r1/error",
                     R"({"errorMessage":"x"})");
  EXPECT_EQ(res.result(), bhttp::status::accepted);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, RuntimeReply::Kind::kError);
  EXPECT_EQ(reply.error_type, "");
}

TEST_F(EndpointTest, InitErrorIsAcceptedAndFailsTheQueuedEvent) {
  auto slot = channel_->deliver(event("r1"));
  RuntimeClient rt(port_);
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/init/error",
                     R"({"errorMessage":"cannot import","errorType":"Runtime.ImportModuleError"})",
                     {{"Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError"}});
  EXPECT_EQ(res.result(), bhttp::status::accepted);
  EXPECT_EQ(boost::json::parse(res.body()), boost::json::parse(R"({"status":"OK"})"));
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.kind, RuntimeReply::Kind::kInitError);
  EXPECT_EQ(reply.error_type, "Runtime.ImportModuleError");
  ASSERT_TRUE(channel_->initError().has_value());
}

TEST_F(EndpointTest, OversizedResponseIs413) {
  RuntimeClient rt(port_);
  auto slot = takeOver(rt, "r1");
  auto res = rt.call(bhttp::verb::post, "/2018-06-01/runtime/invocation/r1/response",
                     std::string(kMaxResponseBytes + 1, 'x'));
  EXPECT_EQ(res.result(), bhttp::status::payload_too_large);
  auto reply = replyOf(slot);
  EXPECT_EQ(reply.error_type, "Function.ResponseSizeTooLarge");
}

TEST_F(EndpointTest, UnknownPathIs404) {
  RuntimeClient rt(port_);
  auto res = rt.call(bhttp::verb::get, "/2018-06-01/runtime/nothing");
  EXPECT_EQ(res.result(), bhttp::status::not_found);
  res = rt.call(bhttp::verb::post, kNext);  // wrong method
  EXPECT_EQ(res.result(), bhttp::status::not_found);
}

TEST_F(EndpointTest, ClosingTheChannelEndsAParkedNext) {
  RuntimeClient rt(port_);
  rt.send(bhttp::verb::get, kNext);
  waitForReady();
  channel_->close();
  auto res = rt.read();
  EXPECT_EQ(res.result(), bhttp::status::internal_server_error);
  EXPECT_NE(res.body().find("Runtime.Shutdown"), std::string::npos);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(EndpointTest, OneConnectionServesAWholeInvocationCycle) {
  // Runtime clients keep one connection for /next and /response, event after event.
  RuntimeClient rt(port_);
  for (const char* id : {"a", "b", "c"}) {
    auto slot = takeOver(rt, id);
    auto res = rt.call(bhttp::verb::post,
                       std::string("/2018-06-01/runtime/invocation/") + id + "/response", id);
    EXPECT_EQ(res.result(), bhttp::status::accepted);
    EXPECT_EQ(replyOf(slot).body, id);
  }
}

}  // namespace
}  // namespace nimbus::runtime_api
