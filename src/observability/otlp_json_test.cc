// Tests of the OTLP JSON encoding and of the tracer's drop-and-count behaviour.
#include "observability/otlp_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>

#include "observability/tracer.h"

namespace nimbus::observability {
namespace {

namespace json = boost::json;

Span sampleSpan() {
  Span s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "00f067aa0ba902b7";
  s.parent_span_id = "1111111111111111";
  s.name = "nimbus.invoke";
  s.kind = SpanKind::kServer;
  s.start_unix_ns = 1700000000123456789;
  s.end_unix_ns = 1700000000223456789;
  s.attributes.emplace_back("faas.invocation_id", std::string("r-1"));
  s.attributes.emplace_back("faas.coldstart", true);
  s.attributes.emplace_back("nimbus.attempt", int64_t{2});
  s.attributes.emplace_back("x.ratio", 0.5);
  return s;
}

TEST(OtlpJsonTest, EncodesTheExportRequestShape) {
  OtlpResource resource;
  resource.attributes.emplace_back("cloud.region", std::string("us-east-1"));
  Span failed = sampleSpan();
  failed.parent_span_id.clear();
  failed.error = true;
  failed.status_message = "Sandbox.Timedout";
  json::value v = json::parse(encodeOtlpJson(resource, {sampleSpan(), failed}));
  const auto& rs = v.at("resourceSpans").as_array().at(0);
  const auto& rattrs = rs.at("resource").at("attributes").as_array();
  EXPECT_EQ(rattrs.at(0).at("key"), "service.name");
  EXPECT_EQ(rattrs.at(0).at("value").at("stringValue"), "nimbus");
  EXPECT_EQ(rattrs.at(1).at("key"), "cloud.region");
  const auto& ss = rs.at("scopeSpans").as_array().at(0);
  EXPECT_EQ(ss.at("scope").at("name"), "nimbus");
  const auto& spans = ss.at("spans").as_array();
  ASSERT_EQ(spans.size(), 2u);
  const auto& s = spans.at(0).as_object();
  EXPECT_EQ(s.at("traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s.at("spanId"), "00f067aa0ba902b7");
  EXPECT_EQ(s.at("parentSpanId"), "1111111111111111");
  EXPECT_EQ(s.at("name"), "nimbus.invoke");
  EXPECT_EQ(s.at("kind").as_int64(), 2);
  EXPECT_EQ(s.at("startTimeUnixNano"), "1700000000123456789");
  EXPECT_EQ(s.at("endTimeUnixNano"), "1700000000223456789");
  EXPECT_EQ(s.at("status").at("code").as_int64(), 1);
  const auto& attrs = s.at("attributes").as_array();
  EXPECT_EQ(attrs.at(0).at("value").at("stringValue"), "r-1");
  EXPECT_EQ(attrs.at(1).at("value").at("boolValue"), true);
  EXPECT_EQ(attrs.at(2).at("value").at("intValue"), "2");  // int64 as a string
  EXPECT_EQ(attrs.at(3).at("value").at("doubleValue").as_double(), 0.5);
  const auto& f = spans.at(1).as_object();
  EXPECT_FALSE(f.contains("parentSpanId"));
  EXPECT_EQ(f.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(f.at("status").at("message"), "Sandbox.Timedout");
}

class FakeExporter : public SpanExporter {
 public:
  explicit FakeExporter(bool up) : up_(up) {}
  Result<void> exportJson(const std::string& body) override {
    std::lock_guard lock(mutex_);
    bodies.push_back(body);
    if (!up_) return makeError(ErrorCode::kUnavailable, "collector down");
    return {};
  }
  std::mutex mutex_;
  std::vector<std::string> bodies;

 private:
  bool up_;
};

TEST(TracerTest, ExportsBatches) {
  auto exporter = std::make_shared<FakeExporter>(true);
  auto dropped = std::make_shared<Counter>();
  Tracer tracer(exporter, TracerOptions{}, dropped);
  tracer.record(sampleSpan());
  tracer.record(sampleSpan());
  tracer.drain();
  ASSERT_EQ(exporter->bodies.size(), 1u);
  EXPECT_EQ(json::parse(exporter->bodies[0])
                .at("resourceSpans")
                .at(0)
                .at("scopeSpans")
                .at(0)
                .at("spans")
                .as_array()
                .size(),
            2u);
  EXPECT_EQ(dropped->value(), 0);
}

TEST(TracerTest, CountsSpansTheCollectorDidNotTake) {
  auto exporter = std::make_shared<FakeExporter>(false);
  auto dropped = std::make_shared<Counter>();
  Tracer tracer(exporter, TracerOptions{}, dropped);
  for (int i = 0; i < 3; ++i) tracer.record(sampleSpan());
  tracer.drain();
  EXPECT_EQ(dropped->value(), 3);
}

TEST(TracerTest, DropsWhenTheQueueIsFull) {
  // A collector that never answers within the test: the queue fills and drops.
  class Stuck : public SpanExporter {
   public:
    Result<void> exportJson(const std::string&) override {
      std::unique_lock lock(mutex);
      cv.wait(lock, [this] { return released; });
      return {};
    }
    std::mutex mutex;
    std::condition_variable cv;
    bool released = false;
  };
  auto stuck = std::make_shared<Stuck>();
  auto dropped = std::make_shared<Counter>();
  TracerOptions options;
  options.queue = 4;
  options.batch = 1;
  {
    Tracer tracer(stuck, options, dropped);
    for (int i = 0; i < 20; ++i) tracer.record(sampleSpan());  // never blocks
    // The writer may take the queue (up to 4 spans) once before it is stuck on the first
    // of them; then 4 more fit: at most 8 of the 20 are accepted, however it is timed.
    EXPECT_GE(dropped->value(), 20 - 2 * 4);
    EXPECT_LT(dropped->value(), 20);
    {
      std::lock_guard lock(stuck->mutex);
      stuck->released = true;
    }
    stuck->cv.notify_all();
  }
}

}  // namespace
}  // namespace nimbus::observability
