// FunctionConfiguration serialisation and request-member parsing.
#include "control/function_json.h"

#include "base/time.h"

namespace nimbus::control {

namespace json = boost::json;

json::object toFunctionConfiguration(const model::FunctionConfig& c, const model::ArnContext& arn) {
  json::object o;
  o["FunctionName"] = c.name;
  o["FunctionArn"] = model::functionArn(
      arn, c.name,
      c.version == model::kLatest ? std::nullopt : std::optional<std::string>(c.version));
  o["Runtime"] = c.runtime;
  o["Role"] = c.role;
  o["Handler"] = c.handler;
  o["CodeSize"] = c.code_size;
  o["Description"] = c.description;
  o["Timeout"] = c.timeout_s;
  o["MemorySize"] = c.memory_mb;
  o["LastModified"] = formatLambdaTimestamp(c.last_modified_ms);
  o["CodeSha256"] = c.code_sha256_b64;
  o["Version"] = c.version;
  if (!c.environment.empty()) {
    json::object vars;
    for (const auto& [k, v] : c.environment) vars[k] = v;
    o["Environment"] = json::object{{"Variables", std::move(vars)}};
  }
  // Lambda leaves DeadLetterConfig out when none is set.
  if (!c.dead_letter_target.empty()) {
    o["DeadLetterConfig"] = json::object{{"TargetArn", c.dead_letter_target}};
  }
  o["TracingConfig"] = json::object{{"Mode", "PassThrough"}};
  o["RevisionId"] = c.revision_id;
  o["State"] = "Active";
  o["LastUpdateStatus"] = "Successful";
  o["PackageType"] = "Zip";
  o["Architectures"] = json::array{"x86_64"};
  o["EphemeralStorage"] = json::object{{"Size", c.ephemeral_storage_mb}};
  o["SnapStart"] = json::object{{"ApplyOn", "None"}, {"OptimizationStatus", "Off"}};
  o["LoggingConfig"] = json::object{{"LogFormat", "Text"}, {"LogGroup", "/aws/lambda/" + c.name}};
  return o;
}

Result<json::object> parseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body.empty() ? std::string("{}") : body, ec);
  if (ec || !v.is_object()) {
    return makeError(ErrorCode::kInvalidRequestContent,
                     "Could not parse request body into json: " +
                         (ec ? ec.message() : std::string("expected an object")));
  }
  return std::move(v.as_object());
}

namespace {
Error typeError(const char* key, const char* want) {
  return makeError(ErrorCode::kInvalidParameter,
                   std::string("Invalid type for parameter ") + key + ", expected " + want);
}
}  // namespace

Result<std::optional<std::string>> optString(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>{};
  if (!it->value().is_string()) return typeError(key, "string");
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Result<std::optional<int64_t>> optInt(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>{};
  const auto& v = it->value();
  if (v.is_int64()) return std::optional<int64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() < (1ull << 62)) {
    return std::optional<int64_t>(static_cast<int64_t>(v.as_uint64()));
  }
  return typeError(key, "integer");
}

Result<void> applyConfiguration(const json::object& in, model::FunctionConfig& c) {
  auto str = [&](const char* key, std::string& out) -> Result<void> {
    auto v = optString(in, key);
    if (!v) return v.error();
    if (*v) out = **v;
    return {};
  };
  auto num = [&](const char* key, int& out) -> Result<void> {
    auto v = optInt(in, key);
    if (!v) return v.error();
    if (*v) {
      if (**v < -(1 << 30) || **v > (1 << 30)) return typeError(key, "integer in range");
      out = static_cast<int>(**v);
    }
    return {};
  };
  for (auto r : {str("Runtime", c.runtime), str("Handler", c.handler), str("Role", c.role),
                 str("Description", c.description), num("MemorySize", c.memory_mb),
                 num("Timeout", c.timeout_s)}) {
    if (!r) return r;
  }
  if (auto it = in.find("Environment"); it != in.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return typeError("Environment", "structure");
    c.environment.clear();
    const auto& env = it->value().as_object();
    if (auto vars = env.find("Variables"); vars != env.end() && !vars->value().is_null()) {
      if (!vars->value().is_object()) return typeError("Environment.Variables", "map");
      for (const auto& kv : vars->value().as_object()) {
        if (!kv.value().is_string()) return typeError("Environment.Variables value", "string");
        c.environment[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
  }
  if (auto it = in.find("EphemeralStorage"); it != in.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return typeError("EphemeralStorage", "structure");
    auto size = optInt(it->value().as_object(), "Size");
    if (!size) return size.error();
    if (*size) c.ephemeral_storage_mb = static_cast<int>(std::clamp<int64_t>(**size, 0, 1 << 20));
  }
  // DeadLetterConfig {"TargetArn": arn} sets the target; "" (or no TargetArn) removes
  // it. Whether the queue exists is checked by the caller (control/dead_letter_target.h).
  if (auto it = in.find("DeadLetterConfig"); it != in.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return typeError("DeadLetterConfig", "structure");
    auto target = optString(it->value().as_object(), "TargetArn");
    if (!target) return target.error();
    c.dead_letter_target = target->value_or("");
  }
  if (auto pt = optString(in, "PackageType"); pt && *pt && **pt != "Zip") {
    return makeError(ErrorCode::kInvalidParameter,
                     "PackageType " + **pt + " is not supported: nimbus runs Zip packages");
  }
  return {};
}

}  // namespace nimbus::control
