// Tests of W3C traceparent parsing/formatting, the X-Ray header mapping and id
// generation.
#include "observability/trace_context.h"

#include <gtest/gtest.h>

namespace nimbus::observability {
namespace {

constexpr const char* kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesTraceparent) {
  auto c = parseTraceparent(kParent);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->span_id, "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(formatTraceparent(*c), kParent);
  auto unsampled = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
}

TEST(TraceContextTest, RejectsMalformedTraceparent) {
  EXPECT_FALSE(parseTraceparent(""));
  EXPECT_FALSE(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"));
  // upper case, all-zero ids, version ff, bad separators, trailing data on version 00
  EXPECT_FALSE(parseTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(parseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parseTraceparent("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(parseTraceparent(std::string(kParent) + "-extra"));
  EXPECT_FALSE(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"));
  // A later version may carry more fields.
  EXPECT_TRUE(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"));
}

TEST(TraceContextTest, XrayRootIsTheSameTraceId) {
  auto c = parseTraceparent(kParent);
  ASSERT_TRUE(c);
  EXPECT_EQ(formatXrayHeader(*c),
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1");
  auto x =
      parseXrayHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->trace_id, "5759e988bd862e3fe1be46a994272793");
  EXPECT_EQ(x->span_id, "53995c3f42cd8ad8");
  EXPECT_TRUE(x->sampled);
  EXPECT_EQ(formatTraceparent(*x), "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");
  // Order and spaces do not matter; Parent and Sampled are optional; case is folded.
  auto y = parseXrayHeader("Sampled=0; Root=1-5759E988-BD862E3FE1BE46A994272793; Lineage=a:1");
  ASSERT_TRUE(y);
  EXPECT_EQ(y->trace_id, "5759e988bd862e3fe1be46a994272793");
  EXPECT_TRUE(y->span_id.empty());
  EXPECT_FALSE(y->sampled);
  EXPECT_EQ(formatXrayHeader(*y), "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
  EXPECT_FALSE(parseXrayHeader("Parent=53995c3f42cd8ad8"));
  EXPECT_FALSE(parseXrayHeader("Root=2-5759e988-bd862e3fe1be46a994272793"));
  EXPECT_FALSE(parseXrayHeader("Root=1-5759e988bd862e3fe1be46a994272793"));
}

TEST(TraceContextTest, IncomingPrefersTraceparent) {
  auto c = incomingTraceContext(kParent, " vendor=x ",
                                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->tracestate, "vendor=x");
  auto x = incomingTraceContext("garbage", "vendor=x",
                                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->trace_id, "5759e988bd862e3fe1be46a994272793");
  EXPECT_TRUE(x->tracestate.empty());
  EXPECT_FALSE(incomingTraceContext("", "", ""));
}

TEST(TraceContextTest, GeneratedIdsAreValidInBothForms) {
  const std::string trace = newTraceId(0x5759e988);
  ASSERT_EQ(trace.size(), 32u);
  EXPECT_EQ(trace.substr(0, 8), "5759e988");
  const std::string span = newSpanId();
  ASSERT_EQ(span.size(), 16u);
  EXPECT_NE(span, newSpanId());
  TraceContext c{trace, span, true, ""};
  auto back = parseTraceparent(formatTraceparent(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->trace_id, trace);
  auto xray = parseXrayHeader(formatXrayHeader(c));
  ASSERT_TRUE(xray);
  EXPECT_EQ(xray->trace_id, trace);
  EXPECT_EQ(xray->span_id, span);
}

}  // namespace
}  // namespace nimbus::observability
