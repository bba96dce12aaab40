// FunctionName parsing: the forms Lambda accepts for {FunctionName}.
#include "model/function_ref.h"

#include <regex>

#include "model/function_config.h"

namespace nimbus::model {
namespace {
bool validQualifier(const std::string& q) {
  static const std::regex kQ(R"(\$LATEST|[0-9]+|[a-zA-Z0-9-_]+)");
  return q.size() <= 128 && std::regex_match(q, kQ);
}
Error invalidName(const std::string& text) {
  return makeError(ErrorCode::kInvalidParameter,
                   "1 validation error detected: Value '" + text +
                       "' at 'functionName' failed to satisfy constraint: Member must satisfy "
                       "regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)"
                       "?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|"
                       "[a-zA-Z0-9-_]+))?");
}
}  // namespace

Result<FunctionRef> parseFunctionRef(const std::string& text) {
  // arn:aws:lambda:region:account:function:name[:qualifier]
  static const std::regex kArn(
      R"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([a-zA-Z0-9-_]+)(?::([^:]+))?)");
  static const std::regex kPartial(R"(\d{12}:function:([a-zA-Z0-9-_]+)(?::([^:]+))?)");
  static const std::regex kPlain(R"(([a-zA-Z0-9-_]+)(?::([^:]+))?)");
  std::smatch m;
  if (text.size() > 170) return invalidName(text);
  if (!(std::regex_match(text, m, kArn) || std::regex_match(text, m, kPartial) ||
        std::regex_match(text, m, kPlain))) {
    return invalidName(text);
  }
  FunctionRef ref;
  ref.name = m[1].str();
  if (!isValidFunctionName(ref.name)) return invalidName(text);
  if (m[2].matched) {
    if (!validQualifier(m[2].str())) return invalidName(text);
    ref.qualifier = m[2].str();
  }
  return ref;
}

Result<FunctionRef> withQualifier(FunctionRef ref, const std::string& query_qualifier) {
  if (query_qualifier.empty()) return ref;
  if (!validQualifier(query_qualifier)) {
    return makeError(ErrorCode::kInvalidParameter, "Invalid qualifier: " + query_qualifier);
  }
  if (ref.qualifier && *ref.qualifier != query_qualifier) {
    return makeError(ErrorCode::kInvalidParameter,
                     "The derived qualifier from the function name does not match the specified "
                     "qualifier.");
  }
  ref.qualifier = query_qualifier;
  return ref;
}

std::string functionArn(const ArnContext& ctx, const std::string& name,
                        const std::optional<std::string>& qualifier) {
  std::string arn = "arn:aws:lambda:" + ctx.region + ":" + ctx.account + ":function:" + name;
  if (qualifier) arn += ":" + *qualifier;
  return arn;
}

Error functionNotFound(const ArnContext& ctx, const std::string& name,
                       const std::optional<std::string>& qualifier) {
  return makeError(ErrorCode::kNotFound,
                   "Function not found: " + functionArn(ctx, name, qualifier));
}

}  // namespace nimbus::model
