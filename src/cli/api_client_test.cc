// Tests for the API client: endpoint parsing and path encoding, and the wire behaviour
// (bearer header, keep-alive reuse, reconnecting after the server closes) against a
// small in-process HTTP server on an ephemeral port.
#include "cli/api_client.h"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>

namespace nimbus::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

TEST(ParseEndpoint, DefaultsAndForms) {
  auto plain = parseEndpoint("http://127.0.0.1:8080");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, "8080");
  EXPECT_EQ(plain->base_path, "");
  EXPECT_EQ(plain->url, "http://127.0.0.1:8080");

  auto no_port = parseEndpoint("HTTP://nimbus.local/");
  ASSERT_TRUE(no_port.ok());
  EXPECT_EQ(no_port->host, "nimbus.local");
  EXPECT_EQ(no_port->port, "80");
  EXPECT_EQ(no_port->base_path, "");

  auto prefixed = parseEndpoint("http://host:9000/api/nimbus/");
  ASSERT_TRUE(prefixed.ok());
  EXPECT_EQ(prefixed->base_path, "/api/nimbus");

  auto schemeless = parseEndpoint("localhost:8080");
  ASSERT_TRUE(schemeless.ok());
  EXPECT_EQ(schemeless->host, "localhost");
  EXPECT_EQ(schemeless->port, "8080");

  auto v6 = parseEndpoint("http://[::1]:8081");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8081");
}

TEST(ParseEndpoint, RejectsWhatItCannotServe) {
  for (const char* bad :
       {"https://host:443", "ftp://host", "http://", "http://:8080",
        "http://host:", "http://host:99999", "http://host:0", "http://host:x", "http://::1:8080",
        "http://[::1", "http://host/a?b=c", "http://user@host:1"}) {
    EXPECT_FALSE(parseEndpoint(bad).ok()) << bad;
  }
  auto tls = parseEndpoint("https://host");
  EXPECT_NE(tls.error().message.find("only http://"), std::string::npos);
}

TEST(PercentEncode, EncodesAllButUnreserved) {
  EXPECT_EQ(percentEncode("my-fn_1.x~"), "my-fn_1.x~");
  EXPECT_EQ(percentEncode("f:$LATEST"), "f%3A%24LATEST");
  EXPECT_EQ(percentEncode("arn:aws:lambda:us-east-1:123456789012:function:f"),
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af");
  EXPECT_EQ(percentEncode("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(percentEncode("\xC3\xA9"), "%C3%A9");
}

TEST(ApiResponse, HeaderLookupIgnoresCase) {
  ApiResponse response;
  response.headers = {{"X-Amzn-ErrorType", "ResourceNotFoundException"}};
  EXPECT_EQ(response.header("x-amzn-errortype"), "ResourceNotFoundException");
  EXPECT_FALSE(response.header("X-Amz-Function-Error"));
}

struct SeenRequest {
  int connection = 0;
  std::string method;
  std::string target;
  std::string host;
  std::string authorization;
  std::string content_type;
  std::string body;
  std::string extra_header;
};

// Serves `total` requests, closing each connection after `per_connection` of them.
// `close_header` announces the close with "Connection: close"; without it the server
// just hangs up, as one does when an idle keep-alive connection times out.
class FakeServer {
 public:
  FakeServer(int total, int per_connection, bool close_header)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([=, this] { serve(total, per_connection, close_header); });
  }
  ~FakeServer() { thread_.join(); }

  Endpoint endpoint() const {
    auto parsed = parseEndpoint("http://127.0.0.1:" + std::to_string(port_));
    return *parsed;
  }
  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void serve(int total, int per_connection, bool close_header) {
    int served = 0;
    int connection = 0;
    while (served < total) {
      tcp::socket socket(ioc_);
      acceptor_.accept(socket);
      ++connection;
      beast::flat_buffer buffer;
      for (int n = 0; n < per_connection && served < total; ++n) {
        http::request<http::string_body> request;
        beast::error_code ec;
        http::read(socket, buffer, request, ec);
        if (ec) break;
        {
          std::lock_guard lock(mu_);
          seen_.push_back({connection, std::string(request.method_string()),
                           std::string(request.target()), std::string(request[http::field::host]),
                           std::string(request[http::field::authorization]),
                           std::string(request[http::field::content_type]), request.body(),
                           std::string(request["X-Test"])});
        }
        ++served;
        http::response<http::string_body> response{http::status::ok, 11};
        response.set("x-amzn-RequestId", "req-" + std::to_string(served));
        response.body() = "{\"served\":" + std::to_string(served) + "}";
        bool last = n + 1 == per_connection;
        response.keep_alive(!(last && close_header));
        response.prepare_payload();
        http::write(socket, response, ec);
      }
      beast::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<SeenRequest> seen_;
};

TEST(ApiClient, SendsBearerAuthAndReusesTheConnection) {
  FakeServer server(3, 3, false);
  ApiClient client(server.endpoint(), {"AKID", "SECRET"});
  for (int i = 1; i <= 3; ++i) {
    auto response = client.send(i == 2 ? "POST" : "GET", "/2015-03-31/functions",
                                i == 2 ? "{\"a\":1}" : "", {{"X-Test", "t" + std::to_string(i)}});
    ASSERT_TRUE(response.ok()) << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "{\"served\":" + std::to_string(i) + "}");
    EXPECT_EQ(response->header("X-AMZN-REQUESTID"), "req-" + std::to_string(i));
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  for (const SeenRequest& request : seen) {
    EXPECT_EQ(request.connection, 1);
    EXPECT_EQ(request.authorization, "Bearer AKID:SECRET");
    EXPECT_EQ(request.host, "127.0.0.1:" + server.endpoint().port);
  }
  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].content_type, "application/json");
  EXPECT_EQ(seen[1].body, "{\"a\":1}");
  EXPECT_EQ(seen[0].content_type, "");
  EXPECT_EQ(seen[2].extra_header, "t3");
}

TEST(ApiClient, ReconnectsAfterTheServerHangsUpAnIdleConnection) {
  FakeServer server(3, 1, false);
  ApiClient client(server.endpoint(), {"A", "B"});
  for (int i = 1; i <= 3; ++i) {
    auto response = client.send("GET", "/healthz");
    ASSERT_TRUE(response.ok()) << i << ": " << response.error().message;
    EXPECT_EQ(response->body, "{\"served\":" + std::to_string(i) + "}");
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].connection, 3);
}

TEST(ApiClient, HonoursConnectionClose) {
  FakeServer server(2, 1, true);
  ApiClient client(server.endpoint(), {"A", "B"});
  ASSERT_TRUE(client.send("GET", "/a").ok());
  auto second = client.send("GET", "/b");
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].connection, 2);
  EXPECT_EQ(seen[1].target, "/b");
}

TEST(ApiClient, PrefixesTheBasePath) {
  FakeServer server(1, 1, false);
  Endpoint endpoint = server.endpoint();
  endpoint.base_path = "/nimbus";
  ApiClient client(endpoint, {"A", "B"});
  ASSERT_TRUE(client.send("GET", "/2015-03-31/functions/f%3A1").ok());
  EXPECT_EQ(server.seen().at(0).target, "/nimbus/2015-03-31/functions/f%3A1");
}

TEST(ApiClient, RefusedConnectionNamesTheEndpoint) {
  // Bind and release a port so nothing listens on it.
  asio::io_context ioc;
  tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::string url = "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  probe.close();

  ApiClient client(*parseEndpoint(url), {"A", "B"});
  auto response = client.send("GET", "/2015-03-31/functions");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().message.rfind("cannot reach nimbus at " + url + ": ", 0), 0u)
      << response.error().message;
}

}  // namespace
}  // namespace nimbus::cli
