// Tests of the metric primitives and the text exposition format.
#include "observability/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace nimbus::observability {
namespace {

TEST(MetricsTest, CounterWithLabelsRendersHelpTypeAndSeries) {
  Registry r;
  auto f = r.counter("x_total", "Things.", {"function", "outcome"});
  f->at({"a", "success"})->inc();
  f->at({"a", "success"})->inc(2);
  f->at({"b\"q", "x\\y\nz"})->inc();
  EXPECT_EQ(r.render(),
            "# HELP x_total Things.\n"
            "# TYPE x_total counter\n"
            "x_total{function=\"a\",outcome=\"success\"} 3\n"
            "x_total{function=\"b\\\"q\",outcome=\"x\\\\y\\nz\"} 1\n");
}

TEST(MetricsTest, GaugeWithoutLabelsAndFractions) {
  Registry r;
  auto g = r.gauge("g", "A gauge.");
  g->at({})->set(0.25);
  EXPECT_NE(r.render().find("\ng 0.25\n"), std::string::npos) << r.render();
  g->at({})->max(0.1);
  EXPECT_EQ(g->at({})->value(), 0.25);
  g->at({})->max(7);
  EXPECT_EQ(g->at({})->value(), 7);
}

TEST(MetricsTest, HistogramBucketsAreLessOrEqualAndCumulative) {
  Registry r;
  auto h = r.histogram("d_seconds", "Durations.", {0.1, 1, 0.5}, {"function"});
  auto s = h->at({"f"});
  s->observe(0.05);
  s->observe(0.1);  // on the bound: in le="0.1"
  s->observe(0.7);
  s->observe(30);
  EXPECT_EQ(r.render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{function=\"f\",le=\"0.1\"} 2\n"
            "d_seconds_bucket{function=\"f\",le=\"0.5\"} 2\n"
            "d_seconds_bucket{function=\"f\",le=\"1\"} 3\n"
            "d_seconds_bucket{function=\"f\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{function=\"f\"} 30.85\n"
            "d_seconds_count{function=\"f\"} 4\n");
}

TEST(MetricsTest, RemoveWhereDropsOnlyThatLabelValue) {
  Registry r;
  auto f = r.counter("c_total", "C.", {"function", "version"});
  f->at({"keep", "1"})->inc();
  f->at({"gone", "1"})->inc();
  f->at({"gone", "2"})->inc();
  r.removeWhere("function", "gone");
  std::string text = r.render();
  EXPECT_NE(text.find("keep"), std::string::npos);
  EXPECT_EQ(text.find("gone"), std::string::npos);
}

TEST(MetricsTest, CollectorsRunAtRender) {
  Registry r;
  auto g = r.gauge("live", "Live.");
  int calls = 0;
  r.addCollector([&] { g->at({})->set(++calls); });
  EXPECT_NE(r.render().find("live 1\n"), std::string::npos);
  EXPECT_NE(r.render().find("live 2\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto f = r.counter("n_total", "N.", {"function"});
  auto h = r.histogram("h_seconds", "H.", {1}, {"function"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        f->at({"f"})->inc();
        h->at({"f"})->observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f->at({"f"})->value(), 40000);
  EXPECT_EQ(h->at({"f"})->snapshot().cumulative.back(), 40000u);
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(formatValue(3), "3");
  EXPECT_EQ(formatValue(-2), "-2");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace nimbus::observability
