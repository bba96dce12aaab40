// Runtime API routes and their headers, as Lambda's runtime clients expect them.
#include "runtime_api/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "base/log.h"
#include "http/router.h"

namespace nimbus::runtime_api {

using http::Request;
using http::Response;
using http::Status;
namespace bhttp = http::bhttp;
namespace asio = http::asio;

namespace {
Response jsonReply(const Request& req, Status status, std::string body) {
  return http::makeResponse(req, status, std::move(body));
}

Response postReply(const Request& req, Channel::PostResult r) {
  switch (r) {
    case Channel::PostResult::kAccepted:
      return jsonReply(req, Status::accepted, R"({"status":"OK"})");
    case Channel::PostResult::kTooLarge:
      return jsonReply(
          req, Status::payload_too_large,
          R"({"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",)"
          R"("errorType":"RequestEntityTooLarge"})");
    case Channel::PostResult::kUnknownRequest:
      break;
  }
  return jsonReply(req, Status::bad_request,
                   R"({"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"})");
}

std::string errorTypeHeader(const Request& req) {
  return std::string(req["Lambda-Runtime-Function-Error-Type"]);
}

std::shared_ptr<http::Router> makeRouter(std::shared_ptr<Channel> ch) {
  auto router = std::make_shared<http::Router>();
  router->add(http::Verb::get, "/2018-06-01/runtime/invocation/next",
              [ch](Request& req, const http::RequestInfo&,
                   const http::RouteParams&) -> asio::awaitable<Response> {
                auto event = co_await ch->next();
                if (!event) {
                  auto res = jsonReply(req, Status::internal_server_error,
                                       R"({"errorMessage":"Instance is shutting down",)"
                                       R"("errorType":"Runtime.Shutdown"})");
                  res.keep_alive(false);
                  co_return res;
                }
                auto res = http::makeResponse(req, Status::ok, std::move(event->payload));
                res.set("Lambda-Runtime-Aws-Request-Id", event->request_id);
                res.set("Lambda-Runtime-Deadline-Ms", std::to_string(event->deadline_ms));
                res.set("Lambda-Runtime-Invoked-Function-Arn", event->invoked_arn);
                if (!event->trace_id.empty()) res.set("Lambda-Runtime-Trace-Id", event->trace_id);
                if (!event->traceparent.empty()) {
                  res.set("Lambda-Runtime-Traceparent", event->traceparent);
                }
                if (!event->tracestate.empty()) {
                  res.set("Lambda-Runtime-Tracestate", event->tracestate);
                }
                if (!event->correlation_id.empty()) {
                  res.set("Lambda-Runtime-Correlation-Id", event->correlation_id);
                }
                if (!event->client_context.empty()) {
                  res.set("Lambda-Runtime-Client-Context", event->client_context);
                }
                if (!event->cognito_identity.empty()) {
                  res.set("Lambda-Runtime-Cognito-Identity", event->cognito_identity);
                }
                co_return res;
              });
  router->add(http::Verb::post, "/2018-06-01/runtime/invocation/{id}/response",
              [ch](Request& req, const http::RequestInfo&,
                   const http::RouteParams& p) -> asio::awaitable<Response> {
                co_return postReply(req, ch->postResponse(p.path.at("id"), std::move(req.body())));
              });
  router->add(http::Verb::post, "/2018-06-01/runtime/invocation/{id}/error",
              [ch](Request& req, const http::RequestInfo&,
                   const http::RouteParams& p) -> asio::awaitable<Response> {
                co_return postReply(req, ch->postError(p.path.at("id"), errorTypeHeader(req),
                                                       std::move(req.body())));
              });
  router->add(http::Verb::post, "/2018-06-01/runtime/init/error",
              [ch](Request& req, const http::RequestInfo&,
                   const http::RouteParams&) -> asio::awaitable<Response> {
                ch->postInitError(errorTypeHeader(req), std::move(req.body()));
                co_return jsonReply(req, Status::accepted, R"({"status":"OK"})");
              });
  return router;
}
}  // namespace

Endpoint::Endpoint(asio::io_context& ioc, std::shared_ptr<Channel> channel, std::string log_id)
    : channel_(std::move(channel)) {
  auto router = makeRouter(channel_);
  http::ServerOptions options;
  options.name = "runtime_api";
  options.body_limit = kMaxResponseBytes + 1024 * 1024;
  options.idle_timeout = std::chrono::hours(24);  // a parked runtime may idle for long
  // A runtime needs one or two connections; more is a function hoarding the server's
  // descriptors (each instance is untrusted code).
  options.max_connections = 8;
  options.read_timeout = std::chrono::seconds(60);
  options.error_response = [](Status status, const std::string& message) {
    Response res{status, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = boost::json::serialize(
        boost::json::object{{"errorMessage", message}, {"errorType", "InvalidRequest"}});
    return res;
  };
  server_ = std::make_shared<http::Server>(
      ioc,
      [router, log_id](Request& req, const http::RequestInfo& info) -> asio::awaitable<Response> {
        auto m = router->match(req.method(), req.target());
        if (m.kind == http::Router::MatchKind::kMatched) {
          co_return co_await (*m.handler)(req, info, m.params);
        }
        log::warn("runtime_api", "unknown runtime API call",
                  {{"instance", log_id}, {"target", std::string(req.target())}});
        co_return http::makeResponse(
            req, Status::not_found,
            R"({"errorMessage":"Unknown Runtime API path","errorType":"NotFound"})");
      },
      options);
}

Endpoint::~Endpoint() { stop(); }

Result<std::string> Endpoint::start(const std::string& host) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return makeError(ErrorCode::kInternal, "bad runtime API host " + host);
  auto bound = server_->listen({addr, 0});
  if (!bound) return bound.error();
  return host + ":" + std::to_string(bound->port());
}

Result<void> Endpoint::adopt(int fd) {
  auto bound = server_->adopt(fd);
  if (!bound) return bound.error();
  return {};
}

void Endpoint::stop() {
  if (server_) server_->stop();
}

}  // namespace nimbus::runtime_api
