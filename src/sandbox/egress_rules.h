// The nftables ruleset of egress mode, as text for `nft -f`: one table per server (its
// name and the interface prefix come from the data folder), replaced whole at start so
// that a restarted server also clears what a killed one left.
#pragma once

#include <string>

#include "sandbox/egress_addresses.h"

namespace nimbus::sandbox {

struct EgressRulesSpec {
  std::string table;             // e.g. "nimbus_1a2b3c"; family inet
  std::string interface_prefix;  // host ends of the instances' veths, e.g. "nbx1a2b-"
  Ipv4Subnet subnet;             // the instances' addresses
};

// What the table enforces, for packets from or to an instance veth:
//  - input (to any of the host's own addresses, loopback services included): dropped,
//    except replies on connections the host opened;
//  - forward between two instance veths: dropped (no instance reaches another);
//  - forward from an instance: only from its subnet, never to link-local addresses (cloud
//    metadata services), IPv4 only; everything else goes out, masqueraded;
//  - forward to an instance: only replies (no inbound connections).
// The table is created if missing, then deleted and made anew, in one transaction.
std::string renderEgressRuleset(const EgressRulesSpec& spec);

}  // namespace nimbus::sandbox
