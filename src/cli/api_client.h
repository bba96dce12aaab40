// The nimbus API client: the shared http::Client (one keep-alive connection) plus
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
#include "http/client.h"

namespace nimbus::cli {

inline constexpr const char* kDefaultEndpoint = "http://127.0.0.1:8080";

// Where the server listens. Only plain http: the CLI links no TLS stack, and a nimbus
// behind a TLS proxy is reached on its local port.
using Endpoint = http::ClientEndpoint;

// Accepts "http://host[:port][/prefix]" and the scheme-less "host[:port]".
// InvalidParameter for other schemes or malformed authorities.
inline Result<Endpoint> parseEndpoint(std::string_view url) {
  return http::parseClientEndpoint(url);
}

// Percent-encodes everything but RFC 3986 unreserved characters, so a name such as
// "f:$LATEST" becomes one path segment ("f%3A%24LATEST"), as AWS clients send it.
std::string percentEncode(std::string_view text);

using Headers = http::ClientHeaders;
using ApiResponse = http::ClientResponse;

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

  const Endpoint& endpoint() const { return client_.endpoint(); }

 private:
  Credentials credentials_;
  http::Client client_;
};

}  // namespace nimbus::cli
