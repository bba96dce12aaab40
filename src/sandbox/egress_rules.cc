// Text of the egress nftables table. Plain string building: every value in it is a
// name or subnet nimbus made and checked itself, never user input.
#include "sandbox/egress_rules.h"

namespace nimbus::sandbox {

std::string renderEgressRuleset(const EgressRulesSpec& s) {
  const std::string veths = "\"" + s.interface_prefix + "*\"";
  const std::string subnet = s.subnet.text();
  const std::string t = "inet " + s.table;
  std::string out;
  out += "# nimbus egress rules; made and replaced by nimbus serve, removed at its exit\n";
  out += "table " + t + "\n";
  out += "delete table " + t + "\n";
  out += "table " + t + " {\n";
  out += "  chain input {\n";
  out += "    type filter hook input priority -1; policy accept;\n";
  out += "    iifname " + veths + " ct state established,related accept\n";
  out += "    iifname " + veths + " counter drop comment \"instances never reach the host\"\n";
  out += "  }\n";
  out += "  chain forward {\n";
  out += "    type filter hook forward priority -1; policy accept;\n";
  out += "    iifname " + veths + " oifname " + veths +
         " counter drop comment \"no instance reaches another\"\n";
  out += "    iifname " + veths + " meta nfproto != ipv4 counter drop\n";
  out += "    iifname " + veths + " ip saddr != " + subnet + " counter drop comment \"spoofed\"\n";
  out += "    iifname " + veths +
         " ip daddr { 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255 } counter drop\n";
  out += "    iifname " + veths + " accept\n";
  out += "    oifname " + veths + " ct state established,related accept\n";
  out += "    oifname " + veths + " counter drop comment \"no inbound connections\"\n";
  out += "  }\n";
  out += "  chain postrouting {\n";
  out += "    type nat hook postrouting priority 100; policy accept;\n";
  out += "    ip saddr " + subnet + " oifname != " + veths + " masquerade\n";
  out += "  }\n";
  out += "}\n";
  return out;
}

}  // namespace nimbus::sandbox
