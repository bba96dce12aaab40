// Egress networking for instances: a veth pair per instance (host end named by the
// server's prefix, "eth0" inside), a /30 from the egress subnet, a default route through
// the host end, and one nftables table per server that masquerades the instances' traffic
// to the world while dropping anything aimed at the host itself or at another instance.
// Needs root (CAP_NET_ADMIN), nft and IPv4 forwarding, which start() turns on.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "sandbox/egress_addresses.h"
#include "sandbox/egress_rules.h"

namespace nimbus::sandbox {

struct EgressNetworkOptions {
  Ipv4Subnet subnet;
  std::string table;             // nftables table (family inet), one per server
  std::string interface_prefix;  // host ends of the veths; unique per server
  std::string rules_file;        // the ruleset is written here and loaded with nft -f
  std::string nft;               // empty: found in /usr/sbin, /sbin, /usr/bin
  std::string proc_sys = "/proc/sys";
};

class EgressNetwork;

// One instance's link. Destroying it deletes the veth pair and frees the address.
class EgressLease {
 public:
  EgressLease(std::shared_ptr<EgressNetwork> network, EgressAddresses addresses,
              std::string host_interface)
      : network_(std::move(network)),
        addresses_(addresses),
        host_interface_(std::move(host_interface)) {}
  ~EgressLease();
  EgressLease(const EgressLease&) = delete;
  EgressLease& operator=(const EgressLease&) = delete;

  const EgressAddresses& addresses() const { return addresses_; }
  const std::string& hostInterface() const { return host_interface_; }

  // Run on a thread that has joined the instance's network namespace: gives eth0 its
  // address, brings it up and routes everything through the host end. Errors: kInternal.
  Result<void> configureInside() const;

 private:
  std::shared_ptr<EgressNetwork> network_;
  EgressAddresses addresses_;
  std::string host_interface_;
};

class EgressNetwork : public std::enable_shared_from_this<EgressNetwork> {
 public:
  // Checks the host (root, nft), removes a killed predecessor's links and table, enables
  // net.ipv4.ip_forward (logged when it was off) and loads the ruleset. Errors:
  // kUnavailable naming what is missing (not root, no nft, nft refused the rules).
  static Result<std::shared_ptr<EgressNetwork>> start(EgressNetworkOptions options);
  // Removes what is left: links with our prefix, then the table. ip_forward stays on
  // (other software on the host may rely on it by now).
  ~EgressNetwork();

  // Host side of one instance, whose network namespace is netns_fd: a free /30, the veth
  // pair with its peer already inside, the host end addressed and up. Thread-safe.
  // Errors: kUnavailable when the subnet is exhausted; kInternal with errno.
  Result<std::unique_ptr<EgressLease>> attach(int netns_fd);

  std::string describe() const;  // for the start-up log

 private:
  friend class EgressLease;
  explicit EgressNetwork(EgressNetworkOptions options, std::string nft);
  void release(const EgressLease& lease);
  void removeLeftoverLinks() const;

  const EgressNetworkOptions options_;
  const std::string nft_;
  EgressAddressPool addresses_;
};

}  // namespace nimbus::sandbox
