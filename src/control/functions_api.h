// The Lambda control-plane operations on functions: CreateFunction, GetFunction,
// GetFunctionConfiguration, ListFunctions, UpdateFunctionCode,
// UpdateFunctionConfiguration, DeleteFunction; plus the native /v1 function logs.
#pragma once

#include <functional>
#include <string>

#include "http/router.h"
#include "model/function_ref.h"
#include "pool/function_logs.h"
#include "pool/pool.h"
#include "store/code_store.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::control {

struct FunctionsApiDeps {
  store::Store& store;
  store::CodeStore& code;
  pool::Pool& pool;
  pool::FunctionLogs& logs;
  model::ArnContext arn;
  // After DeleteFunction: observability drops the function's metric series.
  std::function<void(const std::string& name)> on_deleted = {};
  // The queues a DeadLetterConfig may name (they must exist). Null: none may be set.
  store::QueueStore* dead_letter_queues = nullptr;
};

void addFunctionRoutes(http::Router& router, FunctionsApiDeps deps);

}  // namespace nimbus::control
