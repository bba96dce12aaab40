// The Lambda control-plane operations on functions: CreateFunction, GetFunction,
// GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
// UpdateFunctionConfiguration, DeleteFunction; plus the native /v1 function logs.
#pragma once

#include "http/router.h"
#include "model/function_ref.h"
#include "pool/function_logs.h"
#include "pool/pool.h"
#include "store/code_store.h"
#include "store/store.h"

namespace nimbus::control {

struct FunctionsApiDeps {
  store::Store& store;
  store::CodeStore& code;
  pool::Pool& pool;
  pool::FunctionLogs& logs;
  model::ArnContext arn;
};

void addFunctionRoutes(http::Router& router, FunctionsApiDeps deps);

}  // namespace nimbus::control
