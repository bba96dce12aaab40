// Handlers of the function CRUD operations. Each validates fully before it stores.
#include "control/functions_api.h"

#include <boost/json.hpp>
#include <memory>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "control/dead_letter_target.h"
#include "control/function_json.h"
#include "gateway/error_mapping.h"

namespace nimbus::control {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Request;
using http::Response;
using http::RouteParams;
using http::Status;

namespace {

struct Api {
  FunctionsApiDeps d;

  Response ok(const Request& req, Status status, const json::value& body,
              const std::string& rid) const {
    auto res = http::makeResponse(req, status, json::serialize(body));
    res.set("x-amzn-RequestId", rid);
    return res;
  }
  Response fail(const Request& req, const Error& e, const std::string& rid) const {
    if (e.code != ErrorCode::kInternal) {
      log::info("control", "request refused",
                {{"request_id", rid}, {"error", e.message}, {"target", std::string(req.target())}});
    }
    return gateway::errorResponse(req, e, rid);
  }

  // Name from the path (name, name:qualifier or ARN), qualifier checked against the
  // query. Only $LATEST exists until versions are built.
  Result<model::FunctionRef> ref(const RouteParams& p) const {
    auto r = model::parseFunctionRef(p.path.at("name"));
    if (!r) return r.error();
    auto q = p.query.find("Qualifier");
    return model::withQualifier(*r, q == p.query.end() ? "" : q->second);
  }

  Result<model::FunctionConfig> load(const model::FunctionRef& r) const {
    auto c = d.store.getFunction(r.name, r.qualifier.value_or(model::kLatest));
    if (!c && c.error().code == ErrorCode::kNotFound) {
      return model::functionNotFound(d.arn, r.name, r.qualifier);
    }
    return c;
  }

  // A DeadLetterConfig must name an existing nimbus queue. Checked only when the
  // request sets one: a queue deleted later does not block other updates.
  Result<void> checkDeadLetter(const json::object& body, const model::FunctionConfig& c) const {
    if (!body.contains("DeadLetterConfig") || c.dead_letter_target.empty()) return {};
    if (d.dead_letter_queues == nullptr) {
      return makeError(ErrorCode::kInvalidParameter, "DeadLetterConfig is not available");
    }
    return checkDeadLetterTarget(c.dead_letter_target, *d.dead_letter_queues);
  }

  Result<store::CodeInfo> ingestZip(const json::object& code_or_body, const char* key) const {
    auto zip_b64 = optString(code_or_body, key);
    if (!zip_b64) return zip_b64.error();
    if (!*zip_b64) {
      return makeError(ErrorCode::kInvalidParameter,
                       "Please provide a source for function code (ZipFile); S3 and image "
                       "sources are not supported by nimbus.");
    }
    auto zip = base64Decode(**zip_b64);
    if (!zip) {
      return makeError(ErrorCode::kInvalidParameter,
                       "Could not unzip uploaded file. Please check your file, then try to "
                       "upload again. (ZipFile is not valid base64)");
    }
    return d.code.ingest(*zip);
  }

  Response create(Request& req, const std::string& rid) const {
    auto body = parseObject(req.body());
    if (!body) return fail(req, body.error(), rid);
    model::FunctionConfig c;
    auto name = optString(*body, "FunctionName");
    if (!name) return fail(req, name.error(), rid);
    if (!*name) {
      return fail(req, makeError(ErrorCode::kInvalidParameter, "FunctionName is required"), rid);
    }
    auto parsed = model::parseFunctionRef(**name);  // accepts an ARN, as Lambda does
    if (!parsed) return fail(req, parsed.error(), rid);
    c.name = parsed->name;
    if (auto a = applyConfiguration(*body, c); !a) return fail(req, a.error(), rid);
    if (auto v = model::validate(c); !v) return fail(req, v.error(), rid);
    if (auto dl = checkDeadLetter(*body, c); !dl) return fail(req, dl.error(), rid);
    auto code_it = body->find("Code");
    if (code_it == body->end() || !code_it->value().is_object()) {
      return fail(req, makeError(ErrorCode::kInvalidParameter, "Code is required"), rid);
    }
    auto info = ingestZip(code_it->value().as_object(), "ZipFile");
    if (!info) return fail(req, info.error(), rid);
    c.code_sha256_b64 = info->sha256_b64;
    c.code_digest_hex = info->sha256_hex;
    c.code_size = info->size;
    c.last_modified_ms = systemNowMillis();
    c.revision_id = newUuid();
    if (auto r = d.store.createFunction(c); !r) {
      if (r.error().code == ErrorCode::kConflict) {
        return fail(req, makeError(ErrorCode::kConflict, "Function already exist: " + c.name), rid);
      }
      return fail(req, r.error(), rid);
    }
    log::info("control", "function created",
              {{"request_id", rid},
               {"function", c.name},
               {"runtime", c.runtime},
               {"code_sha256", c.code_sha256_b64}});
    return ok(req, Status::created, toFunctionConfiguration(c, d.arn), rid);
  }

  Response get(Request& req, const RouteParams& p, const std::string& rid, bool full) const {
    auto r = ref(p);
    if (!r) return fail(req, r.error(), rid);
    auto c = load(*r);
    if (!c) return fail(req, c.error(), rid);
    json::object config = toFunctionConfiguration(*c, d.arn);
    if (!full) return ok(req, Status::ok, config, rid);
    json::object out;
    out["Configuration"] = std::move(config);
    out["Code"] = json::object{{"RepositoryType", "S3"}};
    if (auto reserved = d.store.getReservedConcurrency(r->name); reserved && *reserved) {
      out["Concurrency"] = json::object{{"ReservedConcurrentExecutions", **reserved}};
    }
    out["Tags"] = json::object{};
    return ok(req, Status::ok, out, rid);
  }

  Response list(Request& req, const RouteParams& p, const std::string& rid) const {
    int max_items = 50;
    if (auto it = p.query.find("MaxItems"); it != p.query.end()) {
      try {
        max_items = std::stoi(it->second);
      } catch (...) {
        max_items = -1;
      }
      if (max_items < 1 || max_items > 10000) {
        return fail(req,
                    makeError(ErrorCode::kInvalidParameter,
                              "1 validation error detected: Value '" + it->second +
                                  "' at 'maxItems' failed to satisfy constraint: Member must "
                                  "have value between 1 and 10000"),
                    rid);
      }
    }
    std::optional<std::string> marker;
    if (auto it = p.query.find("Marker"); it != p.query.end() && !it->second.empty()) {
      marker = it->second;
    }
    auto page = d.store.listFunctions(marker, max_items);
    if (!page) return fail(req, page.error(), rid);
    json::array fns;
    for (const auto& c : page->functions) fns.push_back(toFunctionConfiguration(c, d.arn));
    json::object out;
    out["Functions"] = std::move(fns);
    if (page->next_marker) out["NextMarker"] = *page->next_marker;
    return ok(req, Status::ok, out, rid);
  }

  // Reads the RevisionId precondition, when given.
  Result<void> checkRevision(const json::object& body, const model::FunctionConfig& c) const {
    auto rev = optString(body, "RevisionId");
    if (!rev) return rev.error();
    if (*rev && **rev != c.revision_id) {
      return makeError(ErrorCode::kPreconditionFailed,
                       "The Revision Id provided does not match the latest Revision Id. Call "
                       "the GetFunction/GetAlias API to retrieve the latest Revision Id");
    }
    return {};
  }

  Response saveUpdate(Request& req, model::FunctionConfig c, const std::string& rid,
                      const char* what) const {
    c.last_modified_ms = systemNowMillis();
    c.revision_id = newUuid();
    if (auto r = d.store.updateFunction(c); !r) return fail(req, r.error(), rid);
    d.pool.retire(c.name);  // no instance of the old code or configuration is reused
    log::info("control", what, {{"request_id", rid}, {"function", c.name}});
    return ok(req, Status::ok, toFunctionConfiguration(c, d.arn), rid);
  }

  Response updateCode(Request& req, const RouteParams& p, const std::string& rid) const {
    auto r = ref(p);
    if (!r) return fail(req, r.error(), rid);
    auto body = parseObject(req.body());
    if (!body) return fail(req, body.error(), rid);
    auto c = load(*r);
    if (!c) return fail(req, c.error(), rid);
    if (auto rv = checkRevision(*body, *c); !rv) return fail(req, rv.error(), rid);
    auto info = ingestZip(*body, "ZipFile");
    if (!info) return fail(req, info.error(), rid);
    if (auto it = body->find("DryRun");
        it != body->end() && it->value().is_bool() && it->value().as_bool()) {
      model::FunctionConfig preview = *c;
      preview.code_sha256_b64 = info->sha256_b64;
      preview.code_size = info->size;
      return ok(req, Status::ok, toFunctionConfiguration(preview, d.arn), rid);
    }
    c->code_sha256_b64 = info->sha256_b64;
    c->code_digest_hex = info->sha256_hex;
    c->code_size = info->size;
    return saveUpdate(req, std::move(*c), rid, "function code updated");
  }

  Response updateConfig(Request& req, const RouteParams& p, const std::string& rid) const {
    auto r = ref(p);
    if (!r) return fail(req, r.error(), rid);
    auto body = parseObject(req.body());
    if (!body) return fail(req, body.error(), rid);
    auto c = load(*r);
    if (!c) return fail(req, c.error(), rid);
    if (auto rv = checkRevision(*body, *c); !rv) return fail(req, rv.error(), rid);
    if (auto a = applyConfiguration(*body, *c); !a) return fail(req, a.error(), rid);
    if (auto v = model::validate(*c); !v) return fail(req, v.error(), rid);
    if (auto dl = checkDeadLetter(*body, *c); !dl) return fail(req, dl.error(), rid);
    return saveUpdate(req, std::move(*c), rid, "function configuration updated");
  }

  Response remove(Request& req, const RouteParams& p, const std::string& rid) const {
    auto r = ref(p);
    if (!r) return fail(req, r.error(), rid);
    if (r->qualifier && *r->qualifier != model::kLatest) {
      return fail(req, model::functionNotFound(d.arn, r->name, r->qualifier), rid);
    }
    if (auto del = d.store.deleteFunction(r->name); !del) {
      if (del.error().code == ErrorCode::kNotFound) {
        return fail(req, model::functionNotFound(d.arn, r->name), rid);
      }
      return fail(req, del.error(), rid);
    }
    d.pool.retire(r->name);
    d.pool.admission().forget(r->name);
    d.logs.drop(r->name);
    if (d.on_deleted) d.on_deleted(r->name);
    if (auto keep = d.store.referencedCodeDigests(); keep) d.code.collectGarbage(*keep);
    log::info("control", "function deleted", {{"request_id", rid}, {"function", r->name}});
    auto res = http::makeResponse(req, Status::no_content, "", "");
    res.set("x-amzn-RequestId", rid);
    return res;
  }

  Response logsOf(Request& req, const RouteParams& p, const std::string& rid) const {
    const std::string& name = p.path.at("name");
    if (!d.store.getFunction(name, model::kLatest)) {
      return fail(req, model::functionNotFound(d.arn, name), rid);
    }
    int64_t since = 0;
    size_t limit = 100;
    try {
      if (auto it = p.query.find("since"); it != p.query.end()) since = std::stoll(it->second);
      if (auto it = p.query.find("limit"); it != p.query.end()) {
        limit = static_cast<size_t>(std::clamp(std::stoll(it->second), 1LL, 10000LL));
      }
    } catch (...) {
      return fail(req, makeError(ErrorCode::kInvalidParameter, "since and limit are integers"),
                  rid);
    }
    auto events = d.logs.read(name, since, limit);
    json::array arr;
    int64_t next = since;
    for (const auto& e : events) {
      arr.push_back(json::object{
          {"timestamp", e.timestamp_ms}, {"request_id", e.request_id}, {"message", e.message}});
      next = std::max(next, e.seq);
    }
    return ok(req, Status::ok, json::object{{"events", std::move(arr)}, {"next_since", next}}, rid);
  }
};

}  // namespace

void addFunctionRoutes(http::Router& router, FunctionsApiDeps deps) {
  auto api = std::make_shared<Api>(Api{deps});
  auto route = [&](http::Verb verb, const char* path, auto fn) {
    router.add(verb, path,
               [api, fn](Request& req, const http::RequestInfo&, const RouteParams& p)
                   -> asio::awaitable<Response> { co_return fn(*api, req, p, newUuid()); });
  };
  route(http::Verb::post, "/2015-03-31/functions",
        [](const Api& a, Request& r, const RouteParams&, const std::string& id) {
          return a.create(r, id);
        });
  route(http::Verb::get, "/2015-03-31/functions",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.list(r, p, id);
        });
  route(http::Verb::get, "/2015-03-31/functions/{name}",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.get(r, p, id, true);
        });
  route(http::Verb::get, "/2015-03-31/functions/{name}/configuration",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.get(r, p, id, false);
        });
  route(http::Verb::put, "/2015-03-31/functions/{name}/configuration",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.updateConfig(r, p, id);
        });
  route(http::Verb::put, "/2015-03-31/functions/{name}/code",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.updateCode(r, p, id);
        });
  route(http::Verb::delete_, "/2015-03-31/functions/{name}",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.remove(r, p, id);
        });
  route(http::Verb::get, "/v1/functions/{name}/logs",
        [](const Api& a, Request& r, const RouteParams& p, const std::string& id) {
          return a.logsOf(r, p, id);
        });
}

}  // namespace nimbus::control
