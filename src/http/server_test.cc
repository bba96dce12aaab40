// Tests for http::Server over real loopback sockets: keep-alive, body and header limits,
// Expect: 100-continue, malformed requests, and graceful stop.
#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/one_shot.h"

namespace nimbus::http {
namespace {

using boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto kIoDeadline = 10s;

// A client on its own io_context: writes are synchronous, reads are asynchronous with a
// deadline so a server that never answers fails the test instead of hanging it.
class Client {
 public:
  explicit Client(unsigned short port) : stream_(ioc_) {
    error_code ec;
    stream_.socket().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    connect_error_ = ec;
  }
  error_code connectError() const { return connect_error_; }

  void send(std::string_view bytes) {
    error_code ec;
    asio::write(stream_.socket(), asio::buffer(bytes.data(), bytes.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
  }

  // Reads one response (a 1xx interim response counts as one).
  error_code read(Response& res) {
    res = Response{};
    error_code result;
    stream_.expires_after(kIoDeadline);
    bhttp::async_read(stream_, buffer_, res, [&](error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  // True if the server closed the connection (EOF or reset) with nothing more to read.
  bool closedByServer() {
    if (buffer_.size() > 0) return false;
    error_code result;
    char byte;
    stream_.expires_after(kIoDeadline);
    stream_.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, size_t) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result == asio::error::eof || result == asio::error::connection_reset;
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  error_code connect_error_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.header_limit = 1024;
    options.body_limit = 1024;
    options.name = "server_test";
    options.error_response = [](Status status, const std::string& message) {
      Response res{status, 11};
      res.set("X-Error-Shape", "custom");
      res.body() = "custom: " + message;
      return res;
    };
    server_ = std::make_shared<Server>(
        ioc_,
        [this](Request& req, const RequestInfo& info) -> asio::awaitable<Response> {
          ++calls_;
          if (req.target() == "/slow") co_await gate_->wait();
          co_return makeResponse(req, Status::ok,
                                 std::string(req.target()) + "|" +
                                     std::to_string(info.remote.port()) + "|" + req.body(),
                                 "text/plain");
        },
        options);
    auto bound = server_->listen({asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(bound.ok()) << bound.error().message;
    port_ = bound->port();
    ASSERT_NE(port_, 0);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    gate_->set(0);
    server_->stop();
    work_.reset();
    // Everything ends once the server closed its sockets; force it if something lingers.
    auto deadline = std::chrono::steady_clock::now() + kIoDeadline;
    while (!ioc_.stopped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_TRUE(ioc_.stopped()) << "server work left after stop()";
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  // Splits the handler's "target|remote port|body" answer.
  static std::vector<std::string> fields(const std::string& body) {
    std::vector<std::string> out;
    size_t start = 0;
    for (int i = 0; i < 2; ++i) {
      size_t bar = body.find('|', start);
      out.push_back(body.substr(start, bar - start));
      start = bar + 1;
    }
    out.push_back(body.substr(start));
    return out;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::vector<std::thread> threads_;
  std::shared_ptr<Server> server_;
  unsigned short port_ = 0;
  std::atomic<int> calls_{0};
  std::shared_ptr<OneShot<int>> gate_ = std::make_shared<OneShot<int>>();
};

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Client c(port_);
  ASSERT_FALSE(c.connectError());
  Response res;
  c.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_TRUE(res.keep_alive());
  auto first = fields(res.body());
  EXPECT_EQ(first[0], "/first");

  c.send("POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::ok);
  auto second = fields(res.body());
  EXPECT_EQ(second[0], "/second");
  EXPECT_EQ(second[2], "body");
  EXPECT_EQ(first[1], second[1]) << "the second request came from another connection";
  EXPECT_EQ(calls_, 2);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Client c(port_);
  c.send(
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(fields(res.body())[0], "/a");
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(fields(res.body())[0], "/b");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closedByServer());
}

TEST_F(ServerTest, BodyWithinLimitIsAccepted) {
  Client c(port_);
  std::string body(1024, 'b');
  c.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n" + body);
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(fields(res.body())[2], body);
}

TEST_F(ServerTest, ContentLengthOverBodyLimitGets413FromErrorResponse) {
  Client c(port_);
  // Only the header: the server must refuse on the declared length alone.
  c.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_EQ(res["X-Error-Shape"], "custom");
  EXPECT_NE(res.body().find("1024"), std::string::npos) << res.body();
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closedByServer());
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, ChunkedBodyOverBodyLimitGets413) {
  Client c(port_);
  std::string chunk(2000, 'c');
  c.send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" + chunk +
         "\r\n0\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_EQ(res["X-Error-Shape"], "custom");
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  Client c(port_);
  c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::continue_);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_EQ(calls_, 0);

  c.send("hello");
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(fields(res.body())[2], "hello");
}

TEST_F(ServerTest, ExpectContinueOverBodyLimitIsRefusedWithout100) {
  Client c(port_);
  c.send(
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_TRUE(c.closedByServer());
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, MalformedRequestLineGets400AndClose) {
  Client c(port_);
  c.send("THIS IS NOT HTTP\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::bad_request);
  EXPECT_EQ(res["X-Error-Shape"], "custom");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.closedByServer());
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, HeaderOverHeaderLimitGets431) {
  Client c(port_);
  c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'h') + "\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::request_header_fields_too_large);
  EXPECT_EQ(res["X-Error-Shape"], "custom");
  EXPECT_TRUE(c.closedByServer());
  EXPECT_EQ(calls_, 0);
}

TEST_F(ServerTest, HandlerExceptionGives500) {
  // A fresh server whose handler throws: the connection gets a 500, the server survives.
  auto throwing = std::make_shared<Server>(
      ioc_,
      [](Request&, const RequestInfo&) -> asio::awaitable<Response> {
        throw std::runtime_error("boom");
        co_return Response{};
      },
      ServerOptions{});
  auto bound = throwing->listen({asio::ip::make_address("127.0.0.1"), 0});
  ASSERT_TRUE(bound.ok());
  Client c(bound->port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  Response res;
  ASSERT_FALSE(c.read(res));
  EXPECT_EQ(res.result(), Status::internal_server_error);
  EXPECT_EQ(res.body().find("boom"), std::string::npos) << "internals leaked";
  throwing->stop();
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndRefusesNewOnes) {
  Client idle(port_);
  Response res;
  idle.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(idle.read(res));
  ASSERT_TRUE(res.keep_alive());

  server_->stop();
  EXPECT_TRUE(idle.closedByServer());

  // The acceptor closes asynchronously: poll until a connect is refused.
  auto deadline = std::chrono::steady_clock::now() + kIoDeadline;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    Client probe(port_);
    refused = probe.connectError() == asio::error::connection_refused;
  }
  EXPECT_TRUE(refused);
}

TEST_F(ServerTest, StopLetsARequestInTheHandlerFinishWithConnectionClose) {
  Client busy(port_);
  busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  auto deadline = std::chrono::steady_clock::now() + kIoDeadline;
  while (server_->inFlight() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(server_->inFlight(), 1);

  server_->stop();
  gate_->set(1);
  Response res;
  ASSERT_FALSE(busy.read(res));
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(fields(res.body())[0], "/slow");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(busy.closedByServer());
  EXPECT_EQ(server_->inFlight(), 0);
}

}  // namespace
}  // namespace nimbus::http
