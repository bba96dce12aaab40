// Shared pieces of the control API's handlers: JSON answers and 204s that carry the
// request id, and the registration of synchronous handlers with a fresh request id.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

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

}  // namespace nimbus::control
