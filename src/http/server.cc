// HTTP/1.1 session handling. Errors on one connection never reach another: every
// failure ends in a logged close, never an exception out of the coroutine.
#include "http/server.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include "base/log.h"
#include "base/time.h"

namespace nimbus::http {

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
}

// One connection: its socket and a deadline that a watchdog coroutine enforces by
// closing the socket. (Plain sockets: Boost 1.81's beast::basic_stream timeouts
// corrupted strand reference counts under our coroutine usage.)
struct Server::Connection {
  explicit Connection(asio::ip::tcp::socket s)
      : socket(std::move(s)), timer(socket.get_executor()) {}
  asio::ip::tcp::socket socket;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::atomic<bool> in_handler{false};
  std::optional<RequestInfo> info;  // the endpoints, read once per connection

  // Strand-only, like every member.
  template <typename Duration>
  void expiresAfter(Duration d) {
    deadline = std::chrono::steady_clock::now() + d;
    timer.cancel();
  }
  void expiresNever() { deadline = std::chrono::steady_clock::time_point::max(); }
  void close() {
    boost::system::error_code ec;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket.close(ec);
    timer.cancel();
  }
};

namespace {
asio::awaitable<void> watchdog(std::shared_ptr<Server::Connection> conn) {
  while (conn->socket.is_open()) {
    conn->timer.expires_at(conn->deadline);
    co_await conn->timer.async_wait(kTuple);
    if (conn->socket.is_open() && conn->deadline <= std::chrono::steady_clock::now()) {
      conn->close();
    }
  }
}
}  // namespace

Server::Server(asio::io_context& ioc, Handler handler, ServerOptions options)
    : ioc_(ioc),
      handler_(std::move(handler)),
      options_(std::move(options)),
      acceptor_(asio::make_strand(ioc)) {}

Server::~Server() = default;

Result<asio::ip::tcp::endpoint> Server::listen(const asio::ip::tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return makeError(ErrorCode::kInternal,
                     "listen on " + endpoint.address().to_string() + ":" +
                         std::to_string(endpoint.port()) + ": " + ec.message(),
                     ec.value());
  }
  auto bound = acceptor_.local_endpoint(ec);
  asio::co_spawn(acceptor_.get_executor(), acceptLoop(), asio::detached);
  return bound;
}

Result<asio::ip::tcp::endpoint> Server::adopt(int fd) {
  boost::system::error_code ec;
  acceptor_.assign(asio::ip::tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return makeError(ErrorCode::kInternal, "adopt listening socket: " + ec.message(), ec.value());
  }
  auto bound = acceptor_.local_endpoint(ec);
  asio::co_spawn(acceptor_.get_executor(), acceptLoop(), asio::detached);
  return bound;
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
  std::lock_guard lock(conns_mutex_);
  for (const auto& conn : conns_) {
    asio::post(conn->socket.get_executor(), [conn] {
      if (!conn->in_handler) conn->close();
    });
  }
}

asio::awaitable<void> Server::acceptLoop() {
  auto self = shared_from_this();
  while (!stopping_) {
    // Named, not a temporary inside co_await: GCC 12 can destroy such temporaries twice.
    auto strand = asio::make_strand(ioc_);
    auto [ec, socket] = co_await acceptor_.async_accept(strand, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) break;
      // Out of descriptors (EMFILE/ENFILE) or another transient failure: the pending
      // connection stays queued, so retrying at once would spin. Pause, log sparingly.
      if (steadyNowMillis() - last_accept_warning_ms_ > 1000) {
        last_accept_warning_ms_ = steadyNowMillis();
        log::warn(options_.name, "accept failed; pausing", {{"error", ec.message()}});
      }
      asio::steady_timer pause(ioc_);
      pause.expires_after(std::chrono::milliseconds(100));
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (options_.max_connections > 0) {
      std::lock_guard lock(conns_mutex_);
      if (conns_.size() >= options_.max_connections) {
        boost::system::error_code close_ec;
        socket.close(close_ec);
        if (steadyNowMillis() - last_accept_warning_ms_ > 1000) {
          last_accept_warning_ms_ = steadyNowMillis();
          log::warn(options_.name, "connection refused: too many open connections",
                    {{"limit", std::to_string(options_.max_connections)}});
        }
        continue;
      }
    }
    boost::system::error_code nd_ec;
    socket.set_option(asio::ip::tcp::no_delay(true), nd_ec);
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(conns_mutex_);
      conns_.insert(conn);
    }
    asio::co_spawn(conn->socket.get_executor(), watchdog(conn), asio::detached);
    asio::co_spawn(conn->socket.get_executor(), session(conn), asio::detached);
  }
}

asio::awaitable<void> Server::session(std::shared_ptr<Connection> conn) {
  auto self = shared_from_this();
  beast::flat_buffer buffer;
  try {
    while (!stopping_ && co_await serveOne(*conn, buffer)) {
    }
  } catch (const std::exception& e) {
    log::error(options_.name, "session failed", {{"error", e.what()}});
  }
  conn->close();
  std::lock_guard lock(conns_mutex_);
  conns_.erase(conn);
}

Response Server::errorResponse(Status status, const std::string& message, unsigned version) {
  Response res;
  if (options_.error_response) {
    res = options_.error_response(status, message);
  } else {
    res.result(status);
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = message;
  }
  res.version(version);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

// Reads, handles and answers one request; returns whether to keep the connection.
asio::awaitable<bool> Server::serveOne(Connection& conn, beast::flat_buffer& buffer) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options_.header_limit));
  parser.body_limit(options_.body_limit);

  conn.expiresAfter(options_.idle_timeout);
  auto [hec, hn] = co_await bhttp::async_read_header(conn.socket, buffer, parser, kTuple);
  if (hec) {
    if (hec == bhttp::error::end_of_stream || hec == asio::error::operation_aborted ||
        hec == asio::error::bad_descriptor || hec == asio::error::connection_reset ||
        hec == asio::error::eof) {
      co_return false;
    }
    // Beast checks a declared Content-Length against body_limit while parsing the
    // header, so an oversized body (with or without Expect: 100-continue) ends up here.
    Response res;
    if (hec == bhttp::error::body_limit) {
      res = errorResponse(
          Status::payload_too_large,
          "Request must be smaller than " + std::to_string(options_.body_limit) + " bytes", 11);
    } else {
      auto status = hec == bhttp::error::header_limit ? Status::request_header_fields_too_large
                                                      : Status::bad_request;
      log::info(options_.name, "malformed request", {{"error", hec.message()}});
      res = errorResponse(status, "Malformed HTTP request: " + hec.message(), 11);
    }
    conn.expiresAfter(std::chrono::seconds(5));
    co_await bhttp::async_write(conn.socket, res, kTuple);
    co_return false;
  }

  auto& header = parser.get();
  if (beast::iequals(header[bhttp::field::expect], "100-continue")) {
    if (parser.content_length() && *parser.content_length() > options_.body_limit) {
      // Refuse before the client sends the body at all.
      auto res = errorResponse(
          Status::payload_too_large,
          "Request must be smaller than " + std::to_string(options_.body_limit) + " bytes",
          header.version());
      co_await bhttp::async_write(conn.socket, res, kTuple);
      co_return false;
    }
    bhttp::response<bhttp::empty_body> cont{Status::continue_, header.version()};
    auto [cec, cn] = co_await bhttp::async_write(conn.socket, cont, kTuple);
    if (cec) co_return false;
  }

  conn.expiresAfter(options_.read_timeout);
  auto [bec, bn] = co_await bhttp::async_read(conn.socket, buffer, parser, kTuple);
  if (bec) {
    if (bec == bhttp::error::body_limit) {
      auto res = errorResponse(
          Status::payload_too_large,
          "Request must be smaller than " + std::to_string(options_.body_limit) + " bytes",
          header.version());
      co_await bhttp::async_write(conn.socket, res, kTuple);
      co_return false;
    }
    if (bec == bhttp::error::partial_message || bec == asio::error::bad_descriptor ||
        bec == asio::error::eof || bec == asio::error::connection_reset ||
        bec == asio::error::operation_aborted) {
      co_return false;
    }
    log::info(options_.name, "malformed request body", {{"error", bec.message()}});
    auto res = errorResponse(Status::bad_request, "Malformed HTTP request: " + bec.message(),
                             header.version());
    co_await bhttp::async_write(conn.socket, res, kTuple);
    co_return false;
  }

  Request req = parser.release();
  if (!conn.info) {
    boost::system::error_code ec;
    conn.info.emplace();
    conn.info->remote = conn.socket.remote_endpoint(ec);
    conn.info->local = conn.socket.local_endpoint(ec);
  }
  const RequestInfo& info = *conn.info;

  // The handler may wait for a long time (Runtime API long-poll, a 15-minute
  // invocation): no I/O deadline while it runs.
  conn.expiresNever();
  conn.in_handler = true;
  ++in_flight_;
  Response res;
  try {
    res = co_await handler_(req, info);
  } catch (const std::exception& e) {
    log::error(options_.name, "handler threw", {{"error", e.what()}});
    res = errorResponse(Status::internal_server_error, "Internal error", req.version());
  }
  --in_flight_;
  conn.in_handler = false;

  bool keep = req.keep_alive() && res.keep_alive() && !stopping_;
  res.keep_alive(keep);
  conn.expiresAfter(options_.read_timeout);
  auto [wec, wn] = co_await bhttp::async_write(conn.socket, res, kTuple);
  co_return !wec && keep;
}

}  // namespace nimbus::http
