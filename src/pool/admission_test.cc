// Admission: reserved limits, the shared pool, and the unreserved minimum.
#include "pool/admission.h"

#include <gtest/gtest.h>

namespace nimbus::pool {
namespace {

TEST(AdmissionTest, ReservedLimitThrottlesTheExcessWithItsReason) {
  Admission a(100);
  ASSERT_TRUE(a.setReservation("f", 1).ok());
  auto first = a.admit("f");
  ASSERT_TRUE(first.ok());
  auto second = a.admit("f");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kTooManyRequests);
  EXPECT_EQ(second.error().reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
  a.release(*first);
  EXPECT_TRUE(a.admit("f").ok());
}

TEST(AdmissionTest, ZeroReservationDisablesTheFunction) {
  Admission a(100);
  ASSERT_TRUE(a.setReservation("off", 0).ok());
  EXPECT_FALSE(a.admit("off").ok());
  EXPECT_TRUE(a.admit("other").ok());
}

TEST(AdmissionTest, UnreservedFunctionsShareWhatReservationsLeave) {
  Admission a(20);
  ASSERT_TRUE(a.setReservation("big", 15).ok());
  std::vector<Admission::Slot> slots;
  for (int i = 0; i < 5; ++i) {
    auto s = a.admit("u" + std::to_string(i % 2));
    ASSERT_TRUE(s.ok()) << i;
    slots.push_back(*s);
  }
  auto over = a.admit("u0");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().reason, "ConcurrentInvocationLimitExceeded");
  // A burst of unreserved functions cannot take the reserved function's slots.
  EXPECT_TRUE(a.admit("big").ok());
  a.release(slots.back());
  EXPECT_TRUE(a.admit("u0").ok());
}

TEST(AdmissionTest, ReservationsMustLeaveTheUnreservedMinimum) {
  Admission a(100);
  EXPECT_TRUE(a.setReservation("a", 90).ok());
  auto too_much = a.setReservation("b", 1);
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.error().code, ErrorCode::kInvalidParameter);
  EXPECT_TRUE(a.setReservation("a", 89).ok());  // changing one's own reservation counts once
  EXPECT_TRUE(a.setReservation("b", 1).ok());
  EXPECT_FALSE(a.setReservation("c", -1).ok());
}

TEST(AdmissionTest, ReleaseReturnsTheSlotToThePoolItCameFrom) {
  Admission a(10);
  auto shared = a.admit("f");
  ASSERT_TRUE(shared.ok());
  EXPECT_TRUE(shared->shared);
  ASSERT_TRUE(a.setReservation("f", 1).ok());  // reserved while running
  a.release(*shared);
  EXPECT_EQ(a.running("f"), 0);
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(a.admit("g").ok()) << i;  // 10 - 1 reserved
  EXPECT_FALSE(a.admit("g").ok());
}

}  // namespace
}  // namespace nimbus::pool

namespace nimbus::pool {
namespace {

TEST(AdmissionProvisionedTest, ProvisionedFitsInTheReservation) {
  Admission a(100);
  ASSERT_TRUE(a.setReservation("f", 3).ok());
  EXPECT_TRUE(a.setProvisioned("f", 3).ok());
  auto over = a.setProvisioned("f", 4);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidParameter);
  // The reservation cannot drop below what is provisioned.
  EXPECT_FALSE(a.setReservation("f", 2).ok());
  EXPECT_TRUE(a.setReservation("f", 5).ok());
  EXPECT_EQ(a.provisioned("f"), 3);
}

TEST(AdmissionProvisionedTest, UnreservedProvisionedKeepsTheUnreservedMinimum) {
  Admission a(100);  // minimum 10 unreserved
  ASSERT_TRUE(a.setReservation("r", 50).ok());
  EXPECT_TRUE(a.setProvisioned("g", 40).ok());
  EXPECT_FALSE(a.setProvisioned("h", 1).ok());
  // A new reservation must fit beside it too.
  EXPECT_FALSE(a.setReservation("x", 1).ok());
  EXPECT_TRUE(a.setProvisioned("g", 0).ok());  // cleared
  EXPECT_EQ(a.provisioned("g"), 0);
  EXPECT_TRUE(a.setProvisioned("h", 40).ok());
  a.forget("h");
  EXPECT_EQ(a.provisioned("h"), 0);
}

}  // namespace
}  // namespace nimbus::pool
