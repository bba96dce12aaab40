// A small synchronous HTTP/1.1 client on Boost.Beast, shared by the CLI (the nimbus
// API) and the server (OTLP span export): one keep-alive connection to one endpoint,
// a connect timeout and an optional timeout on each request. Only plain http.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace nimbus::http {

struct ClientEndpoint {
  std::string host;       // without IPv6 brackets
  std::string port;       // "80" when the URL names none
  std::string base_path;  // "" or a prefix such as "/nimbus", never ending in '/'
  std::string url;        // as the user gave it, for messages
};

// Accepts "http://host[:port][/prefix]" and the scheme-less "host[:port]".
// InvalidParameter for other schemes or malformed authorities.
Result<ClientEndpoint> parseClientEndpoint(std::string_view url);

using ClientHeaders = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;
  ClientHeaders headers;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // Case-insensitive; the first value when repeated.
  std::optional<std::string> header(std::string_view name) const;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  // Write plus read of one request; none: wait as long as the server takes.
  std::optional<std::chrono::milliseconds> request_timeout;
  std::string user_agent = "nimbus/0.1";
  uint64_t max_response_bytes = 64ull << 20;
  std::string what = "server";  // names the peer in error messages ("nimbus", "collector")
};

// Not thread-safe: one caller at a time. Transport failures (and timeouts) come back as
// kUnavailable errors naming the endpoint; every HTTP status is a response.
class Client {
 public:
  Client(ClientEndpoint endpoint, ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  // `target` is the path and query below the endpoint's base path. A non-empty body is
  // sent with `content_type`. A kept-alive connection the server closed while idle is
  // retried once on a fresh one (the server read nothing, so nothing runs twice).
  Result<ClientResponse> send(std::string_view method, std::string_view target,
                              const std::string& body = {}, const ClientHeaders& headers = {},
                              std::string_view content_type = "application/json");

  const ClientEndpoint& endpoint() const { return endpoint_; }

 private:
  struct Connection;
  Result<ClientResponse> sendOnce(std::string_view method, std::string_view target,
                                  const std::string& body, const ClientHeaders& headers,
                                  std::string_view content_type, bool* stale);

  ClientEndpoint endpoint_;
  ClientOptions options_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace nimbus::http
