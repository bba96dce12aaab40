// Instances per function version: take a warm idle instance (LIFO; provisioned ones
// first) or start one (cold), hand it the event, put it back afterwards; reap idle ones
// after their keep-alive; retire those whose function changed; keep provisioned
// instances started ahead, never reaped, replaced when they die. Thread-safe.
// Admission applies reserved and host-wide concurrency (admission.h); policy.h holds the
// keep-alive and memory-budget decisions.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation.h"
#include "pool/admission.h"
#include "pool/function_logs.h"
#include "pool/instance.h"
#include "pool/policy.h"
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

// A function version's current configuration, from the store: provisioned instances
// start again with it after the function changed. kNotFound once it is deleted.
using ConfigResolver = std::function<Result<model::FunctionConfig>(const std::string& name,
                                                                   const std::string& version)>;

// Where a provisioned concurrency config stands (Lambda's GetProvisionedConcurrencyConfig).
struct ProvisionedStatus {
  int requested = 0;
  int allocated = 0;   // started, initialised and alive
  std::string status;  // IN_PROGRESS | READY | FAILED
  std::string status_reason;
  int64_t last_modified_ms = 0;
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
  // their invocation finishes. Its provisioned instances start again with the
  // configuration the resolver gives, or their configs go when it is deleted.
  void retire(const std::string& function_name);
  void setConfigResolver(ConfigResolver resolver);

  // Keeps `count` initialised instances of `config` (its version) started ahead: they
  // start in the background after this returns, are preferred by invocations, are never
  // reaped by keep-alive or the memory budget, and are replaced when they die. The
  // caller checks concurrency limits (Admission::setProvisioned).
  void provision(const model::FunctionConfig& config, int count, int64_t last_modified_ms);
  // Ends the provisioned instances of a version (busy ones after their invocation).
  void unprovision(const std::string& function, const std::string& version);
  std::optional<ProvisionedStatus> provisionedStatus(const std::string& function,
                                                     const std::string& version) const;
  // Refuses new invocations, waits up to `grace` for running ones, then ends every
  // instance and waits for the processes to be reaped.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

  Admission& admission() { return admission_; }
  size_t liveInstances() const;
  size_t idleInstances() const;
  int liveMemoryMb() const;
  // Initialised provisioned instances per function, for metrics.
  std::map<std::string, size_t> provisionedInstances() const;
  int memoryBudgetMb() const { return options_.memory_budget_mb; }

 private:
  using Stacks = std::map<std::string, std::vector<std::shared_ptr<Instance>>>;
  // Provisioned concurrency of one function version.
  struct Target {
    model::FunctionConfig config;
    int requested = 0;
    int starting = 0;         // starts under way for this generation
    uint64_t generation = 0;  // changes whenever the instances must start afresh
    std::vector<std::shared_ptr<Instance>> instances;  // initialised, current config
    std::string failure;                               // FAILED's StatusReason
    int64_t last_modified_ms = 0;
  };

  static std::string keyOf(const model::FunctionConfig& c);
  static std::string targetKey(const std::string& name, const std::string& version);
  boost::asio::awaitable<Result<model::InvokeResult>> run(const model::FunctionConfig& config,
                                                          model::InvokeRequest request);
  void scheduleReap();
  void reapIdle();
  void release(const std::shared_ptr<Instance>& inst, const std::string& key);
  std::shared_ptr<Instance> popIdleLocked(Stacks& stacks, const std::string& key);
  void dropLocked(const std::shared_ptr<Instance>& inst);
  void chargeLocked(const std::string& function, int memory_mb);
  void unchargeLocked(const std::string& function, int memory_mb);
  std::map<std::string, policy::ReservationUse> reservationUsesLocked();
  // Makes room for one more instance of `function`; false when it cannot, with the
  // memory held back for other functions' reservations in *held.
  bool reserveMemoryLocked(const std::string& function, int memory_mb, int64_t* held);
  // Starts what `t` lacks, in the background.
  void fillLocked(const std::string& key, Target& t);
  boost::asio::awaitable<void> provisionOne(std::string key, uint64_t generation,
                                            model::FunctionConfig config);
  // Ends the target's instances (idle now, busy after their invocation) and forgets them.
  void retireTargetLocked(Target& t);
  // A provisioned instance died or was retired: replace it if its target still wants it.
  void replaceProvisionedLocked(const std::shared_ptr<Instance>& inst);
  void refreshTarget(const std::string& key, uint64_t generation);

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
  int live_memory_mb_ = 0;   // MemorySize of every instance in all_, plus starts under way
  Stacks idle_;              // on-demand instances, LIFO stacks by keyOf
  Stacks idle_provisioned_;  // provisioned instances, by keyOf
  std::set<std::shared_ptr<Instance>> all_;
  std::set<std::string> retired_;                  // instance ids that must not be reused
  std::map<std::string, Target> targets_;          // by targetKey
  std::map<std::string, int> live_by_function_;    // instances and starts, any version
  std::map<std::string, int> memory_by_function_;  // MemorySize last seen
  uint64_t next_generation_ = 1;
  ConfigResolver resolver_;
  BytecodeCompiler bytecode_;  // the python runtimes, for sandboxed instances
  // Last, so that it is joined first: its tasks use the members above. Long-lived
  // threads, because an instance's parent-death signal follows the thread that made it.
  boost::asio::thread_pool launch_threads_{4};
};

}  // namespace nimbus::pool
