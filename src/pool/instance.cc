// Instance lifecycle: launch, hand-off of one event, timeout, output capture, exit.
#include "pool/instance.h"

#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

#include "base/encoding.h"
#include "base/log.h"
#include "base/time.h"
#include "pool/invocation_report.h"

namespace nimbus::pool {

namespace asio = boost::asio;
namespace json = boost::json;
using model::Outcome;

namespace {
constexpr size_t kMaxCaptureBytes = 256 * 1024;  // per invocation; the tail is what counts
constexpr int64_t kMaxMemoryRefreshMs = 100;

// Caps on what one invocation's output puts in the function log: a line longer than
// kMaxLineBytes is cut (with a marker) and the rest of it skipped; beyond
// kMaxOutputBytes in one invocation, one notice and nothing more until the next.
constexpr size_t kMaxLineBytes = 256 * 1024;
constexpr size_t kMaxOutputBytes = 1024 * 1024;

// errorType of an error object (as normalizeErrorBody leaves it), for records; the
// header's type ("Unhandled") only when the body has none.
std::string errorTypeOf(const std::string& body, const std::string& header_type) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  const json::value* t = !ec && v.is_object() ? v.get_object().if_contains("errorType") : nullptr;
  if (t && t->is_string() && !t->get_string().empty()) return std::string(t->get_string());
  return header_type;
}

std::vector<std::string> buildEnvironment(const model::FunctionConfig& c,
                                          const std::filesystem::path& code_dir,
                                          const std::filesystem::path& runtime_dir,
                                          const std::string& runtime_api, const std::string& region,
                                          const std::string& id, bool sandboxed, bool provisioned) {
  std::map<std::string, std::string> env = c.environment;
  // Reserved variables win over the function's own, as in Lambda.
  env["AWS_LAMBDA_FUNCTION_NAME"] = c.name;
  env["AWS_LAMBDA_FUNCTION_VERSION"] = c.version;
  env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = std::to_string(c.memory_mb);
  env["AWS_LAMBDA_RUNTIME_API"] = runtime_api;
  env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + c.name;
  std::string day = formatIso8601Millis(systemNowMillis()).substr(0, 10);
  for (auto& ch : day) {
    if (ch == '-') ch = '/';
  }
  env["AWS_LAMBDA_LOG_STREAM_NAME"] = day + "/[" + c.version + "]" + id;
  env["AWS_LAMBDA_INITIALIZATION_TYPE"] = provisioned ? "provisioned-concurrency" : "on-demand";
  env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + c.runtime;
  env["AWS_REGION"] = region;
  env["AWS_DEFAULT_REGION"] = region;
  env["LAMBDA_TASK_ROOT"] = code_dir.string();
  env["LAMBDA_RUNTIME_DIR"] = runtime_dir.string();
  env["_HANDLER"] = c.handler;
  env["TZ"] = ":UTC";
  env["LANG"] = "en_US.UTF-8";
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/opt/bin";
  env["LD_LIBRARY_PATH"] = code_dir.string() + ":" + code_dir.string() + "/lib:/opt/lib";
  if (sandboxed && !env.count("HOME")) env["HOME"] = "/tmp";
  if (c.runtime == "nodejs20.x" && !env.count("NODE_OPTIONS")) {
    // node cannot see a memory limit; size its heap from MemorySize as Lambda does.
    env["NODE_OPTIONS"] = "--max-old-space-size=" + std::to_string(c.memory_mb * 85 / 100);
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::string shortId() { return hexEncode(idRandomBytes(8)); }

// As Lambda words it: "signal: killed".
std::string signalDescription(int sig) {
  if (sig == SIGKILL) return "signal: killed";
  if (sig == SIGSEGV) return "signal: segmentation fault";
  if (sig == SIGABRT) return "signal: aborted";
  return "signal: " + std::to_string(sig);
}
}  // namespace

Instance::Instance(asio::io_context& ioc, const model::FunctionConfig& config, FunctionLogs& logs)
    : ioc_(ioc),
      config_(config),
      logs_(logs),
      id_(shortId()),
      channel_(std::make_shared<runtime_api::Channel>()),
      strand_(asio::make_strand(ioc)),
      timer_(strand_) {}

Instance::~Instance() {
  if (output_) {
    boost::system::error_code ec;
    output_->close(ec);
  }
  if (exit_watch_) {
    boost::system::error_code ec;
    exit_watch_->close(ec);
  }
}

Result<std::shared_ptr<Instance>> Instance::start(
    asio::io_context& ioc, sandbox::ProcessLauncher& launcher, const model::FunctionConfig& config,
    const std::filesystem::path& code_dir, const InstanceSettings& settings, FunctionLogs& logs) {
  std::shared_ptr<Instance> inst(new Instance(ioc, config, logs));
  inst->provisioned_ = settings.provisioned;
  inst->used_ = settings.provisioned;  // its init is done before anyone waits for it
  inst->endpoint_ = std::make_unique<runtime_api::Endpoint>(ioc, inst->channel_, inst->id_);
  const std::filesystem::path host_runtime_dir = settings.runtimes_dir / config.runtime;
  const bool provided = model::isProvidedRuntime(config.runtime);

  sandbox::ProcessSpec spec;
  std::string runtime_api;
  std::filesystem::path task_root, runtime_dir;
  if (settings.sandboxed) {
    // Paths as the instance sees them; the launcher mounts the host folders there.
    task_root = "/var/task";
    runtime_dir = "/var/runtime";
    spec.sandbox.instance_id = inst->id_;
    spec.sandbox.code_dir = code_dir.string();
    spec.sandbox.runtime_dir = provided ? std::string() : host_runtime_dir.string();
    spec.sandbox.memory_mb = config.memory_mb;
    spec.sandbox.ephemeral_storage_mb = config.ephemeral_storage_mb;
    spec.sandbox.network = config.network_mode == model::NetworkMode::kEgress
                               ? sandbox::NetworkMode::kEgress
                               : sandbox::NetworkMode::kIsolated;
    runtime_api =
        spec.sandbox.runtime_api_host + ":" + std::to_string(spec.sandbox.runtime_api_port);
  } else {
    task_root = code_dir;
    runtime_dir = host_runtime_dir;
    auto api = inst->endpoint_->start(settings.runtime_host);
    if (!api) return api.error().withContext("runtime API endpoint");
    runtime_api = *api;
  }
  spec.executable = ((provided ? task_root : runtime_dir) / "bootstrap").string();
  spec.argv = {spec.executable};
  if (provided) {
    // Checked here: under an init, a missing bootstrap would only be an exit status.
    const auto host_bootstrap = code_dir / "bootstrap";
    if (::access(host_bootstrap.c_str(), X_OK) != 0) {
      inst->endpoint_->stop();
      return makeError(ErrorCode::kInvalidParameter,
                       "The function's package has no executable 'bootstrap' file");
    }
  }
  if (settings.sandboxed && !settings.init_path.empty()) {
    spec.argv = {settings.init_path, spec.executable};
    spec.executable = settings.init_path;
    inst->under_init_ = true;
  }
  spec.env = buildEnvironment(config, task_root, runtime_dir, runtime_api, settings.region,
                              inst->id_, settings.sandboxed, settings.provisioned);
  spec.cwd = task_root.string();
  spec.memory_mb = config.memory_mb;

  std::weak_ptr<Instance> weak = inst;
  inst->channel_->on_ready = [weak] {
    if (auto self = weak.lock()) self->ready_steady_us_ = steadyNowMicros();
  };
  inst->channel_->on_taken = [weak](const runtime_api::Event& ev) {
    if (auto self = weak.lock()) {
      const int64_t taken_us = steadyNowMicros();
      self->taken_steady_us_ = taken_us;
      // Microseconds, so a timed-out invocation never reports less than its timeout.
      self->armTimer(taken_us + ev.timeout_ms * 1000);
    }
  };

  inst->started_steady_us_ = steadyNowMicros();
  auto proc = launcher.launch(spec);
  if (!proc) {
    inst->endpoint_->stop();
    if (provided && proc.error().sys_errno == ENOENT) {
      return makeError(ErrorCode::kInvalidParameter,
                       "The function's package has no executable 'bootstrap' file");
    }
    return proc.error().withContext("start instance of " + config.name);
  }
  inst->process_ = std::move(*proc);
  if (settings.sandboxed) {
    int listener = inst->process_->takeRuntimeApiListener();
    auto adopted =
        listener >= 0
            ? inst->endpoint_->adopt(listener)
            : Result<void>(makeError(ErrorCode::kInternal, "sandbox gave no Runtime API listener"));
    if (!adopted) {
      inst->process_->kill();
      return adopted.error().withContext("runtime API endpoint");
    }
  }
  inst->last_used_ms_ = steadyNowMillis();
  inst->startBackground();
  log::info("pool", "instance started",
            {{"function", config.name},
             {"instance", inst->id_},
             {"pid", std::to_string(inst->process_->pid())},
             {"runtime_api", runtime_api},
             {"sandboxed", settings.sandboxed ? "true" : "false"}});
  return inst;
}

pid_t Instance::pid() const { return process_ ? process_->pid() : -1; }

void Instance::touch() { last_used_ms_ = steadyNowMillis(); }

void Instance::startBackground() {
  output_fd_ = process_->releaseOutputFd();
  output_ = std::make_unique<asio::posix::stream_descriptor>(asio::make_strand(ioc_), output_fd_);
  exit_watch_ = std::make_unique<asio::posix::stream_descriptor>(asio::make_strand(ioc_),
                                                                 ::dup(process_->pidfd()));
  auto self = shared_from_this();
  asio::co_spawn(output_->get_executor(), readOutput(), asio::detached);
  asio::co_spawn(exit_watch_->get_executor(), watchExit(), asio::detached);
}

asio::awaitable<void> Instance::readOutput() {
  auto self = shared_from_this();
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] =
        co_await output_->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (n > 0) onOutput(std::string_view(buf.data(), n));
    if (ec) break;
  }
  std::lock_guard lock(mutex_);
  if (!partial_line_.empty()) {
    emitLineLocked(std::move(partial_line_));
    partial_line_.clear();
  }
  output_closed_ = true;
}

void Instance::onOutput(std::string_view chunk) {
  std::lock_guard lock(mutex_);
  capture_.append(chunk);
  if (capture_.size() > kMaxCaptureBytes) {
    capture_.erase(0, capture_.size() - kMaxCaptureBytes / 2);
  }
  size_t start = 0;
  for (size_t nl; (nl = chunk.find('\n', start)) != std::string_view::npos; start = nl + 1) {
    if (skipping_line_) {
      skipping_line_ = false;  // the rest of a cut line ends here
      continue;
    }
    partial_line_.append(chunk.substr(start, nl - start));
    emitLineLocked(std::move(partial_line_));
    partial_line_.clear();
  }
  if (!skipping_line_) partial_line_.append(chunk.substr(start));
  if (partial_line_.size() > kMaxLineBytes) {
    partial_line_.resize(kMaxLineBytes);
    emitLineLocked(std::move(partial_line_) + " [nimbus] line truncated");
    partial_line_.clear();
    skipping_line_ = true;
  }
}

void Instance::emitLineLocked(std::string line) {
  if (output_capped_) return;
  output_bytes_ += line.size() + 1;
  if (output_bytes_ > kMaxOutputBytes) {
    output_capped_ = true;
    logs_.append(config_.name, current_request_id_,
                 "[nimbus] output truncated: more than " + std::to_string(kMaxOutputBytes) +
                     " bytes in one invocation; the rest is not kept");
    return;
  }
  logs_.append(config_.name, current_request_id_, std::move(line));
}

asio::awaitable<void> Instance::watchExit() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec] = co_await exit_watch_->async_wait(asio::posix::descriptor_base::wait_read,
                                                 asio::as_tuple(asio::use_awaitable));
    int status = 0;
    if (process_->tryReap(&status)) {
      std::lock_guard lock(mutex_);
      wait_status_ = status;
      break;
    }
    if (ec && ec != asio::error::interrupted) {
      // Cannot watch any more: fall back to a blocking-free poll.
      asio::steady_timer t(ioc_);
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  dead_ = true;
  disarmTimer();
  process_->kill();  // whatever the leader left behind in its group
  channel_->close();
  endpoint_->stop();
  std::string request_id;  // the invocation it died in, if any
  {
    std::lock_guard lock(mutex_);
    request_id = current_request_id_;
  }
  log::info("pool", "instance exited",
            {{"function", config_.name},
             {"instance", id_},
             {"status", exitDescription()},
             {"request_id", request_id}});
}

std::string Instance::exitDescription() const {
  int st;
  {
    std::lock_guard lock(mutex_);
    st = wait_status_;
  }
  if (st < 0) return "unknown";
  if (WIFSIGNALED(st)) return signalDescription(WTERMSIG(st));
  int code = WEXITSTATUS(st);
  if (under_init_ && code > 128 && code < 128 + 65) {
    return signalDescription(code - 128);  // how nimbus-init reports a signal
  }
  return "exit status " + std::to_string(code);
}

void Instance::armTimer(int64_t deadline_steady_us) {
  uint64_t gen = ++timer_generation_;
  asio::post(strand_, [self = shared_from_this(), gen, deadline_steady_us] {
    if (gen != self->timer_generation_) return;
    self->timer_.expires_after(
        std::chrono::microseconds(std::max<int64_t>(0, deadline_steady_us - steadyNowMicros())));
    self->timer_.async_wait([self, gen](boost::system::error_code ec) {
      if (ec || gen != self->timer_generation_) return;
      self->timed_out_ = true;
      self->kill("timeout");
    });
  });
}

void Instance::disarmTimer() {
  ++timer_generation_;
  asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
}

void Instance::kill(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (kill_reason_.empty()) kill_reason_ = reason;
  }
  dead_ = true;
  if (process_) process_->kill();
  channel_->close();
}

asio::awaitable<Result<void>> Instance::waitReady(int timeout_ms) {
  auto self = shared_from_this();
  asio::steady_timer t(ioc_);
  const int64_t deadline = steadyNowMillis() + timeout_ms;
  while (ready_steady_us_.load() == 0) {
    if (!alive()) {
      std::optional<runtime_api::RuntimeReply> init_error = channel_->initError();
      if (init_error) {
        std::string body = normalizeErrorBody(init_error->body, init_error->error_type);
        co_return makeError(ErrorCode::kInternal, "FUNCTION_ERROR_INIT_FAILURE: " + body);
      }
      co_return makeError(ErrorCode::kInternal,
                          "The runtime exited during init: " + exitDescription());
    }
    if (steadyNowMillis() >= deadline) {
      kill("init timeout");
      co_return makeError(ErrorCode::kInternal, "The function's init did not finish within " +
                                                    std::to_string(timeout_ms) + " ms");
    }
    t.expires_after(std::chrono::milliseconds(5));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return Result<void>();
}

// Lets output the runtime wrote before answering reach the capture: the bytes are in
// the pipe already, the reader may just not have run yet.
asio::awaitable<void> Instance::drainOutput() {
  asio::steady_timer t(ioc_);
  for (int i = 0; i < 50 && !output_closed_; ++i) {
    int pending = 0;
    if (::ioctl(output_fd_, FIONREAD, &pending) != 0 || pending == 0) break;
    t.expires_after(std::chrono::milliseconds(1));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<model::InvokeResult> Instance::invoke(model::InvokeRequest request) {
  auto self = shared_from_this();
  model::InvokeResult result;
  result.request_id = request.request_id;
  result.executed_version = config_.version;
  result.memory_size_mb = config_.memory_mb;
  result.instance_id = id_;
  result.cold_start = !used_;
  used_ = true;
  const int64_t begin_us = steadyNowMicros();
  {
    std::lock_guard lock(mutex_);
    if (!result.cold_start) capture_.clear();  // a cold start's capture holds init output
    current_request_id_ = request.request_id;
    output_bytes_ = 0;
    output_capped_ = false;
  }
  logs_.append(config_.name, request.request_id,
               "START RequestId: " + request.request_id + " Version: " + config_.version);

  runtime_api::Event ev;
  ev.request_id = request.request_id;
  ev.payload = std::move(request.payload);
  const int64_t timeout_ms = static_cast<int64_t>(config_.timeout_s) * 1000;
  ev.timeout_ms = timeout_ms;
  ev.invoked_arn = request.invoked_arn;
  ev.trace_id = request.trace_id;
  ev.traceparent = request.traceparent;
  ev.tracestate = request.tracestate;
  ev.correlation_id = request.correlation_id;
  ev.client_context = request.client_context;
  ev.cognito_identity = request.cognito_identity;
  // Until the runtime takes the event, the clock is the init limit (cold) or the timeout.
  armTimer(begin_us + (timeout_ms + (result.cold_start ? 10000 : 0)) * 1000);
  auto slot = channel_->deliver(std::move(ev));
  runtime_api::RuntimeReply reply = co_await slot->wait();
  disarmTimer();
  const int64_t end_us = steadyNowMicros();

  int64_t taken_us = std::max(taken_steady_us_.load(), begin_us);
  int64_t ready_us = ready_steady_us_.load();
  if (result.cold_start && ready_us > 0) {
    result.init_ms = static_cast<double>(ready_us - started_steady_us_) / 1000.0;
  }
  result.duration_ms = static_cast<double>(end_us - taken_us) / 1000.0;

  using Kind = runtime_api::RuntimeReply::Kind;
  switch (reply.kind) {
    case Kind::kResponse:
      result.outcome = Outcome::kSuccess;
      result.payload = std::move(reply.body);
      break;
    case Kind::kError:
      result.outcome = Outcome::kFunctionError;
      result.payload = normalizeErrorBody(std::move(reply.body), reply.error_type);
      result.error_type = errorTypeOf(result.payload, reply.error_type);
      break;
    case Kind::kInitError:
      result.outcome = Outcome::kInitError;
      result.payload = normalizeErrorBody(std::move(reply.body), reply.error_type);
      result.error_type = errorTypeOf(result.payload, reply.error_type);
      kill("init error");
      break;
    case Kind::kClosed:
      if (timed_out_) {
        result.outcome = Outcome::kTimeout;
        result.payload = timeoutErrorBody(request.request_id, config_.timeout_s);
        result.error_type = "Sandbox.Timedout";
      } else {
        // Give the exit watcher a moment to reap, so the message can say how it died.
        asio::steady_timer t(ioc_);
        for (int i = 0; i < 100 && exitDescription() == "unknown"; ++i) {
          t.expires_after(std::chrono::milliseconds(2));
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        const bool oom = process_->oomKilled();
        result.outcome = oom ? Outcome::kOutOfMemory : Outcome::kExitError;
        result.error_type = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";
        result.payload = exitErrorBody(request.request_id, exitDescription(), result.error_type);
      }
      break;
  }
  if (result.outcome == Outcome::kTimeout) kill("timeout");
  co_await drainOutput();

  // The peak is a cgroup or /proc file (four syscalls): on a stream of short warm
  // invocations it is read again at most every kMaxMemoryRefreshMs; it only grows, so a
  // report may lag by that much growth. Failures and long invocations read it afresh.
  const int64_t now_ms = steadyNowMillis();
  if (result.outcome != Outcome::kSuccess || now_ms - max_memory_read_ms_ >= kMaxMemoryRefreshMs ||
      result.duration_ms >= kMaxMemoryRefreshMs) {
    max_memory_bytes_ = process_->maxMemoryBytes();
    max_memory_read_ms_ = now_ms;
  }
  result.max_memory_mb = (max_memory_bytes_ + 1024 * 1024 - 1) / (1024 * 1024);
  result.billed_ms = static_cast<int64_t>(std::ceil(result.duration_ms));
  if (result.billed_ms < 1) result.billed_ms = 1;

  std::string captured;
  {
    std::lock_guard lock(mutex_);
    captured = std::move(capture_);
    capture_.clear();
  }
  std::vector<std::string> tail_lines;
  if (result.outcome == Outcome::kTimeout) {
    tail_lines.push_back(formatIso8601Millis(systemNowMillis()) + " " + request.request_id +
                         " Task timed out after " + formatSeconds(config_.timeout_s) + " seconds");
  }
  result.log = buildInvocationLog(result, captured, tail_lines);
  for (const auto& line : tail_lines) logs_.append(config_.name, request.request_id, line);
  logs_.append(config_.name, request.request_id, "END RequestId: " + request.request_id);
  logs_.append(config_.name, request.request_id, reportLine(result));
  {
    std::lock_guard lock(mutex_);
    current_request_id_.clear();
  }
  touch();
  co_return result;
}

}  // namespace nimbus::pool
