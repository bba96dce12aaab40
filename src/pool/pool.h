// Instances per function version: take a warm idle instance (LIFO) or start one
// (cold), hand it the event, put it back afterwards; reap idle ones after keep-alive;
// retire those whose function changed. Thread-safe.
// Admission applies reserved and host-wide concurrency (admission.h).
// TODO(scaling): provisioned concurrency (issue 4).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation.h"
#include "pool/admission.h"
#include "pool/function_logs.h"
#include "pool/instance.h"
#include "pool/python_bytecode.h"
#include "sandbox/process.h"
#include "store/code_store.h"

namespace nimbus::pool {

struct PoolOptions {
  InstanceSettings instance;
  std::chrono::seconds keep_alive{300};  // idle instances end after this
  int max_instances = 256;               // host-wide cap on live instances
  int concurrency_limit = 1000;
  // Total MemorySize of live instances never exceeds this; idle instances are reaped
  // (least recently used first) to make room, else the invoke gets 429.
  int memory_budget_mb = 16384;
  // How long an invoke beyond its concurrency may wait for a slot before 429 (0: none,
  // Lambda's behaviour).
  int throttle_wait_ms = 0;  // host-wide concurrent invocations (Lambda's account limit)
};

class Pool {
 public:
  Pool(boost::asio::io_context& ioc, sandbox::ProcessLauncher& launcher, store::CodeStore& code,
       FunctionLogs& logs, PoolOptions options);
  ~Pool();

  // Runs one invocation of `config`. Platform failures (cannot start, shutting down,
  // out of instances) come back as Error; function failures are in the result.
  boost::asio::awaitable<Result<model::InvokeResult>> invoke(const model::FunctionConfig& config,
                                                             model::InvokeRequest request);
  // The function changed or was deleted: idle instances of it end now, busy ones when
  // their invocation finishes.
  void retire(const std::string& function_name);
  // Refuses new invocations, waits up to `grace` for running ones, then ends every
  // instance and waits for the processes to be reaped.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  Admission& admission() { return admission_; }
  size_t liveInstances() const;
  size_t idleInstances() const;
  int liveMemoryMb() const;

 private:
  static std::string keyOf(const model::FunctionConfig& c);
  boost::asio::awaitable<Result<model::InvokeResult>> run(const model::FunctionConfig& config,
                                                          model::InvokeRequest request);
  void scheduleReap();
  void reapIdle();
  void release(const std::shared_ptr<Instance>& inst, const std::string& key);
  void dropLocked(const std::shared_ptr<Instance>& inst);
  bool reserveMemoryLocked(int memory_mb);

  boost::asio::io_context& ioc_;
  sandbox::ProcessLauncher& launcher_;
  store::CodeStore& code_;
  FunctionLogs& logs_;
  PoolOptions options_;
  boost::asio::steady_timer reap_timer_;
  Admission admission_;

  mutable std::mutex mutex_;
  bool shutting_down_ = false;
  int busy_ = 0;
  int live_memory_mb_ = 0;  // MemorySize of every instance in all_, plus starts under way
  std::map<std::string, std::vector<std::shared_ptr<Instance>>> idle_;  // LIFO stacks
  std::set<std::shared_ptr<Instance>> all_;
  std::set<std::string> retired_;  // instance ids that must not be reused
  BytecodeCompiler bytecode_;      // the python runtimes, for sandboxed instances
  // Last, so that it is joined first: its tasks use the members above. Long-lived
  // threads, because an instance's parent-death signal follows the thread that made it.
  boost::asio::thread_pool launch_threads_{4};
};

}  // namespace nimbus::pool
