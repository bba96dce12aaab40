// Shared pieces of the control API's handlers: JSON answers and 204s that carry the
// request id, and the registration of synchronous handlers with a fresh request id,
// either on the I/O thread (quick ones) or on a BlockingWorker (store queries).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

#include "base/blocking_worker.h"
#include "base/encoding.h"
#include "http/router.h"
#include "http/types.h"

namespace nimbus::control {

http::Response jsonReply(const http::Request& req, http::Status status,
                         const boost::json::value& body, const std::string& rid);
http::Response noContent(const http::Request& req, const std::string& rid);

// Registers fn(const Deps&, Request&, const RouteParams&, request_id) -> Response.
template <typename Deps, typename Fn>
void addSyncRoute(http::Router& router, std::shared_ptr<Deps> deps, http::Verb verb,
                  const char* path, Fn fn) {
  router.add(verb, path,
             [deps, fn](http::Request& req, const http::RequestInfo&,
                        const http::RouteParams& p) -> boost::asio::awaitable<http::Response> {
               co_return fn(*deps, req, p, newUuid());
             });
}

// As addSyncRoute, but fn runs on `worker`: for handlers whose store queries can take
// long enough (scans of records and logs) to stall every connection of an I/O thread.
// req and p stay valid: the handler's coroutine is suspended until fn returns.
template <typename Deps, typename Fn>
void addBlockingRoute(http::Router& router, std::shared_ptr<Deps> deps, BlockingWorker& worker,
                      http::Verb verb, const char* path, Fn fn) {
  router.add(
      verb, path,
      [deps, fn, &worker](http::Request& req, const http::RequestInfo&,
                          const http::RouteParams& p) -> boost::asio::awaitable<http::Response> {
        auto call = [&deps, &fn, &req, &p] { return fn(*deps, req, p, newUuid()); };
        http::Response res = co_await worker.run(std::move(call));
        co_return res;
      });
}

}  // namespace nimbus::control
