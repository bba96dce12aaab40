// Parsing the FunctionName path parameter: a name, name:qualifier, a partial ARN
// (account:function:name[:q]) or a full ARN, and building ARNs in Lambda's form.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"

namespace nimbus::model {

struct FunctionRef {
  std::string name;
  std::optional<std::string> qualifier;  // "$LATEST", a version number or an alias
};

// Parses the (already percent-decoded) FunctionName. InvalidParameter on bad forms.
Result<FunctionRef> parseFunctionRef(const std::string& text);

// Merges a path qualifier with a Qualifier query parameter: they must agree.
Result<FunctionRef> withQualifier(FunctionRef ref, const std::string& query_qualifier);

struct ArnContext {
  std::string region = "us-east-1";
  std::string account = "000000000000";
};

std::string functionArn(const ArnContext& ctx, const std::string& name,
                        const std::optional<std::string>& qualifier = std::nullopt);

// Lambda's ResourceNotFoundException for a function: "Function not found: <ARN>".
Error functionNotFound(const ArnContext& ctx, const std::string& name,
                       const std::optional<std::string>& qualifier = std::nullopt);

}  // namespace nimbus::model
