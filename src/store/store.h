// The persistence interface for function state. The SQLite backend (sqlite_store.h) is
// the embedded default; a PostgreSQL backend will implement the same interface.
// Implementations are thread-safe: any thread may call any method.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"

namespace nimbus::store {

struct FunctionPage {
  std::vector<model::FunctionConfig> functions;
  std::optional<std::string> next_marker;  // present when more remain
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts a new function at version "$LATEST". kConflict if the name exists.
  virtual Result<void> createFunction(const model::FunctionConfig& config) = 0;
  // kNotFound if the function or that version does not exist.
  virtual Result<model::FunctionConfig> getFunction(const std::string& name,
                                                    const std::string& version) = 0;
  // Replaces the stored row for (config.name, config.version). kNotFound if absent.
  virtual Result<void> updateFunction(const model::FunctionConfig& config) = 0;
  // Deletes the function and every version of it. kNotFound if absent.
  virtual Result<void> deleteFunction(const std::string& name) = 0;
  // $LATEST of every function in name order, starting after `marker` (an opaque token
  // returned as next_marker), at most max_items (1..10000).
  virtual Result<FunctionPage> listFunctions(const std::optional<std::string>& marker,
                                             int max_items) = 0;
  // Reserved concurrency of a function (nullopt: none). kNotFound if no such function.
  virtual Result<std::optional<int>> getReservedConcurrency(const std::string& name) = 0;
  virtual Result<void> setReservedConcurrency(const std::string& name,
                                              std::optional<int> reserved) = 0;
  // Every function that has a reservation, for loading admission state at start.
  virtual Result<std::map<std::string, int>> reservedConcurrencies() = 0;
  // Every code digest still referenced by some function version (for garbage collection).
  virtual Result<std::vector<std::string>> referencedCodeDigests() = 0;
};

}  // namespace nimbus::store
