// The per-instance Lambda Runtime API (/2018-06-01/runtime/...), served on its own
// loopback port and bound to one Channel. Owns its HTTP server.
#pragma once

#include <memory>

#include "base/error.h"
#include "http/server.h"
#include "runtime_api/channel.h"

namespace nimbus::runtime_api {

class Endpoint {
 public:
  Endpoint(boost::asio::io_context& ioc, std::shared_ptr<Channel> channel, std::string log_id);
  ~Endpoint();
  // Listens on host:0 and returns "host:port" for AWS_LAMBDA_RUNTIME_API.
  Result<std::string> start(const std::string& host);
  // Serves on a listening socket made elsewhere (inside the instance's network
  // namespace); takes ownership of `fd`.
  Result<void> adopt(int fd);
  void stop();

 private:
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<http::Server> server_;
};

}  // namespace nimbus::runtime_api
