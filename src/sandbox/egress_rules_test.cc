// Tests of the egress nftables ruleset text: what it must drop, what it masquerades, and
// that it replaces the table atomically. (Loading it into a kernel is the integration
// tests' part: tests/integration/test_sandbox_network.py.)
#include "sandbox/egress_rules.h"

#include <gtest/gtest.h>

namespace nimbus::sandbox {
namespace {

EgressRulesSpec spec() { return {"nimbus_abc123", "nxabc123-", *parseIpv4Subnet("10.251.0.0/20")}; }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(EgressRules, ReplacesTheWholeTableInOneFile) {
  const std::string r = renderEgressRuleset(spec());
  // Create (so that delete cannot fail), delete, define: one nft transaction.
  const size_t add = r.find("table inet nimbus_abc123\n");
  const size_t del = r.find("delete table inet nimbus_abc123\n");
  const size_t def = r.find("table inet nimbus_abc123 {");
  ASSERT_NE(add, std::string::npos);
  ASSERT_NE(del, std::string::npos);
  ASSERT_NE(def, std::string::npos);
  EXPECT_LT(add, del);
  EXPECT_LT(del, def);
}

TEST(EgressRules, InstancesNeverReachTheHost) {
  const std::string r = renderEgressRuleset(spec());
  EXPECT_TRUE(has(r, "type filter hook input"));
  EXPECT_TRUE(has(r, "iifname \"nxabc123-*\" ct state established,related accept"));
  EXPECT_TRUE(has(r, "iifname \"nxabc123-*\" counter drop"));
  // The drop comes after the established exception, inside the input chain.
  const size_t input = r.find("chain input");
  const size_t forward = r.find("chain forward");
  const size_t drop = r.find("iifname \"nxabc123-*\" counter drop");
  EXPECT_LT(input, drop);
  EXPECT_LT(drop, forward);
}

TEST(EgressRules, InstancesNeverReachEachOther) {
  const std::string r = renderEgressRuleset(spec());
  const size_t between = r.find("iifname \"nxabc123-*\" oifname \"nxabc123-*\" counter drop");
  const size_t accept = r.find("iifname \"nxabc123-*\" accept");
  ASSERT_NE(between, std::string::npos);
  ASSERT_NE(accept, std::string::npos);
  EXPECT_LT(between, accept);  // first match wins: the drop must come first
}

TEST(EgressRules, OutboundIsFilteredThenMasqueraded) {
  const std::string r = renderEgressRuleset(spec());
  EXPECT_TRUE(has(r, "ip saddr != 10.251.0.0/20 counter drop"));
  EXPECT_TRUE(has(r, "meta nfproto != ipv4 counter drop"));
  EXPECT_TRUE(has(r, "169.254.0.0/16"));  // cloud metadata services
  EXPECT_TRUE(has(r, "oifname \"nxabc123-*\" ct state established,related accept"));
  EXPECT_TRUE(has(r, "oifname \"nxabc123-*\" counter drop"));
  EXPECT_TRUE(has(r, "type nat hook postrouting"));
  EXPECT_TRUE(has(r, "ip saddr 10.251.0.0/20 oifname != \"nxabc123-*\" masquerade"));
}

}  // namespace
}  // namespace nimbus::sandbox
