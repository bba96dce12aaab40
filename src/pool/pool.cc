// Warm-pool bookkeeping. The mutex guards only bookkeeping; starting a process and
// waiting for an invocation happen outside it.
#include "pool/pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/one_shot.h"
#include "base/time.h"

namespace nimbus::pool {

namespace asio = boost::asio;

Pool::Pool(asio::io_context& ioc, sandbox::ProcessLauncher& launcher, store::CodeStore& code,
           FunctionLogs& logs, PoolOptions options)
    : ioc_(ioc),
      launcher_(launcher),
      code_(code),
      logs_(logs),
      options_(std::move(options)),
      reap_timer_(asio::make_strand(ioc)),
      admission_(options_.concurrency_limit) {
  scheduleReap();
  if (options_.instance.sandboxed) {
    // The managed python runtimes' bytecode, before the first cold start needs it.
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(options_.instance.runtimes_dir, ec)) {
      if (!entry.is_directory(ec) || !isPythonRuntime(entry.path().filename().string())) continue;
      asio::post(launch_threads_, [this, dir = entry.path()] { bytecode_.ensureCompiled(dir); });
    }
  }
}

Pool::~Pool() {
  std::lock_guard lock(mutex_);
  for (const auto& inst : all_) inst->kill("pool destroyed");
}

std::string Pool::keyOf(const model::FunctionConfig& c) {
  return c.name + ":" + c.version + "@" + c.revision_id;
}

asio::awaitable<Result<model::InvokeResult>> Pool::invoke(const model::FunctionConfig& config,
                                                          model::InvokeRequest request) {
  auto slot = admission_.admit(config.name);
  if (!slot && options_.throttle_wait_ms > 0 && admission_.reservation(config.name) != 0) {
    // Bounded wait: a short burst queues for a free slot instead of failing at once.
    asio::steady_timer t(ioc_);
    const int64_t deadline = steadyNowMillis() + options_.throttle_wait_ms;
    while (!slot && steadyNowMillis() < deadline) {
      t.expires_after(std::chrono::milliseconds(5));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      slot = admission_.admit(config.name);
    }
  }
  if (!slot) {
    log::info("pool", "throttled",
              {{"function", config.name},
               {"request_id", request.request_id},
               {"reason", slot.error().reason}});
    co_return slot.error();
  }
  auto result = co_await run(config, std::move(request));
  admission_.release(*slot);
  co_return result;
}

asio::awaitable<Result<model::InvokeResult>> Pool::run(const model::FunctionConfig& config,
                                                       model::InvokeRequest request) {
  const std::string key = keyOf(config);
  std::shared_ptr<Instance> inst;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) {
      co_return makeError(ErrorCode::kUnavailable, "nimbus is shutting down");
    }
    auto it = idle_.find(key);
    while (it != idle_.end() && !it->second.empty() && !inst) {
      auto candidate = std::move(it->second.back());
      it->second.pop_back();
      if (candidate->alive()) {
        inst = std::move(candidate);
      } else {
        // Its process ended while idle: forget it, or its cgroup, /tmp volume and
        // memory share would stay taken until shutdown.
        dropLocked(candidate);
      }
    }
    if (!inst) {
      if (all_.size() >= static_cast<size_t>(options_.max_instances)) {
        Error e = makeError(ErrorCode::kTooManyRequests, "Rate Exceeded.");
        e.reason = "ConcurrentInvocationLimitExceeded";
        co_return e;
      }
      if (!reserveMemoryLocked(config.memory_mb)) {
        Error e = makeError(ErrorCode::kTooManyRequests,
                            "Rate Exceeded: starting another " + std::to_string(config.memory_mb) +
                                " MB instance would exceed the host memory budget of " +
                                std::to_string(options_.memory_budget_mb) +
                                " MB and no idle instance can be reaped.");
        e.reason = "MemoryBudgetExceeded";
        log::warn("pool", "memory budget exhausted",
                  {{"function", config.name}, {"request_id", request.request_id}});
        co_return e;
      }
    }
    ++busy_;
  }

  if (!inst) {
    if (!code_.contains(config.code_digest_hex)) {
      std::lock_guard lock(mutex_);
      --busy_;
      live_memory_mb_ -= config.memory_mb;
      co_return makeError(ErrorCode::kInternal,
                          "code package " + config.code_digest_hex + " is missing");
    }
    // Starting an instance blocks for milliseconds (clone, namespaces, mounts): do it on
    // the launch threads, so that overlapping cold starts run side by side and the I/O
    // threads keep serving.
    auto launched = std::make_shared<OneShot<Result<std::shared_ptr<Instance>>>>();
    asio::post(launch_threads_, [this, launched, config,
                                 code_dir = code_.pathFor(config.code_digest_hex)] {
      launched->set(Instance::start(ioc_, launcher_, config, code_dir, options_.instance, logs_));
    });
    auto started = co_await launched->wait();
    if (!started) {
      std::lock_guard lock(mutex_);
      --busy_;
      live_memory_mb_ -= config.memory_mb;
      log::error("pool", "cannot start instance",
                 {{"function", config.name},
                  {"request_id", request.request_id},
                  {"error", started.error().message}});
      co_return started.error();
    }
    inst = std::move(*started);
    std::lock_guard lock(mutex_);
    all_.insert(inst);
  }

  model::InvokeResult result = co_await inst->invoke(std::move(request));
  release(inst, key);
  co_return result;
}

void Pool::release(const std::shared_ptr<Instance>& inst, const std::string& key) {
  std::lock_guard lock(mutex_);
  --busy_;
  bool reusable = inst->alive() && !shutting_down_ && !retired_.count(inst->id());
  if (reusable) {
    idle_[key].push_back(inst);
  } else {
    inst->kill(shutting_down_ ? "shutdown" : "retired");
    dropLocked(inst);
    retired_.erase(inst->id());
  }
}

void Pool::dropLocked(const std::shared_ptr<Instance>& inst) {
  if (all_.erase(inst) > 0) live_memory_mb_ -= inst->config().memory_mb;
}

// Makes room for `memory_mb` more: reaps idle instances, least recently used first,
// whatever their function (the caller found none idle of its own).
bool Pool::reserveMemoryLocked(int memory_mb) {
  while (live_memory_mb_ + memory_mb > options_.memory_budget_mb) {
    std::vector<std::shared_ptr<Instance>>* lru_stack = nullptr;
    size_t lru_index = 0;
    int64_t lru_time = INT64_MAX;
    for (auto& [key, stack] : idle_) {
      for (size_t i = 0; i < stack.size(); ++i) {
        if (stack[i]->lastUsedMs() < lru_time) {
          lru_time = stack[i]->lastUsedMs();
          lru_stack = &stack;
          lru_index = i;
        }
      }
    }
    if (!lru_stack) return false;
    auto victim = (*lru_stack)[lru_index];
    lru_stack->erase(lru_stack->begin() + static_cast<long>(lru_index));
    log::info("pool", "reaping idle instance for memory",
              {{"function", victim->config().name}, {"instance", victim->id()}});
    victim->kill("memory budget");
    dropLocked(victim);
  }
  live_memory_mb_ += memory_mb;
  return true;
}

void Pool::retire(const std::string& function_name) {
  std::lock_guard lock(mutex_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->first.rfind(function_name + ":", 0) == 0) {
      for (auto& inst : it->second) {
        inst->kill("function changed");
        dropLocked(inst);
      }
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& inst : all_) {
    if (inst->config().name == function_name) retired_.insert(inst->id());
  }
}

void Pool::scheduleReap() {
  reap_timer_.expires_after(std::chrono::seconds(1));
  reap_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    reapIdle();
    std::lock_guard lock(mutex_);
    if (!shutting_down_) scheduleReap();
  });
}

void Pool::reapIdle() {
  const int64_t cutoff =
      steadyNowMillis() -
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.keep_alive).count();
  std::lock_guard lock(mutex_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& stack = it->second;
    for (auto s = stack.begin(); s != stack.end();) {
      if (!(*s)->alive() || (*s)->lastUsedMs() < cutoff) {
        if ((*s)->alive()) {
          log::info("pool", "reaping idle instance",
                    {{"function", (*s)->config().name}, {"instance", (*s)->id()}});
        }
        (*s)->kill("keep-alive expired");
        dropLocked(*s);
        s = stack.erase(s);
      } else {
        ++s;
      }
    }
    it = stack.empty() ? idle_.erase(it) : std::next(it);
  }
}

asio::awaitable<void> Pool::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
  }
  asio::steady_timer t(ioc_);
  const int64_t deadline = steadyNowMillis() + grace.count();
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (busy_ == 0 || steadyNowMillis() >= deadline) break;
    }
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::vector<std::shared_ptr<Instance>> all;
  {
    std::lock_guard lock(mutex_);
    all.assign(all_.begin(), all_.end());
    idle_.clear();
    all_.clear();
    live_memory_mb_ = 0;
  }
  for (const auto& inst : all) inst->kill("shutdown");
  // Wait (bounded) for every process to be reaped, so none outlives us.
  for (int i = 0; i < 250; ++i) {
    bool any = false;
    for (const auto& inst : all) any = any || inst.use_count() > 1;
    if (!any) break;
    t.expires_after(std::chrono::milliseconds(20));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  reap_timer_.cancel();
}

size_t Pool::liveInstances() const {
  std::lock_guard lock(mutex_);
  return all_.size();
}

int Pool::liveMemoryMb() const {
  std::lock_guard lock(mutex_);
  return live_memory_mb_;
}

size_t Pool::idleInstances() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  return n;
}

}  // namespace nimbus::pool
