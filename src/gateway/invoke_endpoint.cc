// Invoke request parsing and response shaping, as Lambda answers.
#include "gateway/invoke_endpoint.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "gateway/error_mapping.h"
#include "gateway/gateway_span.h"

namespace nimbus::gateway {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using http::Status;

std::string logTail(const std::string& log, size_t max_bytes) {
  if (log.size() <= max_bytes) return log;
  size_t start = log.size() - max_bytes;
  // Do not start inside a UTF-8 sequence.
  while (start < log.size() && (static_cast<unsigned char>(log[start]) & 0xC0) == 0x80) ++start;
  return log.substr(start);
}

std::string correlationIdOf(std::string_view header) {
  // Taken as given when it is a sane token (it ends up in headers, logs and records).
  bool sane = !header.empty() && header.size() <= 128;
  for (char c : header) sane = sane && c > 0x20 && c < 0x7f;
  return sane ? std::string(header) : newUuid();
}

namespace {

Result<model::FunctionRef> functionRefOf(const http::RouteParams& p) {
  auto ref = model::parseFunctionRef(p.path.at("name"));
  if (!ref) return ref.error();
  auto q = p.query.find("Qualifier");
  return model::withQualifier(*ref, q == p.query.end() ? "" : q->second);
}

Result<void> checkJson(const std::string& body) {
  if (body.empty()) return {};
  boost::system::error_code ec;
  boost::json::parse(body, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidRequestContent,
                     "Could not parse request body into json: Could not parse payload into json: " +
                         ec.message());
  }
  return {};
}

// A sync answer kept under an idempotency key, and the response rebuilt from it.
std::string storedAnswer(const model::InvokeResult& r, const std::string& log_result) {
  return boost::json::serialize(boost::json::object{{"Payload", r.payload},
                                                    {"FunctionError", r.functionError()},
                                                    {"ExecutedVersion", r.executed_version},
                                                    {"LogResult", log_result}});
}

Response replayedAnswer(const Request& req, const std::string& stored,
                        const std::string& request_id) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(stored, ec);
  const boost::json::object empty;
  const boost::json::object& o = !ec && v.is_object() ? v.as_object() : empty;
  auto text = [&o](const char* key) {
    const auto* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  auto res = http::makeResponse(req, Status::ok, text("Payload"));
  res.set("x-amzn-RequestId", request_id);
  res.set(queue::kIdempotentReplayHeader, "true");
  if (!text("ExecutedVersion").empty()) res.set("X-Amz-Executed-Version", text("ExecutedVersion"));
  if (const auto* fe = o.if_contains("FunctionError");
      fe != nullptr && fe->is_bool() && fe->as_bool()) {
    res.set("X-Amz-Function-Error", "Unhandled");
  }
  if (std::string log = text("LogResult"); !log.empty() && req["X-Amz-Log-Type"] == "Tail") {
    res.set("X-Amz-Log-Result", log);
  }
  return res;
}

asio::awaitable<Response> handleInvoke(invoke::Invoker& invoker, queue::GroupCommitter& async_queue,
                                       queue::IdempotencyKeys& keys, Request& req,
                                       const http::RouteParams& params, const GatewayTrace& trace) {
  const std::string request_id = newUuid();
  auto fail = [&](const Error& e) { return errorResponse(req, e, request_id); };

  auto ref = functionRefOf(params);
  if (!ref) co_return fail(ref.error());

  std::string type(req["X-Amz-Invocation-Type"]);
  if (type.empty()) type = "RequestResponse";
  if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
    co_return fail(makeError(ErrorCode::kInvalidParameter,
                             "1 validation error detected: Value '" + type +
                                 "' at 'invocationType' failed to satisfy constraint: Member must "
                                 "satisfy enum value set: [Event, RequestResponse, DryRun]"));
  }
  std::string log_type(req["X-Amz-Log-Type"]);
  if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
    co_return fail(makeError(ErrorCode::kInvalidParameter,
                             "Value '" + log_type + "' at 'logType' failed to satisfy constraint"));
  }
  const size_t limit = type == "Event" ? kMaxAsyncPayload : kMaxSyncPayload;
  if (req.body().size() > limit) {
    co_return fail(makeError(ErrorCode::kTooLarge, "Request must be smaller than " +
                                                       std::to_string(limit) +
                                                       " bytes for the InvokeFunction operation"));
  }
  if (auto ok = checkJson(req.body()); !ok) co_return fail(ok.error());
  const bool has_key = req.find(queue::kIdempotencyHeader) != req.end();
  const std::string key(req[queue::kIdempotencyHeader]);
  if (has_key) {
    if (auto ok = queue::validateIdempotencyKey(key); !ok) co_return fail(ok.error());
  }

  model::InvokeRequest ireq;
  ireq.request_id = request_id;
  ireq.correlation_id = correlationIdOf(req["X-Correlation-Id"]);
  ireq.payload = std::move(req.body());
  std::string cc(req["X-Amz-Client-Context"]);
  if (!cc.empty()) {
    auto decoded = base64Decode(cc);
    if (!decoded || cc.size() > 3583) {
      co_return fail(makeError(ErrorCode::kInvalidParameter,
                               "Client context must be a valid Base64-encoded JSON object of at "
                               "most 3583 bytes"));
    }
    ireq.client_context = *decoded;
  }
  // The function's trace context names the gateway span as its parent (the invoker
  // puts its invoke span in between); async events keep it in the X-Ray form.
  ireq.trace_id = observability::formatXrayHeader(trace.own);
  ireq.traceparent = observability::formatTraceparent(trace.own);
  ireq.tracestate = trace.own.tracestate;

  if (type == "DryRun") {
    auto config = invoker.resolve(*ref);
    if (!config) co_return fail(config.error());
    auto res = http::makeResponse(req, Status::no_content, "", "");
    res.set("x-amzn-RequestId", request_id);
    co_return res;
  }

  if (type == "Event") {
    auto config = invoker.resolve(*ref);
    if (!config) co_return fail(config.error());
    // Durable before acknowledged: the 202 goes out only once the event is committed.
    store::AsyncEvent event;
    event.request_id = request_id;
    event.function_name = ref->name;
    event.qualifier = ref->qualifier.value_or("");
    event.payload = std::move(ireq.payload);
    event.client_context = std::move(ireq.client_context);
    event.trace_id = std::move(ireq.trace_id);
    event.tracestate = std::move(ireq.tracestate);
    event.correlation_id = ireq.correlation_id;
    event.received_ms = systemNowMillis();
    event.next_attempt_ms = event.received_ms;
    if (has_key) keys.stampAsync(event, key);
    auto committed = co_await async_queue.submit(std::move(event));
    if (!committed) co_return fail(committed.error());
    auto res = http::makeResponse(req, Status::accepted, "", "");
    // An earlier event holding the key stands for this one: its id, nothing queued.
    res.set("x-amzn-RequestId", *committed);
    if (*committed != request_id) res.set(queue::kIdempotentReplayHeader, "true");
    res.set("X-Correlation-Id", ireq.correlation_id);
    co_return res;
  }

  const std::string correlation_id = ireq.correlation_id;

  if (has_key) {
    auto claim = co_await keys.claimSync(ref->name, key, request_id);
    if (!claim) co_return fail(claim.error());
    if (claim->state == queue::SyncClaim::State::kDone) {
      log::info("gateway", "idempotent replay",
                {{"request_id", request_id},
                 {"function", ref->name},
                 {"first_request_id", claim->request_id}});
      co_return replayedAnswer(req, claim->response, claim->request_id);
    }
    if (claim->state == queue::SyncClaim::State::kInProgress) {
      co_return fail(makeError(ErrorCode::kConflict, "An invocation with idempotency key " + key +
                                                         " is still running (request " +
                                                         claim->request_id + ")"));
    }
  }
  auto result = co_await invoker.invoke(*ref, std::move(ireq));
  if (!result) {
    // Refused or failed by the platform: the function did not answer, so a retry
    // with the same key must be able to run it.
    if (has_key) {
      const std::string function = ref->name;
      auto released = co_await keys.releaseSync(function, key, request_id);
      if (!released) {
        log::error("gateway", "cannot release idempotency key",
                   {{"request_id", request_id}, {"error", released.error().message}});
      }
    }
    auto res = fail(result.error());
    res.set("X-Correlation-Id", correlation_id);
    co_return res;
  }
  const std::string log_result =
      log_type == "Tail" || has_key ? base64Encode(logTail(result->log)) : std::string();
  if (has_key) {
    const std::string function = ref->name;
    const std::string answer = storedAnswer(*result, log_result);
    auto completed = co_await keys.completeSync(function, key, answer);
    if (!completed) {
      log::error("gateway", "cannot store the idempotent answer",
                 {{"request_id", request_id}, {"error", completed.error().message}});
    }
  }
  auto res = http::makeResponse(req, Status::ok, std::move(result->payload));
  res.set("x-amzn-RequestId", request_id);
  res.set("X-Correlation-Id", correlation_id);
  res.set("X-Amz-Executed-Version", result->executed_version);
  if (result->functionError()) res.set("X-Amz-Function-Error", "Unhandled");
  if (log_type == "Tail") res.set("X-Amz-Log-Result", log_result);
  // Debug only: one line per invocation costs a write(2) on the warm path; invocation
  // records are written off the hot path, in batches.
  log::debug("gateway", "invoked",
             {{"request_id", request_id},
              {"correlation_id", correlation_id},
              {"function", ref->name},
              {"outcome", result->functionError() ? "error" : "success"},
              {"duration_ms", std::to_string(result->duration_ms)},
              {"cold", result->cold_start ? "true" : "false"}});
  co_return res;
}

}  // namespace

void addInvokeRoutes(http::Router& router, invoke::Invoker& invoker,
                     queue::GroupCommitter& async_queue, queue::IdempotencyKeys& keys) {
  router.add(
      http::Verb::post, "/2015-03-31/functions/{name}/invocations",
      [&invoker, &async_queue, &keys](Request& req, const http::RequestInfo&,
                                      const http::RouteParams& p) -> asio::awaitable<Response> {
        observability::Observer* observer = invoker.observer();
        const bool tracing = observer != nullptr && observer->tracingEnabled();
        const GatewayTrace trace = startGatewayTrace(req, tracing);
        const std::string function = p.path.at("name");
        std::string type(req["X-Amz-Invocation-Type"]);
        Response res = co_await handleInvoke(invoker, async_queue, keys, req, p, trace);
        if (tracing) {
          observer->recordSpan(
              gatewaySpan(trace, function, type.empty() ? "RequestResponse" : type, res));
        }
        co_return res;
      });
}

}  // namespace nimbus::gateway
