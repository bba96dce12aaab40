// One instance of one function version: its process, its Runtime API endpoint and the
// hand-off channel, its captured output and its timeout clock. Runs one invocation at
// a time. Created and owned (by shared_ptr) by the Pool; its background coroutines
// keep it alive until the process has exited.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "base/error.h"
#include "model/function_config.h"
#include "model/invocation.h"
#include "pool/function_logs.h"
#include "runtime_api/channel.h"
#include "runtime_api/endpoint.h"
#include "sandbox/process.h"

namespace nimbus::pool {

struct InstanceSettings {
  std::filesystem::path runtimes_dir;  // runtimes/<runtime>/bootstrap
  std::string region = "us-east-1";
  std::string runtime_host = "127.0.0.1";
  int init_timeout_ms = 10000;  // Lambda's init phase limit
  // The launcher isolates instances: code at /var/task, the runtime at /var/runtime and
  // the Runtime API on a listener inside the instance's own network namespace.
  bool sandboxed = false;
  // pid 1 of a sandboxed instance: runs the bootstrap as its child, reaps orphans, and
  // exits with its status (128 + signal when a signal ended it).
  std::string init_path;
  // Started ahead for provisioned concurrency: AWS_LAMBDA_INITIALIZATION_TYPE says so,
  // and its first invocation is not a cold start (no Init Duration).
  bool provisioned = false;
};

class Instance : public std::enable_shared_from_this<Instance> {
 public:
  // Launches the process and its Runtime API endpoint.
  static Result<std::shared_ptr<Instance>> start(boost::asio::io_context& ioc,
                                                 sandbox::ProcessLauncher& launcher,
                                                 const model::FunctionConfig& config,
                                                 const std::filesystem::path& code_dir,
                                                 const InstanceSettings& settings,
                                                 FunctionLogs& logs);
  ~Instance();

  // Runs one invocation to its end (answer, error, timeout or death). Never throws.
  boost::asio::awaitable<model::InvokeResult> invoke(model::InvokeRequest request);
  // Waits until the runtime has finished its init (its first GET /next). An error when
  // it reported an init error, exited, or took longer than `timeout_ms` (then it is
  // killed).
  boost::asio::awaitable<Result<void>> waitReady(int timeout_ms);
  // Ends the instance (SIGKILL to its process group). Idempotent, thread-safe.
  void kill(const std::string& reason);

  bool alive() const { return !dead_.load(); }
  bool provisioned() const { return provisioned_; }
  const std::string& id() const { return id_; }
  const model::FunctionConfig& config() const { return config_; }
  pid_t pid() const;
  int64_t lastUsedMs() const { return last_used_ms_.load(); }
  void touch();

 private:
  Instance(boost::asio::io_context& ioc, const model::FunctionConfig& config, FunctionLogs& logs);
  void startBackground();
  boost::asio::awaitable<void> readOutput();
  boost::asio::awaitable<void> watchExit();
  boost::asio::awaitable<void> drainOutput();
  void armTimer(int64_t deadline_steady_us);
  void disarmTimer();
  void onOutput(std::string_view chunk);
  void emitLineLocked(std::string line);  // applies the per-invocation output caps
  std::string exitDescription() const;
  bool under_init_ = false;   // exit statuses come from nimbus-init
  bool provisioned_ = false;  // set at start, read-only afterwards

  boost::asio::io_context& ioc_;
  model::FunctionConfig config_;
  FunctionLogs& logs_;
  std::string id_;
  std::unique_ptr<sandbox::Process> process_;
  std::shared_ptr<runtime_api::Channel> channel_;
  std::unique_ptr<runtime_api::Endpoint> endpoint_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> output_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> exit_watch_;
  int output_fd_ = -1;

  std::atomic<bool> dead_{false};
  std::atomic<bool> timed_out_{false};
  std::atomic<bool> output_closed_{false};
  std::atomic<int64_t> last_used_ms_{0};
  std::atomic<uint64_t> timer_generation_{0};
  int64_t started_steady_us_ = 0;
  std::atomic<int64_t> ready_steady_us_{0};
  std::atomic<int64_t> taken_steady_us_{0};
  bool used_ = false;             // touched only by the one invocation at a time
  int64_t max_memory_bytes_ = 0;  // likewise: the last peak read, and when
  int64_t max_memory_read_ms_ = INT64_MIN / 2;

  mutable std::mutex mutex_;  // guards the fields below
  int wait_status_ = -1;      // -1 until reaped
  std::string kill_reason_;
  std::string capture_;  // output of the current invocation (or of init)
  std::string partial_line_;
  std::string current_request_id_;
  size_t output_bytes_ = 0;     // this invocation's output so far, for the volume cap
  bool output_capped_ = false;  // past the cap: lines are dropped until the next one
  bool skipping_line_ = false;  // past a line's length cap: bytes dropped until '\n'
};

}  // namespace nimbus::pool
