// The per-function APIs' shared lookup.
#include "control/function_lookup.h"

namespace nimbus::control {

Result<FunctionLookup> lookUpFunction(store::Store& store, const model::ArnContext& arn,
                                      const http::RouteParams& params) {
  auto ref = model::parseFunctionRef(params.path.at("name"));
  if (!ref) return ref.error();
  auto q = params.query.find("Qualifier");
  auto merged = model::withQualifier(*ref, q == params.query.end() ? "" : q->second);
  if (!merged) return merged.error();
  auto latest = store.getFunction(merged->name, model::kLatest);
  if (!latest) {
    if (latest.error().code == ErrorCode::kNotFound) {
      return model::functionNotFound(arn, merged->name);
    }
    return latest.error();
  }
  return FunctionLookup{std::move(*merged), std::move(*latest)};
}

}  // namespace nimbus::control
