// Tests of the egress subnet parser, the /30 layout, interface names and the address pool.
#include "sandbox/egress_addresses.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace nimbus::sandbox {
namespace {

TEST(EgressSubnet, ParsesCidr) {
  Result<Ipv4Subnet> s = parseIpv4Subnet("10.251.0.0/16");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->base, 0x0AFB0000u);
  EXPECT_EQ(s->prefix, 16);
  EXPECT_EQ(s->text(), "10.251.0.0/16");
  EXPECT_TRUE(parseIpv4Subnet("100.64.0.0/10").ok());
  EXPECT_TRUE(parseIpv4Subnet("192.168.7.4/30").ok());
}

TEST(EgressSubnet, RefusesBadInput) {
  for (const char* bad :
       {"", "10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/16x", "10.0.0/16", "10.0.0.0/7",
        "10.0.0.0/31", "10.0.0.0/32", "10.0.0.1/16", "256.0.0.0/16", "::1/64"}) {
    Result<Ipv4Subnet> s = parseIpv4Subnet(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, ErrorCode::kInvalidParameter);
    }
  }
}

TEST(EgressAddresses, SlotIsAThirtyWithHostFirst) {
  Ipv4Subnet s = *parseIpv4Subnet("10.251.0.0/16");
  EgressAddresses a = egressAddressesOf(s, 0);
  EXPECT_EQ(formatIpv4(a.host), "10.251.0.1");
  EXPECT_EQ(formatIpv4(a.instance), "10.251.0.2");
  EgressAddresses b = egressAddressesOf(s, 64);
  EXPECT_EQ(formatIpv4(b.host), "10.251.1.1");
  EXPECT_EQ(formatIpv4(b.instance), "10.251.1.2");
  EgressAddresses last = egressAddressesOf(s, 16383);
  EXPECT_EQ(formatIpv4(last.instance), "10.251.255.254");
}

TEST(EgressAddresses, InterfaceNamesFitIfnamsiz) {
  EXPECT_EQ(hostInterfaceName("nx1a2b3c-", 0), "nx1a2b3c-0");
  EXPECT_EQ(hostInterfaceName("nx1a2b3c-", 0x3ff), "nx1a2b3c-3ff");
  EXPECT_TRUE(checkInterfacePrefix("nx1a2b3c-", (1 << 22) - 1).ok());  // a /8: 15 characters
  EXPECT_FALSE(checkInterfacePrefix("nx1a2b3c-toolong", 1).ok());
  EXPECT_FALSE(checkInterfacePrefix("", 1).ok());
  EXPECT_FALSE(checkInterfacePrefix("nx*", 1).ok());  // would be a wildcard in the rules
  EXPECT_FALSE(checkInterfacePrefix("NX-", 1).ok());
}

TEST(EgressAddressPool, HandsOutEveryBlockOnceThenRunsOut) {
  EgressAddressPool pool(*parseIpv4Subnet("10.9.0.0/28"));  // four /30s
  ASSERT_EQ(pool.capacity(), 4);
  std::set<int> slots;
  for (int i = 0; i < 4; ++i) {
    std::optional<EgressAddresses> a = pool.acquire();
    ASSERT_TRUE(a.has_value());
    slots.insert(a->slot);
  }
  EXPECT_EQ(slots, (std::set<int>{0, 1, 2, 3}));
  EXPECT_FALSE(pool.acquire().has_value());
}

TEST(EgressAddressPool, ReusesTheBlockFreedLongestAgo) {
  EgressAddressPool pool(*parseIpv4Subnet("10.9.0.0/28"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pool.acquire().has_value());
  pool.release(2);
  pool.release(0);
  EXPECT_EQ(pool.acquire()->slot, 2);
  EXPECT_EQ(pool.acquire()->slot, 0);
  EXPECT_FALSE(pool.acquire().has_value());
}

TEST(EgressAddressPool, NeverUsedBlocksComeBeforeFreedOnes) {
  EgressAddressPool pool(*parseIpv4Subnet("10.9.0.0/28"));
  EXPECT_EQ(pool.acquire()->slot, 0);
  pool.release(0);
  EXPECT_EQ(pool.acquire()->slot, 1);
}

TEST(EgressAddressPool, ConcurrentAcquireGivesDistinctBlocks) {
  EgressAddressPool pool(*parseIpv4Subnet("10.9.0.0/20"));  // 1024 blocks
  std::vector<std::vector<int>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 256; ++i) got[t].push_back(pool.acquire()->slot);
    });
  }
  for (auto& th : threads) th.join();
  std::set<int> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 1024u);
  EXPECT_FALSE(pool.acquire().has_value());
}

}  // namespace
}  // namespace nimbus::sandbox
