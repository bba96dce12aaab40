// The composition root: builds every component from the options, wires them, serves
// until a signal, then shuts down in order (stop accepting, let invocations finish,
// end instances, stop threads).
#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "base/blocking_worker.h"
#include "base/log.h"
#include "base/time.h"
#include "control/api_handler.h"
#include "control/concurrency_api.h"
#include "control/event_invoke_config_api.h"
#include "control/functions_api.h"
#include "control/observability_api.h"
#include "control/provisioned_api.h"
#include "control/queues_api.h"
#include "control/root_credentials.h"
#include "control/settings_api.h"
#include "control/stats_api.h"
#include "gateway/error_mapping.h"
#include "gateway/invoke_endpoint.h"
#include "invoke/invoker.h"
#include "observability/observer.h"
#include "pool/pool.h"
#include "queue/dispatcher.h"
#include "queue/group_committer.h"
#include "queue/idempotency.h"
#include "queue/replayer.h"
#include "queue/sweeper.h"
#include "sandbox/process.h"
#include "server/otlp_exporter.h"
#include "server/sandbox_setup.h"
#include "server/serve_options.h"
#include "store/cached_store.h"
#include "store/code_store.h"
#include "store/sqlite_store.h"

namespace nimbus::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr const char* kComponent = "server";

fs::path findRuntimesDir(const std::string& configured) {
  if (!configured.empty()) return fs::absolute(configured);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path() / "runtimes");
    candidates.push_back(exe.parent_path().parent_path() / "share/nimbus/runtimes");
  }
  candidates.push_back(fs::path(NIMBUS_SOURCE_DIR) / "runtimes");
  for (const auto& c : candidates) {
    if (fs::exists(c / "python3.11" / "bootstrap", ec)) return c;
  }
  return candidates.back();
}

Result<asio::ip::tcp::endpoint> parseListen(const std::string& text) {
  static const std::regex kHostPort(R"(\[?([^\]]*)\]?:(\d{1,5}))");
  std::smatch m;
  if (!std::regex_match(text, m, kHostPort)) {
    return makeError(ErrorCode::kInvalidParameter, "--listen must be host:port, got " + text);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(m[1].str(), ec);
  int port = std::stoi(m[2].str());
  if (ec || port > 65535) {
    return makeError(ErrorCode::kInvalidParameter, "--listen: bad address " + text);
  }
  return asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
}

log::Level levelOf(const std::string& s) {
  if (s == "debug") return log::Level::kDebug;
  if (s == "warn") return log::Level::kWarn;
  if (s == "error") return log::Level::kError;
  return log::Level::kInfo;
}

// 80% of MemTotal: the rest stays for nimbus, the page cache and the host.
int defaultMemoryBudgetMb() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long long kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemTotal:") return static_cast<int>(kb / 1024 * 8 / 10);
    meminfo.ignore(64, '\n');
  }
  return 4096;
}

int fail(const std::string& what, const Error& e) {
  log::error(kComponent, what, {{"error", e.message}});
  return 1;
}

}  // namespace

int runServe(const ServeOptions& o) {
  log::setMinLevel(levelOf(o.log_level));
  // Instances are started by clone() from io threads; the children must not inherit a
  // SIGPIPE-ignoring or blocked-signal state (the launcher resets both), and we must not
  // die of SIGPIPE writing to a closed socket.
  ::signal(SIGPIPE, SIG_IGN);

  auto endpoint = parseListen(o.listen);
  if (!endpoint) return fail("bad configuration", endpoint.error());
  if (!std::regex_match(o.account_id, std::regex(R"(\d{12})"))) {
    return fail("bad configuration",
                makeError(ErrorCode::kInvalidParameter, "--account-id must be 12 digits"));
  }
  if (!o.store.empty()) {
    return fail("bad configuration",
                makeError(ErrorCode::kInvalidParameter,
                          "--store " + o.store + ": only the embedded SQLite store exists yet"));
  }

  std::error_code fec;
  fs::path data = fs::absolute(o.data_dir);
  fs::create_directories(data / "code", fec);
  if (fec) {
    return fail("cannot create data folder",
                makeError(ErrorCode::kInternal, data.string() + ": " + fec.message()));
  }
  auto creds =
      control::loadOrCreateRootCredentials(data, [](const char* n) { return std::getenv(n); });
  if (!creds) return fail("cannot load root credentials", creds.error());
  if (creds->created) {
    log::info(kComponent, "created root credentials",
              {{"path", creds->source}, {"access_key_id", creds->access_key_id}});
  } else {
    log::info(kComponent, "root credentials loaded",
              {{"source", creds->source}, {"access_key_id", creds->access_key_id}});
  }

  auto sqlite = store::SqliteStore::open(data / "nimbus.db");
  if (!sqlite) return fail("cannot open store", sqlite.error());
  // The queue side of the same store; CachedStore (below) takes ownership of it.
  store::QueueStore& queues = **sqlite;
  // Warm invokes resolve their function from memory, not from SQLite.
  std::unique_ptr<store::Store> store = std::make_unique<store::CachedStore>(std::move(*sqlite));
  store::CodeStore code(data / "code");
  if (auto keep = store->referencedCodeDigests(); keep) code.collectGarbage(*keep);

  // Before the io_context: handlers still queued in it at the end own instances, whose
  // cgroups and /tmp volumes must go before the sandbox parts they came from.
  auto launcher_setup = makeLauncher(o.sandbox, data, o.egress_subnet);
  if (!launcher_setup) return fail("cannot set up the sandbox", launcher_setup.error());
  auto& launcher = launcher_setup->launcher;
  asio::io_context ioc;
  pool::FunctionLogs logs;
  pool::PoolOptions pool_options;
  pool_options.instance.runtimes_dir = findRuntimesDir(o.runtimes_dir);
  pool_options.instance.region = o.region;
  pool_options.instance.sandboxed = launcher_setup->sandboxed;
  pool_options.instance.init_path = launcher_setup->init_path;
  pool_options.keep_alive = std::chrono::seconds(o.keep_alive_seconds);
  pool_options.max_instances = o.max_instances;
  pool_options.concurrency_limit = o.concurrency_limit;
  pool_options.throttle_wait_ms = o.throttle_wait_ms;
  pool_options.memory_budget_mb =
      o.memory_budget_mb > 0 ? o.memory_budget_mb : defaultMemoryBudgetMb();
  // Metrics, invocation records and persisted function logs (written in batches off the
  // invoke path, pruned by the retention thread).
  observability::ObserverOptions observer_options;
  observer_options.records = o.records == "on";
  observer_options.retention = observability::RetentionPolicy{
      o.records_retention_hours, o.records_max, o.logs_retention_hours, o.logs_max_bytes};
  observer_options.sweep_interval = std::chrono::seconds(o.retention_sweep_seconds);
  if (!o.otlp_endpoint.empty()) {
    auto exporter = server::OtlpHttpExporter::create(o.otlp_endpoint,
                                                     std::chrono::milliseconds(o.otlp_timeout_ms));
    if (!exporter) return fail("bad --otlp-endpoint", exporter.error());
    observer_options.span_exporter = std::move(*exporter);
    observer_options.tracer.resource.attributes.emplace_back("cloud.region", o.region);
    log::info(kComponent, "exporting trace spans", {{"otlp_endpoint", o.otlp_endpoint}});
  }
  observability::Observer observer(*store, observer_options);
  if (observer.recordsEnabled()) {
    logs.setSink([&observer](const std::string& function, const pool::LogEvent& e) {
      observer.logLine(function, e.request_id, e.timestamp_ms, e.message);
    });
  }
  pool::Pool pool(ioc, *launcher, code, logs, pool_options);
  pool.setConfigResolver([&store](const std::string& name, const std::string& version) {
    return store->getFunction(name, version);
  });
  observer.metrics().setSources(observability::ScrapeSources{
      [&pool] { return pool.idleInstances(); },
      [&pool] {
        const size_t live = pool.liveInstances(), idle = pool.idleInstances();
        return live > idle ? live - idle : 0;
      },
      [&pool] { return pool.provisionedInstances(); },
      [&store] { return store->asyncQueueStats(); }, [] { return systemNowMillis(); }, "/proc"});
  model::ArnContext arn{o.region, o.account_id};
  invoke::Invoker invoker(*store, pool, arn, &observer);

  // The durable async queue: events are committed (in groups) before their 202, and
  // the dispatcher delivers them through the same invoker as sync invokes.
  // Each commit wakes the dispatcher, so a new event is claimed at once.
  queue::DispatcherWakeup wake_dispatcher;
  queue::GroupCommitter async_queue(
      [&store, &wake_dispatcher](const std::vector<store::AsyncEvent>& events) {
        auto ids = store->enqueueEvents(events);
        if (ids) wake_dispatcher();
        return ids;
      });
  SystemClock clock;
  // Blocking store calls of the async side (claims, ends, queues, keys) run here, off
  // the I/O threads.
  BlockingWorker store_worker(2);
  // Reads of records, logs and stats scan the store: their own thread, so that a large
  // query neither stalls an I/O thread nor delays the async side's claims.
  BlockingWorker query_worker(1);
  queue::RetryOptions retry_options{o.async_retry_base_ms, o.async_retry_cap_ms,
                                    o.async_throttle_delay_ms};
  queue::Dispatcher dispatcher(ioc, *store, queues, store_worker, invoker, async_queue,
                               queue::RetryPolicy(retry_options, queue::systemRandom()), clock,
                               queue::DispatcherOptions{o.async_workers});
  queue::DispatcherWakeup::Attachment dispatcher_wakes(wake_dispatcher, dispatcher);
  if (auto recovered = dispatcher.recover(); !recovered) {
    return fail("cannot recover the async queue", recovered.error());
  }
  if (auto released = queues.releaseRunningSyncKeys(); !released) {
    return fail("cannot release idempotency keys", released.error());
  }
  queue::Replayer replayer(ioc, *store, queues, store_worker, clock);
  queue::IdempotencyKeys idempotency_keys(queues, store_worker, clock,
                                          std::chrono::seconds(o.idempotency_ttl_seconds));
  queue::Sweeper sweeper(ioc, queues, store_worker, clock,
                         std::chrono::seconds(o.async_retention_seconds));

  auto router = std::make_shared<http::Router>();
  gateway::addInvokeRoutes(*router, invoker, async_queue, idempotency_keys);
  control::FunctionsApiDeps api_deps{
      *store, code, pool,
      logs,   arn,  [&observer](const std::string& name) {
                                       observer.functionDeleted(name); }};
  api_deps.dead_letter_queues = &queues;
  control::addObservabilityRoutes(
      *router, control::ObservabilityApiDeps{*store, query_worker, observer.recordsEnabled()});
  control::addStatsRoutes(*router,
                          control::StatsApiDeps{*store, query_worker, observer.recordsEnabled()});
  control::addFunctionRoutes(*router, api_deps);
  control::addConcurrencyRoutes(*router, api_deps);
  control::addEventInvokeConfigRoutes(*router, api_deps, queues);
  control::addQueueRoutes(
      *router, control::QueuesApiDeps{*store, queues, replayer, store_worker, clock, arn});
  control::addSettingsRoutes(*router, api_deps);
  if (auto reserved = store->reservedConcurrencies(); reserved) {
    for (const auto& [name, n] : *reserved) (void)pool.admission().setReservation(name, n);
  } else {
    return fail("cannot load reserved concurrency", reserved.error());
  }
  control::addProvisionedConcurrencyRoutes(*router, api_deps);
  control::restoreProvisionedConcurrency(api_deps);  // instances start once the loop runs

  std::atomic<bool> ready{false};
  http::ServerOptions http_options;
  http_options.name = "api";
  http_options.body_limit = o.max_body_bytes;
  http_options.max_connections = 4096;
  http_options.error_response = [](http::Status status, const std::string& message) {
    return gateway::errorResponse(11, gateway::errorForServerStatus(status, message), "");
  };
  auto api = std::make_shared<http::Server>(
      ioc,
      control::makeApiHandler(
          router, std::make_shared<control::Authenticator>(*creds),
          control::Health{[&ready] { return ready.load(); }},
          control::MetricsEndpoint{[&observer] { return observer.renderMetrics(); }, o.metrics_auth,
                                   [&observer](int status) { observer.httpRequest(status); }}),
      http_options);
  auto bound = api->listen(*endpoint);
  if (!bound) return fail("cannot listen", bound.error());

  int threads = o.threads > 0 ? o.threads
                              : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  // Block the shutdown signals in every thread; the signal_set takes them.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    log::info(kComponent, "shutting down", {{"signal", std::to_string(sig)}});
    ready = false;
    api->stop();
    dispatcher.stop();
    replayer.stop();
    sweeper.stop();
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          co_await pool.shutdown(std::chrono::seconds(o.shutdown_grace_seconds));
          // Let the answers of finished invocations be written.
          asio::steady_timer t(ioc);
          for (int i = 0; i < 100 && api->inFlight() > 0; ++i) {
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::use_awaitable);
          }
          ioc.stop();
        },
        asio::detached);
  });

  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
  dispatcher.start();
  sweeper.start();
  ready = true;
  log::info(kComponent, "nimbus is serving",
            {{"listen", bound->address().to_string() + ":" + std::to_string(bound->port())},
             {"data", data.string()},
             {"runtimes", pool_options.instance.runtimes_dir.string()},
             {"threads", std::to_string(threads)},
             {"memory_budget_mb", std::to_string(pool_options.memory_budget_mb)},
             {"sandbox", launcher_setup->description}});
  ioc.run();
  for (auto& w : workers) w.join();
  logs.setSink({});
  observer.stop();  // writes the records and log lines still queued
  log::info(kComponent, "stopped");
  return 0;
}

}  // namespace nimbus::server
