// Segment-wise route matching.
#include "http/router.h"

namespace nimbus::http {
namespace {
std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (!path.empty()) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}
}  // namespace

void Router::add(Verb method, const std::string& pattern, RouteHandler handler) {
  Route r{method, {}, std::move(handler)};
  for (auto seg : splitPath(pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(Verb method, std::string_view target) const {
  Match result;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  auto segs = splitPath(path);
  for (const auto& route : routes_) {
    if (route.segments.size() != segs.size()) continue;
    RouteParams params;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const auto& pat = route.segments[i];
      if (pat.size() > 2 && pat.front() == '{' && pat.back() == '}') {
        std::string decoded;
        if (!percentDecode(segs[i], decoded)) {
          result.kind = MatchKind::kBadEncoding;
          return result;
        }
        params.path[pat.substr(1, pat.size() - 2)] = decoded;
      } else if (pat != segs[i]) {
        ok = false;
      }
    }
    if (!ok) continue;
    if (route.method != method) {
      result.kind = MatchKind::kWrongMethod;
      continue;
    }
    params.query = parseQuery(query);
    params.raw_path = std::string(path);
    result.kind = MatchKind::kMatched;
    result.handler = &route.handler;
    result.params = std::move(params);
    return result;
  }
  return result;
}

}  // namespace nimbus::http
