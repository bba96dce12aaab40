// The native queue API (docs/queues.md): named queues, their messages, replay, and the
// async visibility of a function. Store calls run on the BlockingWorker.
#include "control/queues_api.h"

#include <boost/json.hpp>
#include <charconv>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "control/api_responses.h"
#include "control/function_json.h"
#include "gateway/error_mapping.h"
#include "queue/queue_arn.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

constexpr const char* kComponent = "control";
constexpr int kMaxPeek = 1000;

Error invalid(const std::string& message) {
  return makeError(ErrorCode::kInvalidParameter, message);
}

Result<std::string> queueNameOf(const RouteParams& p) {
  const std::string& name = p.path.at("name");
  if (!queue::isValidQueueName(name)) {
    return invalid("Queue names are 1 to 80 characters of A-Z, a-z, 0-9, - and _");
  }
  return name;
}

// A query integer within [lo, hi], or `fallback` when absent.
Result<int> queryInt(const RouteParams& p, const char* key, int fallback, int lo, int hi) {
  auto it = p.query.find(key);
  if (it == p.query.end()) return fallback;
  int v = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || v < lo || v > hi) {
    return invalid(std::string(key) + " must be a whole number between " + std::to_string(lo) +
                   " and " + std::to_string(hi));
  }
  return v;
}

json::value attributesOf(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return json::object{};
  return v;
}

json::object messageJson(const store::QueueMessage& m, bool with_receipt) {
  json::object o{{"MessageId", m.message_id},
                 {"Body", m.body},
                 {"SentAt", formatIso8601Millis(m.sent_ms)},
                 {"ReceiveCount", m.receive_count},
                 {"Attributes", attributesOf(m.attributes)}};
  if (with_receipt) o["ReceiptHandle"] = m.receipt_handle;
  return o;
}

double ageSeconds(int64_t since_ms, int64_t now_ms) {
  return since_ms == 0 ? 0.0 : static_cast<double>(std::max<int64_t>(0, now_ms - since_ms)) / 1000;
}

json::object queueJson(const QueuesApiDeps& d, const store::QueueInfo& q, int64_t now_ms) {
  queue::ReplayStatus r = d.replayer.status(q.name);
  return {{"Name", q.name},
          {"Arn", queue::queueArn(d.arn, q.name)},
          {"CreatedAt", formatIso8601Millis(q.created_ms)},
          {"Depth", q.depth},
          {"Visible", q.depth - q.in_flight},
          {"InFlight", q.in_flight},
          {"OldestAgeSeconds", ageSeconds(q.oldest_sent_ms, now_ms)},
          {"Replay",
           {{"State", r.running ? "running" : "idle"},
            {"Replayed", r.replayed},
            {"Failed", r.failed},
            {"Remaining", r.remaining},
            {"Rate", r.rate}}}};
}

using Handler = asio::awaitable<Response> (*)(const QueuesApiDeps&, Request&, const RouteParams&,
                                              const std::string&);

asio::awaitable<Response> createQueue(const QueuesApiDeps& d, Request& req, const RouteParams&,
                                      const std::string& rid) {
  auto body = parseObject(req.body());
  if (!body) co_return gateway::errorResponse(req, body.error(), rid);
  auto name = optString(*body, "Name");
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  if (!*name || !queue::isValidQueueName(**name)) {
    co_return gateway::errorResponse(
        req, invalid("Name is required: 1 to 80 characters of A-Z, a-z, 0-9, - and _"), rid);
  }
  const int64_t now = d.clock.nowMillis();
  auto create = [&] { return d.queues.createQueue(**name, now); };
  if (auto ok = co_await d.worker.run(std::move(create)); !ok) {
    co_return gateway::errorResponse(req, ok.error(), rid);
  }
  log::info(kComponent, "queue created", {{"request_id", rid}, {"queue", **name}});
  co_return jsonReply(req, Status::created, queueJson(d, store::QueueInfo{**name, now}, now), rid);
}

asio::awaitable<Response> listQueues(const QueuesApiDeps& d, Request& req, const RouteParams&,
                                     const std::string& rid) {
  const int64_t now = d.clock.nowMillis();
  auto list = [&] { return d.queues.listQueues(now); };
  auto queues = co_await d.worker.run(std::move(list));
  if (!queues) co_return gateway::errorResponse(req, queues.error(), rid);
  json::array out;
  for (const auto& q : *queues) out.push_back(queueJson(d, q, now));
  co_return jsonReply(req, Status::ok, json::object{{"Queues", std::move(out)}}, rid);
}

asio::awaitable<Response> getQueue(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                   const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  const int64_t now = d.clock.nowMillis();
  auto get = [&] { return d.queues.getQueue(*name, now); };
  auto q = co_await d.worker.run(std::move(get));
  if (!q) co_return gateway::errorResponse(req, q.error(), rid);
  co_return jsonReply(req, Status::ok, queueJson(d, *q, now), rid);
}

asio::awaitable<Response> deleteQueue(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                      const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto del = [&] { return d.queues.deleteQueue(*name); };
  if (auto ok = co_await d.worker.run(std::move(del)); !ok) {
    co_return gateway::errorResponse(req, ok.error(), rid);
  }
  log::info(kComponent, "queue deleted", {{"request_id", rid}, {"queue", *name}});
  co_return noContent(req, rid);
}

asio::awaitable<Response> sendMessage(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                      const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto body = parseObject(req.body());
  if (!body) co_return gateway::errorResponse(req, body.error(), rid);
  auto text = optString(*body, "Body");
  if (!text) co_return gateway::errorResponse(req, text.error(), rid);
  if (!*text || (*text)->empty()) {
    co_return gateway::errorResponse(req, invalid("Body is required and must not be empty"), rid);
  }
  store::QueueMessage m;
  m.queue = *name;
  m.message_id = newUuid();
  m.body = std::move(**text);
  m.sent_ms = d.clock.nowMillis();
  auto send = [&] { return d.queues.sendMessage(m); };
  if (auto ok = co_await d.worker.run(std::move(send)); !ok) {
    co_return gateway::errorResponse(req, ok.error(), rid);
  }
  co_return jsonReply(req, Status::created, json::object{{"MessageId", m.message_id}}, rid);
}

asio::awaitable<Response> peekMessages(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                       const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto limit = queryInt(p, "limit", 100, 1, kMaxPeek);
  if (!limit) co_return gateway::errorResponse(req, limit.error(), rid);
  auto after_it = p.query.find("after");
  const std::string after = after_it == p.query.end() ? "" : after_it->second;
  // One more than asked tells whether another page exists.
  auto peek = [&] { return d.queues.peekMessages(*name, after, *limit + 1); };
  auto messages = co_await d.worker.run(std::move(peek));
  if (!messages) co_return gateway::errorResponse(req, messages.error(), rid);
  json::array out;
  bool more = static_cast<int>(messages->size()) > *limit;
  if (more) messages->resize(*limit);
  for (const auto& m : *messages) out.push_back(messageJson(m, false));
  json::object page{{"Messages", std::move(out)}};
  if (more) page["NextAfter"] = messages->back().message_id;
  co_return jsonReply(req, Status::ok, page, rid);
}

asio::awaitable<Response> getMessage(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                     const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  const std::string& id = p.path.at("id");
  auto get = [&] { return d.queues.getMessage(*name, id); };
  auto m = co_await d.worker.run(std::move(get));
  if (!m) co_return gateway::errorResponse(req, m.error(), rid);
  co_return jsonReply(req, Status::ok, messageJson(*m, false), rid);
}

asio::awaitable<Response> receiveMessages(const QueuesApiDeps& d, Request& req,
                                          const RouteParams& p, const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto body = parseObject(req.body());
  if (!body) co_return gateway::errorResponse(req, body.error(), rid);
  auto max = optInt(*body, "MaxMessages");
  if (!max) co_return gateway::errorResponse(req, max.error(), rid);
  auto visibility = optInt(*body, "VisibilityTimeout");
  if (!visibility) co_return gateway::errorResponse(req, visibility.error(), rid);
  const int64_t n = max->value_or(1);
  const int64_t vis = visibility->value_or(30);
  if (n < 1 || n > 10) {
    co_return gateway::errorResponse(req, invalid("MaxMessages must be between 1 and 10"), rid);
  }
  if (vis < 0 || vis > 43200) {
    co_return gateway::errorResponse(req, invalid("VisibilityTimeout must be between 0 and 43200"),
                                     rid);
  }
  auto receive = [&] {
    return d.queues.receiveMessages(*name, d.clock.nowMillis(), static_cast<int>(n), vis * 1000);
  };
  auto messages = co_await d.worker.run(std::move(receive));
  if (!messages) co_return gateway::errorResponse(req, messages.error(), rid);
  json::array out;
  for (const auto& m : *messages) out.push_back(messageJson(m, true));
  co_return jsonReply(req, Status::ok, json::object{{"Messages", std::move(out)}}, rid);
}

asio::awaitable<Response> deleteMessage(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                        const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  const std::string& id = p.path.at("id");
  auto del = [&] { return d.queues.deleteMessage(*name, id); };
  if (auto ok = co_await d.worker.run(std::move(del)); !ok) {
    co_return gateway::errorResponse(req, ok.error(), rid);
  }
  co_return noContent(req, rid);
}

asio::awaitable<Response> purgeQueue(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                     const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto purge = [&] { return d.queues.purgeQueue(*name); };
  auto n = co_await d.worker.run(std::move(purge));
  if (!n) co_return gateway::errorResponse(req, n.error(), rid);
  log::info(kComponent, "queue purged",
            {{"request_id", rid}, {"queue", *name}, {"purged", std::to_string(*n)}});
  co_return jsonReply(req, Status::ok, json::object{{"Purged", *n}}, rid);
}

asio::awaitable<Response> replayMessage(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                        const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  const std::string& id = p.path.at("id");
  auto outcome = co_await d.replayer.replayOne(*name, id);
  if (!outcome) co_return gateway::errorResponse(req, outcome.error(), rid);
  co_return jsonReply(req, Status::ok,
                      json::object{{"RequestId", outcome->request_id},
                                   {"FunctionName", outcome->function_name},
                                   {"ReplayCount", outcome->replay_count}},
                      rid);
}

asio::awaitable<Response> replayQueue(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                      const std::string& rid) {
  auto name = queueNameOf(p);
  if (!name) co_return gateway::errorResponse(req, name.error(), rid);
  auto body = parseObject(req.body());
  if (!body) co_return gateway::errorResponse(req, body.error(), rid);
  double rate = 10;
  if (auto it = body->find("Rate"); it != body->end()) {
    if (!it->value().is_number()) {
      co_return gateway::errorResponse(req, invalid("Rate must be a number"), rid);
    }
    rate = it->value().to_number<double>();
  }
  const int64_t now = d.clock.nowMillis();
  auto get = [&] { return d.queues.getQueue(*name, now); };
  auto q = co_await d.worker.run(std::move(get));
  if (!q) co_return gateway::errorResponse(req, q.error(), rid);
  if (auto ok = d.replayer.start(*name, rate); !ok) {
    co_return gateway::errorResponse(req, ok.error(), rid);
  }
  log::info(kComponent, "queue replay requested",
            {{"request_id", rid}, {"queue", *name}, {"rate", std::to_string(rate)}});
  co_return jsonReply(req, Status::accepted, queueJson(d, *q, now), rid);
}

// The async side of one function: events by status, the oldest queued one's age, the
// retries spent, and its destinations (with their depth when they are queues).
asio::awaitable<Response> asyncEvents(const QueuesApiDeps& d, Request& req, const RouteParams& p,
                                      const std::string& rid) {
  auto ref = model::parseFunctionRef(p.path.at("name"));
  if (!ref) co_return gateway::errorResponse(req, ref.error(), rid);
  const int64_t now = d.clock.nowMillis();
  struct Figures {
    std::map<std::string, int> counts;
    std::pair<int64_t, int> age_retries;
    std::vector<store::EventInvokeConfig> configs;
    std::map<std::string, int> depths;  // queue destination ARN -> depth (-1: missing)
    std::string dead_letter_target;     // the function's DeadLetterConfig, "" when none
  };
  auto read = [&]() -> Result<Figures> {
    auto fn = d.store.getFunction(ref->name, model::kLatest);
    if (!fn) {
      if (fn.error().code == ErrorCode::kNotFound) return model::functionNotFound(d.arn, ref->name);
      return fn.error();
    }
    Figures f;
    f.dead_letter_target = fn->dead_letter_target;
    auto counts = d.store.countEvents(ref->name);
    if (!counts) return counts.error();
    f.counts = std::move(*counts);
    auto ar = d.queues.eventAgeAndRetries(ref->name);
    if (!ar) return ar.error();
    f.age_retries = *ar;
    auto configs = d.store.listEventInvokeConfigs(ref->name);
    if (!configs) return configs.error();
    f.configs = std::move(*configs);
    auto addDepth = [&](const std::string& dest) {
      auto queue = queue::queueNameOfArn(dest);
      if (!queue) return;
      auto info = d.queues.getQueue(*queue, now);
      f.depths[dest] = info ? info->depth : -1;
    };
    for (const auto& c : f.configs) {
      addDepth(c.on_success);
      addDepth(c.on_failure);
    }
    addDepth(f.dead_letter_target);
    return f;
  };
  auto figures = co_await d.worker.run(std::move(read));
  if (!figures) co_return gateway::errorResponse(req, figures.error(), rid);
  json::object out{{"queued", 0}, {"running", 0}, {"done", 0}, {"dead", 0}};
  for (const auto& [status, n] : figures->counts) out[status] = n;
  out["OldestQueuedAgeSeconds"] = ageSeconds(figures->age_retries.first, now);
  out["Retries"] = figures->age_retries.second;
  auto destination = [&](const std::string& arn) {
    json::object o{{"Destination", arn}};
    if (auto it = figures->depths.find(arn); it != figures->depths.end()) {
      if (it->second < 0) {
        o["Missing"] = true;
      } else {
        o["Depth"] = it->second;
      }
    }
    return o;
  };
  const std::string qualifier = ref->qualifier.value_or(model::kLatest);
  for (const auto& c : figures->configs) {
    if (c.qualifier != qualifier) continue;
    if (!c.on_success.empty()) out["OnSuccess"] = destination(c.on_success);
    if (!c.on_failure.empty()) out["OnFailure"] = destination(c.on_failure);
  }
  if (!figures->dead_letter_target.empty()) {
    out["DeadLetterQueue"] = destination(figures->dead_letter_target);
  }
  co_return jsonReply(req, Status::ok, out, rid);
}

}  // namespace

void addQueueRoutes(http::Router& router, QueuesApiDeps deps) {
  auto d = std::make_shared<QueuesApiDeps>(deps);
  auto route = [&](http::Verb verb, const char* path, Handler fn) {
    router.add(verb, path,
               [d, fn](Request& req, const http::RequestInfo&,
                       const RouteParams& p) -> asio::awaitable<Response> {
                 const std::string rid = newUuid();
                 co_return co_await fn(*d, req, p, rid);
               });
  };
  route(http::Verb::post, "/v1/queues", createQueue);
  route(http::Verb::get, "/v1/queues", listQueues);
  route(http::Verb::get, "/v1/queues/{name}", getQueue);
  route(http::Verb::delete_, "/v1/queues/{name}", deleteQueue);
  route(http::Verb::post, "/v1/queues/{name}/messages", sendMessage);
  route(http::Verb::get, "/v1/queues/{name}/messages", peekMessages);
  route(http::Verb::delete_, "/v1/queues/{name}/messages", purgeQueue);
  route(http::Verb::get, "/v1/queues/{name}/messages/{id}", getMessage);
  route(http::Verb::delete_, "/v1/queues/{name}/messages/{id}", deleteMessage);
  route(http::Verb::post, "/v1/queues/{name}/messages/{id}/replay", replayMessage);
  route(http::Verb::post, "/v1/queues/{name}/receive", receiveMessages);
  route(http::Verb::post, "/v1/queues/{name}/replay", replayQueue);
  route(http::Verb::get, "/v1/functions/{name}/async-events", asyncEvents);
}

}  // namespace nimbus::control
