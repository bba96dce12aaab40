// Pool policy: per-function keep-alive and the memory held for reservations.
#include "pool/policy.h"

#include <gtest/gtest.h>

namespace nimbus::pool::policy {
namespace {

TEST(PolicyTest, KeepAliveIsTheFunctionsOwnWhenSetElseTheHosts) {
  model::FunctionConfig c;
  EXPECT_EQ(keepAliveMs(c, std::chrono::seconds(300)), 300000);
  c.keep_alive_s = 2;
  EXPECT_EQ(keepAliveMs(c, std::chrono::seconds(300)), 2000);
  c.keep_alive_s = 3600;  // longer than the host's is allowed too
  EXPECT_EQ(keepAliveMs(c, std::chrono::seconds(30)), 3600000);
}

TEST(PolicyTest, UnusedReservationsOfOthersAreHeldBack) {
  std::map<std::string, ReservationUse> uses;
  uses["r"] = {2, 0, 128};   // 2 reserved, none running: 256 MB held
  uses["s"] = {3, 1, 512};   // 2 slots unused: 1024 MB held
  uses["t"] = {1, 4, 1024};  // over its reservation: nothing held
  uses["u"] = {5, 0, 0};     // memory not known: nothing held
  EXPECT_EQ(heldForReservations(uses, "burst"), 256 + 1024);
  // A reserved function's own unused share is available to it.
  EXPECT_EQ(heldForReservations(uses, "r"), 1024);
  EXPECT_EQ(heldForReservations(uses, "s"), 256);
  EXPECT_EQ(heldForReservations({}, "x"), 0);
}

TEST(PolicyTest, ReapingWithinAReservationFreesNothingForOthers) {
  std::map<std::string, ReservationUse> uses;
  uses["r"] = {2, 2, 128};
  uses["over"] = {1, 3, 128};
  EXPECT_FALSE(reapFreesMemory(uses, "r", "burst"));
  EXPECT_TRUE(reapFreesMemory(uses, "r", "r"));
  EXPECT_TRUE(reapFreesMemory(uses, "over", "burst"));
  EXPECT_TRUE(reapFreesMemory(uses, "unreserved", "burst"));
}

}  // namespace
}  // namespace nimbus::pool::policy
