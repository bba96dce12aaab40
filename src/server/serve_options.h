// The configuration of `nimbus serve`: flags, with environment fallbacks, and defaults.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

namespace nimbus::server {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./data";
  std::string store;         // empty: SQLite in the data folder; postgres://… later
  std::string runtimes_dir;  // empty: found next to the binary or in the source tree
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  int keep_alive_seconds = 300;
  int threads = 0;  // 0: number of cores, at least 2
  int shutdown_grace_seconds = 30;
  int max_instances = 256;
  int concurrency_limit = 1000;
  int memory_budget_mb = 0;
  int throttle_wait_ms = 0;                  // 0: 80% of the machine's memory
  size_t max_body_bytes = 70 * 1024 * 1024;  // 50 MB zip as base64, plus JSON
  std::string log_level = "info";
  std::string sandbox = "auto";  // auto | on | off
  // Addresses of egress instances (a /30 each): "auto" picks a /20 inside 100.64.0.0/10
  // from the data folder, so that two servers on one host do not overlap.
  std::string egress_subnet = "auto";
  // Async invocations (README "Async invocations"): retry backoff, as Lambda's ~1 min
  // then ~2 min, and how long a throttled event waits before trying again.
  int64_t async_retry_base_ms = 60000;
  int64_t async_retry_cap_ms = 300000;
  int64_t async_throttle_delay_ms = 1000;
  int async_workers = 64;
  int64_t async_retention_seconds = 86400;  // finished async events kept this long
  int64_t idempotency_ttl_seconds = 3600;
  // Observability (README "Observability").
  bool metrics_auth = false;   // /metrics requires authentication
  std::string records = "on";  // on | off: invocation records and persisted logs
  double records_retention_hours = 168;
  int64_t records_max = 1000000;
  double logs_retention_hours = 168;
  int64_t logs_max_bytes = 1024LL * 1024 * 1024;
  int retention_sweep_seconds = 60;
  std::string otlp_endpoint;   // http://host:port: OTLP/HTTP span export; empty: off
  int otlp_timeout_ms = 2000;  // per export request
};

// Registers `serve` on `app`; returns the subcommand so main can tell it was chosen.
CLI::App* addServeCommand(CLI::App& app, ServeOptions& options);

// Runs the server until SIGTERM/SIGINT. Returns the process exit code.
int runServe(const ServeOptions& options);

}  // namespace nimbus::server
