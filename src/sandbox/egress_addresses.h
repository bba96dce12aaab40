// Addresses and interface names of egress instances: the private IPv4 subnet nimbus
// hands out (--egress-subnet), cut into one /30 per live instance (host side .1,
// instance .2), and the per-server name prefix of the host ends of the veth pairs.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace nimbus::sandbox {

// An IPv4 network in host byte order, e.g. 10.251.0.0/16.
struct Ipv4Subnet {
  uint32_t base = 0;
  int prefix = 0;
  std::string text() const;  // "10.251.0.0/16"
};

std::string formatIpv4(uint32_t host_order);
std::optional<uint32_t> parseIpv4(std::string_view text);

// Accepts "a.b.c.d/n" with 8 <= n <= 30 and no host bits set. kInvalidParameter else.
Result<Ipv4Subnet> parseIpv4Subnet(std::string_view cidr);

// One instance's point-to-point link: a /30 out of the subnet.
struct EgressAddresses {
  int slot = -1;
  uint32_t host = 0;      // the host end of the veth; the instance's default gateway
  uint32_t instance = 0;  // the instance's eth0
  static constexpr int kPrefix = 30;
};

// Slot s of a subnet: base + 4s (network), +1 host, +2 instance, +3 broadcast.
EgressAddresses egressAddressesOf(const Ipv4Subnet& subnet, int slot);

// The host end of slot s is named prefix + the slot in hex, e.g. "nbx1a2b-1f". The
// prefix must leave room for the largest slot within IFNAMSIZ-1 (15) characters.
std::string hostInterfaceName(std::string_view prefix, int slot);
Result<void> checkInterfacePrefix(std::string_view prefix, int max_slot);

// Hands out the /30 blocks of a subnet. Blocks never used come first, then the one
// freed longest ago, so a new instance does not inherit an address (and stale
// conntrack entries) from one that just ended. Thread-safe.
class EgressAddressPool {
 public:
  explicit EgressAddressPool(Ipv4Subnet subnet);
  int capacity() const { return capacity_; }
  const Ipv4Subnet& subnet() const { return subnet_; }
  std::optional<EgressAddresses> acquire();  // nullopt: every block is in use
  void release(int slot);

 private:
  const Ipv4Subnet subnet_;
  const int capacity_;
  std::mutex mu_;
  int next_ = 0;
  std::deque<int> freed_;
};

}  // namespace nimbus::sandbox
