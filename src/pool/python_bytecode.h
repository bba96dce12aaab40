// Precompiled Python bytecode for sandboxed instances. A sandboxed instance sees the
// runtime (/var/runtime) read-only and runs as a user who could not write there anyway,
// so without this every cold start compiles the runtime's nimbus_ric.py (~10 ms here):
// nimbus writes the runtime's __pycache__ at start instead.
// TODO(perf): the function's own modules in /var/task are still compiled at every cold
// start. Their bytecode must not appear in /var/task (Lambda shows exactly the package
// there), so it needs a cache tree of its own (PYTHONPYCACHEPREFIX, bound read-only).
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>

#include "base/error.h"

namespace nimbus::pool {

// Runs `python -S -m compileall -q -j 1 dir` (compiling only; nothing in dir runs) and
// waits for it, at most `timeout` (then kills it). Errors: kUnavailable when `python`
// is missing; kInternal with the exit status and output when it fails.
Result<void> compilePythonTree(const std::filesystem::path& dir,
                               const std::filesystem::path& python = "/usr/bin/python3",
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Compiles each folder once per server run: the first ensureCompiled of a folder runs
// compilePythonTree (a failure is logged, not retried: the runtime then compiles in
// memory as before), later ones return at once. Thread-safe; callers of the same folder
// at once may both compile, which is harmless (compileall writes atomically).
class BytecodeCompiler {
 public:
  explicit BytecodeCompiler(std::filesystem::path python = "/usr/bin/python3")
      : python_(std::move(python)) {}
  void ensureCompiled(const std::filesystem::path& dir);

 private:
  const std::filesystem::path python_;
  std::mutex mutex_;
  std::set<std::string> done_;
};

// Whether a runtime runs Python (python3.11, python3.12, ...).
bool isPythonRuntime(const std::string& runtime);

}  // namespace nimbus::pool
