// Warm-pool bookkeeping. The mutex guards only bookkeeping; starting a process and
// waiting for an invocation happen outside it.
#include "pool/pool.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/one_shot.h"
#include "base/time.h"

namespace nimbus::pool {

namespace asio = boost::asio;

namespace {

bool eraseFrom(std::vector<std::shared_ptr<Instance>>& v, const std::shared_ptr<Instance>& inst) {
  auto it = std::find(v.begin(), v.end(), inst);
  if (it == v.end()) return false;
  v.erase(it);
  return true;
}

}  // namespace

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

std::string Pool::targetKey(const std::string& name, const std::string& version) {
  return name + ":" + version;
}

void Pool::setConfigResolver(ConfigResolver resolver) {
  std::lock_guard lock(mutex_);
  resolver_ = std::move(resolver);
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
    inst = popIdleLocked(idle_provisioned_, key);
    if (!inst) inst = popIdleLocked(idle_, key);
    if (!inst) {
      if (all_.size() >= static_cast<size_t>(options_.max_instances)) {
        Error e = makeError(ErrorCode::kTooManyRequests, "Rate Exceeded.");
        e.reason = "ConcurrentInvocationLimitExceeded";
        co_return e;
      }
      int64_t held = 0;
      if (!reserveMemoryLocked(config.name, config.memory_mb, &held)) {
        std::string message = "Rate Exceeded: starting another " +
                              std::to_string(config.memory_mb) +
                              " MB instance would exceed the host memory budget of " +
                              std::to_string(options_.memory_budget_mb) + " MB";
        if (held > 0) {
          message += " (" + std::to_string(held) +
                     " MB of it held for other functions' reserved concurrency)";
        }
        Error e = makeError(ErrorCode::kTooManyRequests,
                            message + " and no idle instance can be reaped.");
        e.reason = "MemoryBudgetExceeded";
        log::warn("pool", "memory budget exhausted",
                  {{"function", config.name},
                   {"request_id", request.request_id},
                   {"live_memory_mb", std::to_string(live_memory_mb_)},
                   {"live_instances", std::to_string(all_.size())},
                   {"busy", std::to_string(busy_)},
                   {"held_for_reservations_mb", std::to_string(held)}});
        co_return e;
      }
    }
    ++busy_;
  }

  if (!inst) {
    if (!code_.contains(config.code_digest_hex)) {
      std::lock_guard lock(mutex_);
      --busy_;
      unchargeLocked(config.name, config.memory_mb);
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
      unchargeLocked(config.name, config.memory_mb);
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

// Pops the most recently used live instance of `key`, or nullptr. Dead ones met on the
// way are dropped (and replaced, when provisioned).
std::shared_ptr<Instance> Pool::popIdleLocked(Stacks& stacks, const std::string& key) {
  std::shared_ptr<Instance> found;
  std::vector<std::shared_ptr<Instance>> dead;
  auto it = stacks.find(key);
  while (!found && it != stacks.end() && !it->second.empty()) {
    auto candidate = std::move(it->second.back());
    it->second.pop_back();
    if (candidate->alive()) {
      found = std::move(candidate);
    } else {
      dead.push_back(std::move(candidate));
    }
  }
  for (const auto& inst : dead) {
    dropLocked(inst);
    if (inst->provisioned()) replaceProvisionedLocked(inst);
  }
  return found;
}

void Pool::release(const std::shared_ptr<Instance>& inst, const std::string& key) {
  std::lock_guard lock(mutex_);
  --busy_;
  bool reusable = inst->alive() && !shutting_down_ && !retired_.count(inst->id());
  if (reusable) {
    (inst->provisioned() ? idle_provisioned_ : idle_)[key].push_back(inst);
    return;
  }
  inst->kill(shutting_down_ ? "shutdown" : "retired");
  dropLocked(inst);
  retired_.erase(inst->id());
  if (inst->provisioned()) replaceProvisionedLocked(inst);
}

void Pool::chargeLocked(const std::string& function, int memory_mb) {
  live_memory_mb_ += memory_mb;
  ++live_by_function_[function];
}

void Pool::unchargeLocked(const std::string& function, int memory_mb) {
  live_memory_mb_ -= memory_mb;
  auto it = live_by_function_.find(function);
  if (it != live_by_function_.end() && --it->second <= 0) live_by_function_.erase(it);
}

void Pool::dropLocked(const std::shared_ptr<Instance>& inst) {
  if (all_.erase(inst) > 0) unchargeLocked(inst->config().name, inst->config().memory_mb);
}

std::map<std::string, policy::ReservationUse> Pool::reservationUsesLocked() {
  std::map<std::string, policy::ReservationUse> uses;
  for (const auto& [name, reserved] : admission_.reservations()) {
    auto& use = uses[name];
    use.reserved = reserved;
    auto live = live_by_function_.find(name);
    use.live = live == live_by_function_.end() ? 0 : live->second;
    auto mem = memory_by_function_.find(name);
    if (mem == memory_by_function_.end() && reserved > 0 && resolver_) {
      // Not started here yet: its MemorySize comes from the store (once).
      if (auto c = resolver_(name, model::kLatest)) {
        mem = memory_by_function_.emplace(name, c->memory_mb).first;
      }
    }
    use.memory_mb = mem == memory_by_function_.end() ? 0 : mem->second;
  }
  return uses;
}

// Makes room for `memory_mb` more: reaps idle on-demand instances, least recently used
// first, whatever their function (the caller found none idle of its own), leaving free
// what other functions' unused reserved concurrency needs.
bool Pool::reserveMemoryLocked(const std::string& function, int memory_mb, int64_t* held) {
  memory_by_function_[function] = memory_mb;
  auto uses = reservationUsesLocked();
  for (;;) {
    *held = policy::heldForReservations(uses, function);
    if (live_memory_mb_ + memory_mb + *held <= options_.memory_budget_mb) break;
    std::vector<std::shared_ptr<Instance>>* lru_stack = nullptr;
    size_t lru_index = 0;
    int64_t lru_time = INT64_MAX;
    for (auto& [key, stack] : idle_) {
      for (size_t i = 0; i < stack.size(); ++i) {
        if (stack[i]->lastUsedMs() < lru_time &&
            policy::reapFreesMemory(uses, stack[i]->config().name, function)) {
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
    if (auto it = uses.find(victim->config().name); it != uses.end()) --it->second.live;
  }
  chargeLocked(function, memory_mb);
  return true;
}

void Pool::retire(const std::string& function_name) {
  std::vector<std::pair<std::string, uint64_t>> refresh;
  {
    std::lock_guard lock(mutex_);
    for (Stacks* stacks : {&idle_, &idle_provisioned_}) {
      for (auto it = stacks->begin(); it != stacks->end();) {
        if (it->first.rfind(function_name + ":", 0) == 0) {
          for (auto& inst : it->second) {
            inst->kill("function changed");
            dropLocked(inst);
          }
          it = stacks->erase(it);
        } else {
          ++it;
        }
      }
    }
    for (const auto& inst : all_) {
      if (inst->config().name == function_name) retired_.insert(inst->id());
    }
    memory_by_function_.erase(function_name);  // MemorySize may have changed
    for (auto& [key, t] : targets_) {
      if (t.config.name != function_name) continue;
      t.instances.clear();  // ended above, or retired when their invocation ends
      t.starting = 0;
      t.generation = next_generation_++;
      refresh.emplace_back(key, t.generation);
    }
  }
  for (const auto& [key, generation] : refresh) refreshTarget(key, generation);
}

// Provisions a target again with the function's current configuration, or drops it
// when the function is gone.
void Pool::refreshTarget(const std::string& key, uint64_t generation) {
  ConfigResolver resolver;
  std::string name, version;
  {
    std::lock_guard lock(mutex_);
    auto it = targets_.find(key);
    if (it == targets_.end() || it->second.generation != generation) return;
    resolver = resolver_;
    name = it->second.config.name;
    version = it->second.config.version;
  }
  std::optional<Result<model::FunctionConfig>> fresh;
  if (resolver) fresh.emplace(resolver(name, version));
  std::lock_guard lock(mutex_);
  auto it = targets_.find(key);
  if (it == targets_.end() || it->second.generation != generation) return;
  if (fresh && !*fresh && fresh->error().code == ErrorCode::kNotFound) {
    log::info("pool", "provisioned concurrency config dropped with its function",
              {{"function", name}, {"version", version}});
    targets_.erase(it);
    return;
  }
  if (fresh && *fresh) {
    it->second.config = **fresh;
    it->second.failure.clear();
  }
  log::info("pool", "provisioning again after a change",
            {{"function", name}, {"version", version}});
  fillLocked(key, it->second);
}

void Pool::provision(const model::FunctionConfig& config, int count, int64_t last_modified_ms) {
  std::lock_guard lock(mutex_);
  const std::string key = targetKey(config.name, config.version);
  Target& t = targets_[key];
  if (t.generation == 0 || t.config.revision_id != config.revision_id) {
    retireTargetLocked(t);
    t.generation = next_generation_++;
    t.starting = 0;
  }
  t.config = config;
  t.requested = count;
  t.last_modified_ms = last_modified_ms;
  t.failure.clear();
  // Fewer wanted: idle extras end now, busy ones after their invocation.
  auto& idle = idle_provisioned_[keyOf(config)];
  while (static_cast<int>(t.instances.size()) > t.requested) {
    std::shared_ptr<Instance> extra;
    for (const auto& inst : t.instances) {
      if (std::find(idle.begin(), idle.end(), inst) != idle.end()) extra = inst;
    }
    if (!extra) extra = t.instances.back();
    eraseFrom(t.instances, extra);
    if (eraseFrom(idle, extra)) {
      extra->kill("provisioned concurrency lowered");
      dropLocked(extra);
    } else {
      retired_.insert(extra->id());
    }
  }
  log::info("pool", "provisioned concurrency set",
            {{"function", config.name},
             {"version", config.version},
             {"requested", std::to_string(count)}});
  fillLocked(key, t);
}

void Pool::unprovision(const std::string& function, const std::string& version) {
  std::lock_guard lock(mutex_);
  auto it = targets_.find(targetKey(function, version));
  if (it == targets_.end()) return;
  retireTargetLocked(it->second);
  targets_.erase(it);
  log::info("pool", "provisioned concurrency removed",
            {{"function", function}, {"version", version}});
}

void Pool::retireTargetLocked(Target& t) {
  if (t.generation == 0) return;
  auto stack = idle_provisioned_.find(keyOf(t.config));
  for (const auto& inst : t.instances) {
    if (stack != idle_provisioned_.end() && eraseFrom(stack->second, inst)) {
      inst->kill("provisioned concurrency removed");
      dropLocked(inst);
    } else {
      retired_.insert(inst->id());
    }
  }
  t.instances.clear();
}

std::optional<ProvisionedStatus> Pool::provisionedStatus(const std::string& function,
                                                         const std::string& version) const {
  std::lock_guard lock(mutex_);
  auto it = targets_.find(targetKey(function, version));
  if (it == targets_.end()) return std::nullopt;
  const Target& t = it->second;
  ProvisionedStatus s;
  s.requested = t.requested;
  s.allocated = std::min(t.requested, static_cast<int>(t.instances.size()));
  s.last_modified_ms = t.last_modified_ms;
  if (!t.failure.empty() && s.allocated < s.requested) {
    s.status = "FAILED";
    s.status_reason = t.failure;
  } else {
    s.status = s.allocated >= s.requested ? "READY" : "IN_PROGRESS";
  }
  return s;
}

void Pool::fillLocked(const std::string& key, Target& t) {
  if (shutting_down_ || !t.failure.empty()) return;
  int missing = t.requested - static_cast<int>(t.instances.size()) - t.starting;
  for (int i = 0; i < missing; ++i) {
    if (all_.size() + static_cast<size_t>(t.starting) >=
        static_cast<size_t>(options_.max_instances)) {
      t.failure = "The host's instance limit (--max-instances " +
                  std::to_string(options_.max_instances) + ") is reached.";
      break;
    }
    int64_t held = 0;
    if (!reserveMemoryLocked(t.config.name, t.config.memory_mb, &held)) {
      t.failure = "Not enough memory: another " + std::to_string(t.config.memory_mb) +
                  " MB instance would exceed the host memory budget of " +
                  std::to_string(options_.memory_budget_mb) + " MB.";
      break;
    }
    ++t.starting;
    asio::co_spawn(asio::make_strand(ioc_), provisionOne(key, t.generation, t.config),
                   asio::detached);
  }
  if (!t.failure.empty()) {
    log::warn("pool", "cannot provision",
              {{"function", t.config.name}, {"version", t.config.version}, {"error", t.failure}});
  }
}

asio::awaitable<void> Pool::provisionOne(std::string key, uint64_t generation,
                                         model::FunctionConfig config) {
  InstanceSettings settings = options_.instance;
  settings.provisioned = true;
  auto launched = std::make_shared<OneShot<Result<std::shared_ptr<Instance>>>>();
  asio::post(launch_threads_,
             [this, launched, config, settings, code_dir = code_.pathFor(config.code_digest_hex)] {
               launched->set(Instance::start(ioc_, launcher_, config, code_dir, settings, logs_));
             });
  std::optional<Result<std::shared_ptr<Instance>>> started;
  started = co_await launched->wait();
  std::shared_ptr<Instance> inst;
  Result<void> ready;
  if (*started) {
    inst = **started;
    ready = co_await inst->waitReady(options_.instance.init_timeout_ms);
  } else {
    ready = started->error();
  }

  std::lock_guard lock(mutex_);
  auto it = targets_.find(key);
  const bool current =
      it != targets_.end() && it->second.generation == generation && !shutting_down_;
  if (current) --it->second.starting;
  const bool wanted =
      current && ready.ok() && static_cast<int>(it->second.instances.size()) < it->second.requested;
  if (!wanted) {
    if (inst) inst->kill(ready.ok() ? "provisioned instance not needed" : "init failed");
    unchargeLocked(config.name, config.memory_mb);
    if (current && !ready.ok()) {
      it->second.failure = ready.error().message;
      log::warn("pool", "provisioned instance failed",
                {{"function", config.name}, {"error", ready.error().message}});
    }
    co_return;
  }
  all_.insert(inst);
  it->second.instances.push_back(inst);
  idle_provisioned_[keyOf(config)].push_back(inst);
  log::info("pool", "provisioned instance ready",
            {{"function", config.name},
             {"instance", inst->id()},
             {"allocated", std::to_string(it->second.instances.size())},
             {"requested", std::to_string(it->second.requested)}});
}

void Pool::replaceProvisionedLocked(const std::shared_ptr<Instance>& inst) {
  auto it = targets_.find(targetKey(inst->config().name, inst->config().version));
  if (it == targets_.end() || !eraseFrom(it->second.instances, inst)) return;
  log::info("pool", "replacing provisioned instance",
            {{"function", inst->config().name}, {"instance", inst->id()}});
  fillLocked(it->first, it->second);
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
  const int64_t now = steadyNowMillis();
  std::lock_guard lock(mutex_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& stack = it->second;
    for (auto s = stack.begin(); s != stack.end();) {
      const int64_t cutoff = now - policy::keepAliveMs((*s)->config(), options_.keep_alive);
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
  // Provisioned instances are never reaped; one that died while idle is replaced.
  std::vector<std::shared_ptr<Instance>> dead;
  for (auto it = idle_provisioned_.begin(); it != idle_provisioned_.end();) {
    auto& stack = it->second;
    for (auto s = stack.begin(); s != stack.end();) {
      if ((*s)->alive()) {
        ++s;
        continue;
      }
      dead.push_back(*s);
      dropLocked(*s);
      s = stack.erase(s);
    }
    it = stack.empty() ? idle_provisioned_.erase(it) : std::next(it);
  }
  for (const auto& inst : dead) replaceProvisionedLocked(inst);
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
    idle_provisioned_.clear();
    targets_.clear();
    all_.clear();
    live_by_function_.clear();
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

std::map<std::string, size_t> Pool::provisionedInstances() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, size_t> out;
  for (const auto& [key, t] : targets_) out[t.config.name] += t.instances.size();
  return out;
}

int Pool::liveMemoryMb() const {
  std::lock_guard lock(mutex_);
  return live_memory_mb_;
}

size_t Pool::idleInstances() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  for (const auto& [k, v] : idle_provisioned_) n += v.size();
  return n;
}

}  // namespace nimbus::pool
