// The shared HTTP/1.1 client on Boost.Beast. Every step runs asynchronously on a private
// io_context, so that tcp_stream's timeouts apply: the connect always has one, a request
// has one when the options give it (the CLI's invoke legitimately lasts as long as the
// function's timeout; a span export must not).
#include "http/client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>

namespace nimbus::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

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

Result<ClientEndpoint> parseClientEndpoint(std::string_view url) {
  ClientEndpoint endpoint;
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

std::optional<std::string> ClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

struct Client::Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool open = false;

  // Runs what was started on the private io_context to completion.
  void run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect(const ClientEndpoint& endpoint, std::chrono::milliseconds timeout) {
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto addresses = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) return ec;
    stream.expires_after(timeout);
    stream.async_connect(addresses,
                         [&ec](beast::error_code got, const tcp::endpoint&) { ec = got; });
    run();
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

Client::Client(ClientEndpoint endpoint, ClientOptions options)
    : endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      connection_(std::make_unique<Connection>()) {}

Client::~Client() {
  if (connection_ && connection_->open) connection_->close();
}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<ClientResponse> Client::send(std::string_view method, std::string_view target,
                                    const std::string& body, const ClientHeaders& headers,
                                    std::string_view content_type) {
  bool stale = false;
  auto response = sendOnce(method, target, body, headers, content_type, &stale);
  if (!response.ok() && stale) {
    response = sendOnce(method, target, body, headers, content_type, &stale);
  }
  return response;
}

Result<ClientResponse> Client::sendOnce(std::string_view method, std::string_view target,
                                        const std::string& body, const ClientHeaders& headers,
                                        std::string_view content_type, bool* stale) {
  *stale = false;
  bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    return makeError(ErrorCode::kInternal, "unknown HTTP method " + std::string(method));
  }
  Connection& conn = *connection_;
  bool reused = conn.open;
  if (!conn.open) {
    if (beast::error_code ec = conn.connect(endpoint_, options_.connect_timeout)) {
      return makeError(
          ErrorCode::kUnavailable,
          "cannot reach " + options_.what + " at " + endpoint_.url + ": " + ec.message(),
          ec.value());
    }
  }

  bhttp::request<bhttp::string_body> request{verb, endpoint_.base_path + std::string(target), 11};
  bool bracket = endpoint_.host.find(':') != std::string::npos;
  std::string host = bracket ? "[" + endpoint_.host + "]" : endpoint_.host;
  if (endpoint_.port != "80") host += ":" + endpoint_.port;
  request.set(bhttp::field::host, host);
  request.set(bhttp::field::user_agent, options_.user_agent);
  request.set(bhttp::field::accept, "application/json");
  if (!body.empty()) request.set(bhttp::field::content_type, content_type);
  for (const auto& [name, value] : headers) request.set(name, value);
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();

  auto lost = [&](beast::error_code ec) -> Error {
    conn.close();
    return makeError(
        ErrorCode::kUnavailable,
        "lost connection to " + options_.what + " at " + endpoint_.url + ": " + ec.message(),
        ec.value());
  };
  if (options_.request_timeout) {
    conn.stream.expires_after(*options_.request_timeout);
  } else {
    conn.stream.expires_never();
  }
  beast::error_code ec;
  bhttp::async_write(conn.stream, request, [&ec](beast::error_code got, std::size_t) { ec = got; });
  conn.run();
  if (ec) {
    *stale = reused && ec != beast::error::timeout;
    return lost(ec);
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  bhttp::async_read(conn.stream, conn.buffer, parser,
                    [&ec](beast::error_code got, std::size_t) { ec = got; });
  conn.run();
  conn.stream.expires_never();
  if (ec) {
    *stale = reused && (ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset);
    return lost(ec);
  }
  bhttp::response<bhttp::string_body> raw = parser.release();
  if (!raw.keep_alive()) conn.close();

  ClientResponse response;
  response.status = static_cast<int>(raw.result_int());
  for (const auto& field : raw) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(raw.body());
  return response;
}

}  // namespace nimbus::http
