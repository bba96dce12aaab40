// The CLI's HTTP/1.1 client on Boost.Beast. Connects with a timeout (an unreachable host
// should not hang the terminal for minutes), then reads without one, because a
// synchronous invoke legitimately lasts as long as the function's timeout.
#include "cli/api_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>

namespace nimbus::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
// Above Lambda's 6 MB sync response limit with room for list pages and logs.
constexpr uint64_t kMaxResponseBytes = 64ull << 20;
constexpr const char* kUserAgent = "nimbus-cli/0.1";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Error badEndpoint(std::string_view url, const std::string& why) {
  return makeError(ErrorCode::kInvalidParameter,
                   "invalid endpoint \"" + std::string(url) + "\": " + why);
}

}  // namespace

Result<Endpoint> parseEndpoint(std::string_view url) {
  Endpoint endpoint;
  endpoint.url = std::string(url);
  std::string_view rest = url;
  size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string_view scheme = rest.substr(0, scheme_end);
    if (!iequals(scheme, "http")) {
      return badEndpoint(url, "only http:// is supported (got " + std::string(scheme) + "://)");
    }
    rest.remove_prefix(scheme_end + 3);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return badEndpoint(url, "query and fragment are not allowed");
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  endpoint.base_path = std::string(path);

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return badEndpoint(url, "unclosed '[' in host");
    endpoint.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return badEndpoint(url, "unexpected text after ']'");
      port = after.substr(1);
      if (port.empty()) return badEndpoint(url, "empty port");
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return badEndpoint(url, "IPv6 addresses need brackets, as in http://[::1]:8080");
    }
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return badEndpoint(url, "empty port");
    }
  }
  if (endpoint.host.empty()) return badEndpoint(url, "no host");
  if (endpoint.host.find('@') != std::string::npos) {
    return badEndpoint(url, "user info is not supported; use --access-key/--secret-key");
  }
  if (port.empty()) port = "80";
  if (!isDigits(port) || port.size() > 5 || std::stoi(std::string(port)) == 0 ||
      std::stoi(std::string(port)) > 65535) {
    return badEndpoint(url, "bad port \"" + std::string(port) + "\"");
  }
  endpoint.port = std::string(port);
  return endpoint;
}

std::string percentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> ApiResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

struct ApiClient::Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;

  beast::error_code connect(const Endpoint& endpoint) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto addresses = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) return ec;
    // Only the connect runs asynchronously: tcp_stream timeouts apply to async operations.
    stream.expires_after(kConnectTimeout);
    stream.async_connect(addresses,
                         [&ec](beast::error_code got, const tcp::endpoint&) { ec = got; });
    ioc.restart();
    ioc.run();
    stream.expires_never();
    if (ec) return ec;
    stream.socket().set_option(tcp::no_delay(true), ec);
    buffer.clear();
    open = true;
    return {};
  }

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    open = false;
  }
};

ApiClient::ApiClient(Endpoint endpoint, Credentials credentials)
    : endpoint_(std::move(endpoint)),
      credentials_(std::move(credentials)),
      connection_(std::make_unique<Connection>()) {}

ApiClient::~ApiClient() {
  if (connection_ && connection_->open) connection_->close();
}

ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient& ApiClient::operator=(ApiClient&&) noexcept = default;

Result<ApiResponse> ApiClient::send(std::string_view method, std::string_view target,
                                    std::string body, const Headers& headers) {
  bool stale = false;
  auto response = sendOnce(method, target, body, headers, &stale);
  // A kept-alive connection the server closed while idle fails before the server read
  // anything, so sending the request again on a fresh connection cannot run it twice.
  if (!response.ok() && stale) response = sendOnce(method, target, body, headers, &stale);
  return response;
}

Result<ApiResponse> ApiClient::sendOnce(std::string_view method, std::string_view target,
                                        const std::string& body, const Headers& headers,
                                        bool* stale) {
  *stale = false;
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    return makeError(ErrorCode::kInternal, "unknown HTTP method " + std::string(method));
  }
  Connection& conn = *connection_;
  bool reused = conn.open;
  if (!conn.open) {
    if (beast::error_code ec = conn.connect(endpoint_)) {
      return makeError(ErrorCode::kUnavailable,
                       "cannot reach nimbus at " + endpoint_.url + ": " + ec.message(), ec.value());
    }
  }

  http::request<http::string_body> request{verb, endpoint_.base_path + std::string(target), 11};
  bool bracket = endpoint_.host.find(':') != std::string::npos;
  std::string host = bracket ? "[" + endpoint_.host + "]" : endpoint_.host;
  if (endpoint_.port != "80") host += ":" + endpoint_.port;
  request.set(http::field::host, host);
  request.set(http::field::user_agent, kUserAgent);
  request.set(http::field::accept, "application/json");
  request.set(http::field::authorization, bearerAuthorization(credentials_));
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();

  auto lost = [&](beast::error_code ec) -> Error {
    conn.close();
    return makeError(ErrorCode::kUnavailable,
                     "lost connection to nimbus at " + endpoint_.url + ": " + ec.message(),
                     ec.value());
  };
  beast::error_code ec;
  http::write(conn.stream, request, ec);
  if (ec) {
    *stale = reused;
    return lost(ec);
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  http::read(conn.stream, conn.buffer, parser, ec);
  if (ec) {
    *stale = reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset);
    return lost(ec);
  }
  http::response<http::string_body> raw = parser.release();
  if (!raw.keep_alive()) conn.close();

  ApiResponse response;
  response.status = static_cast<int>(raw.result_int());
  for (const auto& field : raw) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(raw.body());
  return response;
}

}  // namespace nimbus::cli
