// The benchmark baseline: the smallest sensible HTTP/1.1 echo server, on the same
// Boost.Asio/Beast stack nimbus's own HTTP server uses. It answers every request
// with 200 and the request body (Content-Type: application/json), keeps connections
// alive, and runs one io_context thread (bench/run.sh pins it to the same core as
// nimbus). It stands for "an HTTP round trip and nothing else": the figure nimbus's
// invoke path is compared with.
//
// Build: g++ -O2 -std=c++20 -pthread -o echo_server echo_server.cc
// Run:   echo_server <port> [threads]      (listens on 127.0.0.1)
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

static asio::awaitable<void> session(tcp::socket socket) {
  beast::flat_buffer buffer;
  socket.set_option(tcp::no_delay(true));
  try {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(8 * 1024 * 1024);
      co_await http::async_read(socket, buffer, parser, asio::use_awaitable);
      auto req = parser.release();
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::server, "bench-echo");
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(req.body());
      res.prepare_payload();
      co_await http::async_write(socket, res, asio::use_awaitable);
      if (!res.keep_alive()) break;
    }
  } catch (const std::exception&) {
    // the client went away; nothing to report
  }
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

static asio::awaitable<void> listener(tcp::acceptor acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) continue;
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(std::move(socket)), asio::detached);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <port> [threads]\n", argv[0]);
    return 2;
  }
  const auto port = static_cast<unsigned short>(std::atoi(argv[1]));
  const int threads = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  asio::io_context ioc(threads);
  tcp::acceptor acceptor(ioc);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(ioc, listener(std::move(acceptor)), asio::detached);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto, auto) { ioc.stop(); });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
