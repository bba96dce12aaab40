// Tests for the Lambda-worded pieces of an invocation: timeout and exit error bodies,
// error-body normalisation, and the START/END/REPORT log lines.
#include "pool/invocation_report.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

namespace nimbus::pool {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return "<absent>";
  return std::string(it->value().as_string());
}

json::object parseObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  EXPECT_TRUE(!ec && v.is_object()) << text;
  return !ec && v.is_object() ? v.as_object() : json::object{};
}

model::InvokeResult sampleResult() {
  model::InvokeResult r;
  r.request_id = "8f5e1c2a-0000-4000-8000-000000000001";
  r.executed_version = "$LATEST";
  r.duration_ms = 12.345;
  r.billed_ms = 13;
  r.memory_size_mb = 128;
  r.max_memory_mb = 42;
  return r;
}

TEST(FormatSeconds, TwoDecimals) {
  EXPECT_EQ(formatSeconds(1), "1.00");
  EXPECT_EQ(formatSeconds(3), "3.00");
  EXPECT_EQ(formatSeconds(900), "900.00");
}

TEST(TimeoutErrorBody, LambdaShape) {
  auto o = parseObject(timeoutErrorBody("req-1", 3));
  EXPECT_EQ(str(o, "errorType"), "Sandbox.Timedout");
  std::string message = str(o, "errorMessage");
  // "<ISO time> <request id> Task timed out after 3.00 seconds"
  static const std::regex kForm(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z req-1 Task timed out after 3\.00 seconds)");
  EXPECT_TRUE(std::regex_match(message, kForm)) << message;
}

TEST(ExitErrorBody, LambdaShape) {
  auto o = parseObject(exitErrorBody("req-2", "signal: killed"));
  EXPECT_EQ(str(o, "errorType"), "Runtime.ExitError");
  EXPECT_EQ(str(o, "errorMessage"),
            "RequestId: req-2 Error: Runtime exited with error: signal: killed");
}

TEST(NormalizeErrorBody, KeepsAnObjectAsPosted) {
  std::string body =
      R"({"errorMessage":"boom","errorType":"ValueError","stackTrace":["  File x"]})";
  EXPECT_EQ(normalizeErrorBody(body, "Unhandled"), body);
  EXPECT_EQ(normalizeErrorBody(body, ""), body);
}

TEST(NormalizeErrorBody, AddsErrorTypeFromTheHeaderWhenMissing) {
  auto o = parseObject(normalizeErrorBody(R"({"errorMessage":"boom","extra":1})", "Custom.X"));
  EXPECT_EQ(str(o, "errorType"), "Custom.X");
  EXPECT_EQ(str(o, "errorMessage"), "boom");
  EXPECT_EQ(o.at("extra"), json::value(1));
}

TEST(NormalizeErrorBody, ObjectWithoutTypeAndNoHeaderIsUnchanged) {
  std::string body = R"({"errorMessage":"boom"})";
  EXPECT_EQ(normalizeErrorBody(body, ""), body);
}

TEST(NormalizeErrorBody, WrapsNonJsonAndNonObjects) {
  auto o = parseObject(normalizeErrorBody("plain failure text", "Custom.Y"));
  EXPECT_EQ(str(o, "errorMessage"), "plain failure text");
  EXPECT_EQ(str(o, "errorType"), "Custom.Y");

  o = parseObject(normalizeErrorBody("[1,2]", ""));
  EXPECT_EQ(str(o, "errorMessage"), "[1,2]");
  EXPECT_EQ(str(o, "errorType"), "Unhandled");

  o = parseObject(normalizeErrorBody("", ""));
  EXPECT_EQ(str(o, "errorMessage"), "");
  EXPECT_EQ(str(o, "errorType"), "Unhandled");

  o = parseObject(normalizeErrorBody("{\"unterminated\": \"x\"\n\"quote", ""));
  EXPECT_EQ(str(o, "errorMessage"), "{\"unterminated\": \"x\"\n\"quote");
}

TEST(ReportLine, WarmInvocation) {
  auto r = sampleResult();
  std::string line = reportLine(r);
  EXPECT_EQ(line,
            "REPORT RequestId: 8f5e1c2a-0000-4000-8000-000000000001\tDuration: 12.35 ms\t"
            "Billed Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 42 MB");
  EXPECT_EQ(line.find("Init Duration"), std::string::npos);
}

TEST(ReportLine, InitDurationOnlyOnColdStarts) {
  auto r = sampleResult();
  r.init_ms = 150.5;
  EXPECT_EQ(reportLine(r).find("Init Duration"), std::string::npos) << "warm start";
  r.cold_start = true;
  std::string line = reportLine(r);
  EXPECT_NE(line.find("\tInit Duration: 150.50 ms"), std::string::npos) << line;
  EXPECT_EQ(line.rfind("REPORT RequestId: ", 0), 0u);
}

TEST(ReportLine, TimeoutIsMarked) {
  auto r = sampleResult();
  r.outcome = model::Outcome::kTimeout;
  std::string line = reportLine(r);
  EXPECT_NE(line.find("Status: timeout"), std::string::npos) << line;
}

TEST(BuildInvocationLog, StartOutputEndReport) {
  auto r = sampleResult();
  std::string log = buildInvocationLog(r, "hello\nno newline", {"extra line"});
  EXPECT_EQ(log,
            "START RequestId: 8f5e1c2a-0000-4000-8000-000000000001 Version: $LATEST\n"
            "hello\nno newline\n"
            "extra line\n"
            "END RequestId: 8f5e1c2a-0000-4000-8000-000000000001\n" +
                reportLine(r) + "\t\n");
}

TEST(BuildInvocationLog, EmptyOutput) {
  auto r = sampleResult();
  std::string log = buildInvocationLog(r, "", {});
  EXPECT_EQ(log.find("\n\n"), std::string::npos) << log;
  EXPECT_NE(log.find("START RequestId: "), std::string::npos);
  EXPECT_NE(log.find("\nEND RequestId: "), std::string::npos);
}

}  // namespace
}  // namespace nimbus::pool
