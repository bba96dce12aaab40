// Tests of the `nimbus invocations` table and of the logs page parser's cursors.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/verbs.h"

namespace nimbus::cli {
namespace {

TEST(InvocationTableTest, ColumnsAlignAndAbsentFieldsShowADash) {
  auto items = boost::json::parse(R"([
    {"start_time":"2026-01-01T00:00:00.000Z","request_id":"r-1","version":"$LATEST",
     "trigger":"sync","attempt":1,"outcome":"success","duration_ms":1.234,
     "billed_duration_ms":2,"cold_start":true,"init_duration_ms":80.5,
     "max_memory_used_mb":30,"error_type":""},
    {"request_id":"r-2","outcome":"timeout","cold_start":false,"error_type":"Sandbox.Timedout"}
  ])")
                   .as_array();
  std::string table = formatInvocationTable(items);
  std::istringstream lines(table);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(header.find("START"), 0u);
  EXPECT_NE(header.find("OUTCOME"), std::string::npos);
  EXPECT_EQ(first.find("r-1"), header.find("REQUEST_ID"));
  EXPECT_NE(first.find("1.23"), std::string::npos);
  EXPECT_NE(first.find("cold"), std::string::npos);
  EXPECT_EQ(second.find("-"), 0u);  // no start time
  EXPECT_NE(second.find("warm"), std::string::npos);
  EXPECT_NE(second.find("Sandbox.Timedout"), std::string::npos);
}

TEST(LogPageTest, ReadsTheStoredLogsCursorAndRecordsFlag) {
  auto page = parseLogPage(R"({"events":[{"id":7,"message":"a\n"}],"next_after":7})");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->messages, std::vector<std::string>{"a"});
  EXPECT_EQ(page->next_after, 7);
  EXPECT_TRUE(page->stored);
  auto off = parseLogPage(R"({"events":[],"next_after":0,"records_enabled":false})");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->stored);
}

}  // namespace
}  // namespace nimbus::cli
