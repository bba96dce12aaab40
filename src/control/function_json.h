// The Lambda JSON shapes of a function: FunctionConfiguration out, and the fields of
// CreateFunction / UpdateFunctionConfiguration in (with Lambda's type checks).
#pragma once

#include <boost/json.hpp>

#include "base/error.h"
#include "model/function_config.h"
#include "model/function_ref.h"

namespace nimbus::control {

boost::json::object toFunctionConfiguration(const model::FunctionConfig& c,
                                            const model::ArnContext& arn);

// Parses a request body that must be a JSON object.
Result<boost::json::object> parseObject(const std::string& body);

// Applies the configuration members present in `in` (Runtime, Handler, Role,
// Description, MemorySize, Timeout, Environment, EphemeralStorage, DeadLetterConfig)
// onto `c`.
Result<void> applyConfiguration(const boost::json::object& in, model::FunctionConfig& c);

// Reads an optional string/int member with a clear InvalidParameterValue on type errors.
Result<std::optional<std::string>> optString(const boost::json::object& o, const char* key);
Result<std::optional<int64_t>> optInt(const boost::json::object& o, const char* key);

}  // namespace nimbus::control
