// Tests of the paging token of GET /v1/invocations.
#include "control/observability_api.h"

#include <gtest/gtest.h>

namespace nimbus::control {
namespace {

TEST(PageTokenTest, RoundTripsAndRefusesForeignTokens) {
  const std::string token = encodePageToken(12345);
  for (char c : token) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c))) << token;
  EXPECT_EQ(decodePageToken(token), 12345);
  EXPECT_FALSE(decodePageToken(""));
  EXPECT_FALSE(decodePageToken("garbage"));
  EXPECT_FALSE(decodePageToken("abc"));               // odd length
  EXPECT_FALSE(decodePageToken("3132333435"));        // "12345" without our prefix
  EXPECT_FALSE(decodePageToken(encodePageToken(0)));  // ids start at 1
}

}  // namespace
}  // namespace nimbus::control
