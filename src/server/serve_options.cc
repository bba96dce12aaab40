// `nimbus serve` flags.
#include "server/serve_options.h"

namespace nimbus::server {

CLI::App* addServeCommand(CLI::App& app, ServeOptions& o) {
  auto* serve = app.add_subcommand("serve", "Run the nimbus server");
  serve->add_option("--listen", o.listen, "Address to serve the API on (host:port)")
      ->envname("NIMBUS_LISTEN")
      ->capture_default_str();
  serve->add_option("--data", o.data_dir, "Data folder (SQLite store, code, credentials)")
      ->envname("NIMBUS_DATA")
      ->capture_default_str();
  serve->add_option("--store", o.store, "Store URL (default: SQLite file in the data folder)");
  serve->add_option("--runtimes", o.runtimes_dir, "Folder of the managed runtime bootstraps")
      ->envname("NIMBUS_RUNTIMES_DIR");
  serve->add_option("--region", o.region, "Region reported in ARNs")->capture_default_str();
  serve->add_option("--account-id", o.account_id, "12-digit account id reported in ARNs")
      ->capture_default_str();
  serve
      ->add_option("--keep-alive-seconds", o.keep_alive_seconds,
                   "Idle instances end after this many seconds")
      ->envname("NIMBUS_KEEP_ALIVE_SECONDS")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)  // the last one given wins
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve->add_option("--threads", o.threads, "I/O threads (0: one per core, at least 2)")
      ->check(CLI::Range(0, 256));
  serve
      ->add_option("--shutdown-grace-seconds", o.shutdown_grace_seconds,
                   "On SIGTERM, how long running invocations may take to finish")
      ->check(CLI::Range(0, 900))
      ->capture_default_str();
  serve->add_option("--max-instances", o.max_instances, "Host-wide cap on live instances")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  serve
      ->add_option("--concurrency-limit", o.concurrency_limit,
                   "Host-wide concurrent invocations; reservations come out of it")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  serve
      ->add_option("--memory-budget-mb", o.memory_budget_mb,
                   "Total MemorySize of live instances (0: 80% of the machine's memory)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  serve
      ->add_option("--throttle-wait-ms", o.throttle_wait_ms,
                   "How long an invoke beyond its concurrency waits for a slot (0: 429 at once)")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  serve
      ->add_option("--sandbox", o.sandbox,
                   "Isolate instances: auto (when root), on (or refuse to start), off")
      ->envname("NIMBUS_SANDBOX")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  serve
      ->add_option("--egress-subnet", o.egress_subnet,
                   "IPv4 subnet for egress instances, a /30 each (auto: a /20 of 100.64.0.0/10 "
                   "chosen by the data folder)")
      ->envname("NIMBUS_EGRESS_SUBNET")
      ->capture_default_str();
  serve
      ->add_option("--async-retry-base-ms", o.async_retry_base_ms,
                   "Async retries: first backoff ceiling (doubles per failure, full jitter)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}))
      ->capture_default_str();
  serve
      ->add_option("--async-retry-cap-ms", o.async_retry_cap_ms,
                   "Async retries: largest backoff ceiling")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}))
      ->capture_default_str();
  serve
      ->add_option("--async-throttle-delay-ms", o.async_throttle_delay_ms,
                   "How long a throttled async event waits before trying again (no attempt spent)")
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}))
      ->capture_default_str();
  serve
      ->add_option("--async-workers", o.async_workers,
                   "Async events delivered at once, across all functions")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  serve
      ->add_option("--async-retention-seconds", o.async_retention_seconds,
                   "Finished (delivered or dead) async events are deleted after this")
      ->check(CLI::Range(int64_t{60}, int64_t{365} * 86400))
      ->capture_default_str();
  serve
      ->add_option("--idempotency-ttl-seconds", o.idempotency_ttl_seconds,
                   "How long an X-Nimbus-Idempotency-Key keeps its first invocation's result")
      ->check(CLI::Range(int64_t{1}, int64_t{7} * 86400))
      ->capture_default_str();
  serve->add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  serve->add_flag("--metrics-auth", o.metrics_auth,
                  "Require authentication on GET /metrics (default: open, like /healthz)");
  serve
      ->add_option("--records", o.records,
                   "Keep invocation records and function log lines in the store (on|off)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  serve
      ->add_option("--records-retention-hours", o.records_retention_hours,
                   "Invocation records older than this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--records-max", o.records_max,
                   "At most this many invocation records are kept (oldest go first)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000000}))
      ->capture_default_str();
  serve
      ->add_option("--logs-retention-hours", o.logs_retention_hours,
                   "Function log lines older than this are deleted")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve
      ->add_option("--logs-max-bytes", o.logs_max_bytes,
                   "Function log lines kept at most, in message bytes (oldest go first)")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 50))
      ->capture_default_str();
  serve
      ->add_option("--retention-sweep-seconds", o.retention_sweep_seconds,
                   "How often retention limits are enforced")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  serve->add_option("--otlp-endpoint", o.otlp_endpoint,
                    "Export trace spans with OTLP/HTTP JSON to this collector "
                    "(http://host:port; POST /v1/traces). Unset: no spans");
  serve
      ->add_option("--otlp-timeout-ms", o.otlp_timeout_ms,
                   "Timeout of one span export request; a slower collector loses spans")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str();
  return serve;
}

}  // namespace nimbus::server
