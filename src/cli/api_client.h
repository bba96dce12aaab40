// A small synchronous HTTP/1.1 client for the nimbus API: one keep-alive connection,
// bearer authentication, and the endpoint/URL helpers the verbs build paths with.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "cli/credentials.h"

namespace nimbus::cli {

inline constexpr const char* kDefaultEndpoint = "http://127.0.0.1:8080";

// Where the server listens. Only plain http: the CLI links no TLS stack, and a nimbus
// behind a TLS proxy is reached on its local port.
struct Endpoint {
  std::string host;       // without IPv6 brackets
  std::string port;       // "80" when the URL names none
  std::string base_path;  // "" or a prefix such as "/nimbus", never ending in '/'
  std::string url;        // as the user gave it, for messages
};

// Accepts "http://host[:port][/prefix]" and the scheme-less "host[:port]".
// InvalidParameter for other schemes or malformed authorities.
Result<Endpoint> parseEndpoint(std::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters, so a name such as
// "f:$LATEST" becomes one path segment ("f%3A%24LATEST"), as AWS clients send it.
std::string percentEncode(std::string_view text);

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ApiResponse {
  int status = 0;
  Headers headers;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // Case-insensitive; the first value when repeated.
  std::optional<std::string> header(std::string_view name) const;
};

// Owns one connection, reused across calls while the server keeps it alive. Not
// thread-safe: one verb on one thread uses it. Transport failures come back as
// kUnavailable errors whose message names the endpoint; every HTTP status, including
// 4xx/5xx, is a response.
class ApiClient {
 public:
  ApiClient(Endpoint endpoint, Credentials credentials);
  ~ApiClient();
  ApiClient(ApiClient&&) noexcept;
  ApiClient& operator=(ApiClient&&) noexcept;

  // `target` is the path and query below the endpoint's base path. A non-empty body is
  // sent as application/json.
  Result<ApiResponse> send(std::string_view method, std::string_view target, std::string body = {},
                           const Headers& headers = {});

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  struct Connection;

  Result<ApiResponse> sendOnce(std::string_view method, std::string_view target,
                               const std::string& body, const Headers& headers, bool* stale);

  Endpoint endpoint_;
  Credentials credentials_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace nimbus::cli
