// A routing table: method + path pattern ("/2015-03-31/functions/{name}/invocations")
// to a handler. Patterns match raw (still percent-encoded) path segments; captured
// parameters are handed over decoded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "http/types.h"

namespace nimbus::http {

struct RouteParams {
  std::map<std::string, std::string> path;   // decoded {param} values
  std::map<std::string, std::string> query;  // decoded query parameters
  std::string raw_path;                      // path as received, without the query
};

using RouteHandler =
    std::function<asio::awaitable<Response>(Request&, const RequestInfo&, const RouteParams&)>;

class Router {
 public:
  // A trailing "/" in a request path is ignored (the AWS CLI adds one to ListFunctions).
  void add(Verb method, const std::string& pattern, RouteHandler handler);

  enum class MatchKind { kMatched, kNoPath, kWrongMethod, kBadEncoding };
  struct Match {
    MatchKind kind = MatchKind::kNoPath;
    const RouteHandler* handler = nullptr;
    RouteParams params;
  };
  Match match(Verb method, std::string_view target) const;

 private:
  struct Route {
    Verb method;
    std::vector<std::string> segments;  // "{x}" captures
    RouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace nimbus::http
