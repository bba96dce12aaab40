// Tests of nimbus's metric families: what one invocation adds, throttles, deletion,
// scrape-time sources and the process figures from a fake /proc.
#include "observability/invocation_metrics.h"

#include <gtest/gtest.h>

#include <fstream>

#include "observability/process_metrics.h"

namespace nimbus::observability {
namespace {

model::InvocationRecord record(const std::string& fn, const std::string& outcome) {
  model::InvocationRecord r;
  r.function_name = fn;
  r.version = "$LATEST";
  r.trigger = "sync";
  r.outcome = outcome;
  r.duration_ms = 12;
  r.billed_ms = 12;
  r.memory_size_mb = 1024;
  r.max_memory_mb = 40;
  return r;
}

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(InvocationMetricsTest, OutcomesDurationsColdStartsAndCost) {
  InvocationMetrics m;
  m.started("f", "$LATEST");
  auto cold = record("f", model::kOutcomeSuccess);
  cold.cold_start = true;
  cold.init_ms = 80;
  m.finished(cold);
  m.started("f", "$LATEST");
  m.finished(record("f", model::kOutcomeFunctionError));
  m.started("f", "$LATEST");
  m.finished(record("f", model::kOutcomeThrottled));
  const std::string t = m.render();
  const std::string fv = R"(function="f",version="$LATEST")";
  EXPECT_TRUE(has(t, "nimbus_invocations_total{" + fv + R"(,outcome="success"} 1)")) << t;
  EXPECT_TRUE(has(t, "nimbus_invocations_total{" + fv + R"(,outcome="function_error"} 1)"));
  EXPECT_TRUE(has(t, "nimbus_invocations_total{" + fv + R"(,outcome="throttled"} 1)"));
  EXPECT_TRUE(has(t, "nimbus_invocations_total{" + fv + R"(,outcome="timeout"} 0)"));
  EXPECT_TRUE(has(t, "nimbus_throttles_total{" + fv + "} 1"));
  EXPECT_TRUE(has(t, "nimbus_cold_starts_total{" + fv + "} 1"));
  // Throttled invocations never ran: two durations, one init.
  EXPECT_TRUE(has(t, "nimbus_invocation_duration_seconds_count{" + fv + "} 2"));
  EXPECT_TRUE(has(t, "nimbus_invocation_duration_seconds_bucket{" + fv + R"(,le="0.025"} 2)"));
  EXPECT_TRUE(has(t, "nimbus_invocation_duration_seconds_bucket{" + fv + R"(,le="0.01"} 0)"));
  EXPECT_TRUE(has(t, "nimbus_init_duration_seconds_count{" + fv + "} 1"));
  EXPECT_TRUE(has(t, "nimbus_concurrent_executions{" + fv + "} 0"));
  EXPECT_TRUE(has(t, "nimbus_max_memory_used_bytes{" + fv + "} 41943040"));
  // 2 runs x 12 ms x 1 GB.
  EXPECT_TRUE(has(t, "nimbus_billed_gigabyte_seconds_total{" + fv + "} 0.024")) << t;
}

TEST(InvocationMetricsTest, AsyncRetriesCountRunsAfterTheFirst) {
  InvocationMetrics m;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto r = record("a", model::kOutcomeFunctionError);
    r.trigger = "async";
    r.attempt = attempt;
    m.started("a", "$LATEST");
    m.finished(r);
  }
  EXPECT_TRUE(has(m.render(), R"(nimbus_async_retries_total{function="a",version="$LATEST"} 2)"));
}

TEST(InvocationMetricsTest, ForgetDropsADeletedFunctionsSeries) {
  InvocationMetrics m;
  m.started("gone", "$LATEST");
  m.finished(record("gone", model::kOutcomeSuccess));
  m.started("kept", "$LATEST");
  m.finished(record("kept", model::kOutcomeSuccess));
  m.forget("gone");
  const std::string t = m.render();
  EXPECT_EQ(t.find("\"gone\""), std::string::npos);
  EXPECT_NE(t.find("\"kept\""), std::string::npos);
}

TEST(InvocationMetricsTest, ScrapeSourcesFillInstancesAndQueues) {
  InvocationMetrics m;
  ScrapeSources s;
  s.idle_instances = [] { return size_t{3}; };
  s.busy_instances = [] { return size_t{2}; };
  s.async_queue = []() -> Result<std::vector<store::AsyncQueueStat>> {
    return std::vector<store::AsyncQueueStat>{{"q", 4, 1, 2, 10000}};
  };
  s.now_ms = [] { return int64_t{25000}; };
  m.setSources(s);
  const std::string t = m.render();
  EXPECT_TRUE(has(t, R"(nimbus_instances{state="idle"} 3)")) << t;
  EXPECT_TRUE(has(t, R"(nimbus_instances{state="busy"} 2)"));
  EXPECT_TRUE(has(t, R"(nimbus_async_queue_depth{function="q"} 5)"));
  EXPECT_TRUE(has(t, R"(nimbus_async_oldest_event_age_seconds{function="q"} 15)"));
  EXPECT_TRUE(has(t, R"(nimbus_dlq_depth{function="q"} 2)"));
  EXPECT_NE(t.find("process_resident_memory_bytes "), std::string::npos);
}

TEST(InvocationMetricsTest, HttpRequestsByCode) {
  InvocationMetrics m;
  m.httpRequest(200);
  m.httpRequest(200);
  m.httpRequest(429);
  const std::string t = m.render();
  EXPECT_TRUE(has(t, R"(nimbus_http_requests_total{code="200"} 2)"));
  EXPECT_TRUE(has(t, R"(nimbus_http_requests_total{code="429"} 1)"));
}

TEST(ProcessMetricsTest, ReadsAFakeProc) {
  auto root =
      std::filesystem::temp_directory_path() / ("nimbus-proc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "self" / "fd");
  for (int i = 0; i < 3; ++i) std::ofstream(root / "self" / "fd" / std::to_string(i)) << "";
  // pid (comm with ) spaces) state ppid ... utime=field 14, stime=15, starttime=22, rss=24
  std::ofstream(root / "self" / "stat")
      << "42 (a ) b) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 1000 123456 7 rest\n";
  std::ofstream(root / "stat") << "cpu 1 2 3\nbtime 1700000000\nprocesses 9\n";
  ProcessFigures f = readProcessFigures(root, 100, 4096);
  EXPECT_DOUBLE_EQ(f.cpu_seconds, 4.0);
  EXPECT_DOUBLE_EQ(f.resident_bytes, 7 * 4096.0);
  EXPECT_DOUBLE_EQ(f.start_time_seconds, 1700000010.0);
  EXPECT_DOUBLE_EQ(f.open_fds, 3);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace nimbus::observability
