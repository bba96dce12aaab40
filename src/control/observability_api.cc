// Query parsing and JSON shaping of /v1/invocations and /v1/logs; the store does the
// filtering. Times are epoch milliseconds or RFC 3339 ("2026-11-27T10:00:00Z").
#include "control/observability_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "base/encoding.h"
#include "base/time.h"
#include "control/api_responses.h"
#include "gateway/error_mapping.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

constexpr std::string_view kTokenPrefix = "nimbus-inv:";

std::optional<int64_t> parseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Epoch milliseconds, or an RFC 3339 time (UTC, "Z").
std::optional<int64_t> parseTime(const std::string& s) {
  if (auto ms = parseInt(s)) return *ms;
  int y, mo, d, h, mi;
  double sec;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%lfZ", &y, &mo, &d, &h, &mi, &sec) != 6) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  const time_t t = ::timegm(&tm);
  return static_cast<int64_t>(t) * 1000 + static_cast<int64_t>(sec * 1000.0);
}

struct QueryReader {
  const RouteParams& p;
  std::optional<Error> error;

  std::string text(const char* key) const {
    auto it = p.query.find(key);
    return it == p.query.end() ? std::string() : it->second;
  }
  int64_t time(const char* key) {
    std::string v = text(key);
    if (v.empty()) return 0;
    auto t = parseTime(v);
    if (!t) {
      error = makeError(ErrorCode::kInvalidParameter,
                        std::string(key) + " must be epoch milliseconds or an RFC 3339 time");
      return 0;
    }
    return *t;
  }
  int integer(const char* key, int def, int lo, int hi) {
    std::string v = text(key);
    if (v.empty()) return def;
    auto n = parseInt(v);
    if (!n || *n < lo || *n > hi) {
      error = makeError(ErrorCode::kInvalidParameter,
                        std::string(key) + " must be an integer from " + std::to_string(lo) +
                            " to " + std::to_string(hi));
      return def;
    }
    return static_cast<int>(*n);
  }
};

// Accepts a plain name or a name/ARN the way the Lambda paths do.
std::string functionFilter(const std::string& given) {
  if (given.empty()) return given;
  auto ref = model::parseFunctionRef(given);
  return ref ? ref->name : given;
}

json::object recordJson(const model::InvocationRecord& r) {
  return json::object{
      {"request_id", r.request_id},
      {"function", r.function_name},
      {"version", r.version},
      {"qualifier", r.qualifier},
      {"trigger", r.trigger},
      {"start_time", formatIso8601Millis(r.start_ms)},
      {"start_ms", r.start_ms},
      {"duration_ms", r.duration_ms},
      {"billed_duration_ms", r.billed_ms},
      {"init_duration_ms", r.init_ms},
      {"cold_start", r.cold_start},
      {"instance_id", r.instance_id},
      {"max_memory_used_mb", r.max_memory_mb},
      {"memory_size_mb", r.memory_size_mb},
      {"outcome", r.outcome},
      {"error_type", r.error_type},
      {"attempt", r.attempt},
      {"trace_id", r.trace_id},
      {"correlation_id", r.correlation_id},
  };
}

Response invocations(const ObservabilityApiDeps& d, Request& req, const RouteParams& p,
                     const std::string& rid) {
  QueryReader q{p, std::nullopt};
  store::RecordQuery query;
  query.function_name = functionFilter(q.text("function"));
  query.outcome = q.text("outcome");
  query.request_id = q.text("request_id");
  query.since_ms = q.time("since");
  query.until_ms = q.time("until");
  query.limit = q.integer("limit", 50, 1, 1000);
  if (std::string next = q.text("next"); !next.empty()) {
    auto before = decodePageToken(next);
    if (!before) {
      q.error = makeError(ErrorCode::kInvalidParameter, "next is not a token nimbus issued");
    } else {
      query.before_id = *before;
    }
  }
  if (q.error) return gateway::errorResponse(req, *q.error, rid);
  if (!d.records_enabled) {
    return jsonReply(req, Status::ok,
                     json::object{{"invocations", json::array()}, {"records_enabled", false}}, rid);
  }
  auto page = d.store.queryInvocationRecords(query);
  if (!page) return gateway::errorResponse(req, page.error(), rid);
  json::array arr;
  for (const auto& r : page->records) arr.push_back(recordJson(r));
  json::object body{{"invocations", std::move(arr)}};
  if (page->next_before_id) body["next"] = encodePageToken(*page->next_before_id);
  return jsonReply(req, Status::ok, body, rid);
}

Response logs(const ObservabilityApiDeps& d, Request& req, const RouteParams& p,
              const std::string& rid) {
  QueryReader q{p, std::nullopt};
  store::LogQuery query;
  query.function_name = functionFilter(q.text("function"));
  query.request_id = q.text("request_id");
  query.since_ms = q.time("since");
  query.limit = q.integer("limit", 100, 1, 10000);
  if (std::string after = q.text("after"); !after.empty()) {
    auto n = parseInt(after);
    if (!n || *n < 0) {
      q.error = makeError(ErrorCode::kInvalidParameter, "after must be a cursor from next_after");
    } else {
      query.after_id = *n;
    }
  }
  if (q.error) return gateway::errorResponse(req, *q.error, rid);
  if (!d.records_enabled) {
    return jsonReply(
        req, Status::ok,
        json::object{
            {"events", json::array()}, {"next_after", query.after_id}, {"records_enabled", false}},
        rid);
  }
  auto lines = d.store.queryLogLines(query);
  if (!lines) return gateway::errorResponse(req, lines.error(), rid);
  json::array arr;
  int64_t next = query.after_id;
  for (const auto& l : *lines) {
    arr.push_back(json::object{{"id", l.id},
                               {"timestamp", l.timestamp_ms},
                               {"function", l.function_name},
                               {"request_id", l.request_id},
                               {"message", l.message}});
    next = std::max(next, l.id);
  }
  return jsonReply(req, Status::ok, json::object{{"events", std::move(arr)}, {"next_after", next}},
                   rid);
}

}  // namespace

// Hex, so that the token needs no escaping in a query string.
std::string encodePageToken(int64_t before_id) {
  return hexEncode(std::string(kTokenPrefix) + std::to_string(before_id));
}

std::optional<int64_t> decodePageToken(const std::string& token) {
  if (token.size() % 2 != 0 || token.size() > 128) return std::nullopt;
  std::string decoded;
  for (size_t i = 0; i < token.size(); i += 2) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(token.data() + i, token.data() + i + 2, value, 16);
    if (ec != std::errc() || p != token.data() + i + 2) return std::nullopt;
    decoded += static_cast<char>(value);
  }
  const std::optional<std::string> raw = decoded;
  if (raw->rfind(kTokenPrefix, 0) != 0) return std::nullopt;
  auto id = parseInt(std::string_view(*raw).substr(kTokenPrefix.size()));
  if (!id || *id <= 0) return std::nullopt;
  return id;
}

void addObservabilityRoutes(http::Router& router, ObservabilityApiDeps deps) {
  auto d = std::make_shared<ObservabilityApiDeps>(deps);
  addBlockingRoute(router, d, d->worker, http::Verb::get, "/v1/invocations", invocations);
  addBlockingRoute(router, d, d->worker, http::Verb::get, "/v1/logs", logs);
}

}  // namespace nimbus::control
