// An HTTP/1.1 server on Boost.Asio/Beast with C++20 coroutines: keep-alive, header and
// body limits, Expect: 100-continue, read and idle timeouts, graceful stop. One
// session coroutine per connection, each on its own strand. No FaaS knowledge.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>

#include "base/error.h"
#include "http/types.h"

namespace nimbus::http {

struct ServerOptions {
  size_t header_limit = 64 * 1024;
  size_t body_limit = 8 * 1024 * 1024;
  std::chrono::seconds read_timeout{60};   // to receive a whole request once it started
  std::chrono::seconds idle_timeout{120};  // between requests on a kept-alive connection
  std::string name = "http";               // component name in logs
  size_t max_connections = 0;              // open connections at once; 0: no limit
  // Builds the response for errors the server detects itself (malformed request, body
  // too large), so callers can give them their own error shape.
  std::function<Response(Status, const std::string& message)> error_response;
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(asio::io_context& ioc, Handler handler, ServerOptions options);
  ~Server();

  // Binds and starts accepting. Port 0 picks a free port; the bound endpoint is returned.
  Result<asio::ip::tcp::endpoint> listen(const asio::ip::tcp::endpoint& endpoint);
  // Starts accepting on an already listening IPv4 TCP socket (e.g. one created inside
  // another network namespace); takes ownership of `fd`.
  Result<asio::ip::tcp::endpoint> adopt(int fd);
  // Stops accepting and closes idle connections; requests already in a handler finish
  // and are answered with Connection: close. Thread-safe.
  void stop();
  // Number of requests currently inside the handler.
  int inFlight() const { return in_flight_.load(); }

 public:
  struct Connection;

 private:
  asio::awaitable<void> acceptLoop();
  asio::awaitable<void> session(std::shared_ptr<Connection> conn);
  asio::awaitable<bool> serveOne(Connection& conn, beast::flat_buffer& buffer);
  Response errorResponse(Status status, const std::string& message, unsigned version);

  asio::io_context& ioc_;
  Handler handler_;
  ServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0};
  int64_t last_accept_warning_ms_ = 0;  // acceptor strand only
  std::mutex conns_mutex_;
  std::set<std::shared_ptr<Connection>> conns_;
};

}  // namespace nimbus::http
