// Invoke request parsing and response shaping, as Lambda answers.
#include "gateway/invoke_endpoint.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "gateway/error_mapping.h"

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

std::string newTraceId() {
  char secs[16];
  std::snprintf(secs, sizeof secs, "%08llx",
                static_cast<unsigned long long>(systemNowMillis() / 1000));
  return std::string("Root=1-") + secs + "-" + hexEncode(randomBytes(12)) +
         ";Parent=" + hexEncode(randomBytes(8)) + ";Sampled=0";
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

asio::awaitable<Response> handleInvoke(invoke::Invoker& invoker, queue::GroupCommitter& async_queue,
                                       Request& req, const http::RouteParams& params) {
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
  ireq.trace_id = std::string(req["X-Amzn-Trace-Id"]);
  if (ireq.trace_id.empty()) ireq.trace_id = newTraceId();

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
    event.received_ms = systemNowMillis();
    event.next_attempt_ms = event.received_ms;
    auto committed = co_await async_queue.submit(std::move(event));
    if (!committed) co_return fail(committed.error());
    auto res = http::makeResponse(req, Status::accepted, "", "");
    res.set("x-amzn-RequestId", request_id);
    res.set("X-Correlation-Id", ireq.correlation_id);
    co_return res;
  }

  const std::string correlation_id = ireq.correlation_id;
  auto result = co_await invoker.invoke(*ref, std::move(ireq));
  if (!result) {
    auto res = fail(result.error());
    res.set("X-Correlation-Id", correlation_id);
    co_return res;
  }
  auto res = http::makeResponse(req, Status::ok, std::move(result->payload));
  res.set("x-amzn-RequestId", request_id);
  res.set("X-Correlation-Id", correlation_id);
  res.set("X-Amz-Executed-Version", result->executed_version);
  if (result->functionError()) res.set("X-Amz-Function-Error", "Unhandled");
  if (log_type == "Tail") res.set("X-Amz-Log-Result", base64Encode(logTail(result->log)));
  log::info("gateway", "invoked",
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
                     queue::GroupCommitter& async_queue) {
  router.add(http::Verb::post, "/2015-03-31/functions/{name}/invocations",
             [&invoker, &async_queue](Request& req, const http::RequestInfo&,
                                      const http::RouteParams& p) -> asio::awaitable<Response> {
               co_return co_await handleInvoke(invoker, async_queue, req, p);
             });
}

}  // namespace nimbus::gateway
