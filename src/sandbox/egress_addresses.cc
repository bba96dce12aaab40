// Parsing and cutting of the egress subnet; the address pool.
#include "sandbox/egress_addresses.h"

#include <arpa/inet.h>

#include <charconv>

namespace nimbus::sandbox {

std::string formatIpv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

std::optional<uint32_t> parseIpv4(std::string_view text) {
  in_addr addr{};
  if (::inet_pton(AF_INET, std::string(text).c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

std::string Ipv4Subnet::text() const { return formatIpv4(base) + "/" + std::to_string(prefix); }

Result<Ipv4Subnet> parseIpv4Subnet(std::string_view cidr) {
  auto bad = [&](const std::string& why) {
    return makeError(ErrorCode::kInvalidParameter,
                     "egress subnet '" + std::string(cidr) + "': " + why);
  };
  const size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return bad("expected a.b.c.d/n");
  std::optional<uint32_t> base = parseIpv4(cidr.substr(0, slash));
  if (!base) return bad("not an IPv4 address");
  int prefix = -1;
  std::string_view bits = cidr.substr(slash + 1);
  auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (ec != std::errc() || end != bits.data() + bits.size()) return bad("bad prefix length");
  if (prefix < 8 || prefix > 30) return bad("prefix length must be between 8 and 30");
  const uint32_t host_mask = prefix == 32 ? 0 : (uint32_t{1} << (32 - prefix)) - 1;
  if ((*base & host_mask) != 0) return bad("host bits set (did you mean the network address?)");
  return Ipv4Subnet{*base, prefix};
}

EgressAddresses egressAddressesOf(const Ipv4Subnet& subnet, int slot) {
  const uint32_t network = subnet.base + static_cast<uint32_t>(slot) * 4;
  return EgressAddresses{slot, network + 1, network + 2};
}

std::string hostInterfaceName(std::string_view prefix, int slot) {
  char hex[16];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, slot, 16);
  (void)ec;
  return std::string(prefix) + std::string(hex, end);
}

Result<void> checkInterfacePrefix(std::string_view prefix, int max_slot) {
  if (prefix.empty()) {
    return makeError(ErrorCode::kInvalidParameter, "egress interface prefix is empty");
  }
  for (char c : prefix) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return makeError(
          ErrorCode::kInvalidParameter,
          "egress interface prefix '" + std::string(prefix) + "' may hold only a-z, 0-9 and '-'");
    }
  }
  if (hostInterfaceName(prefix, max_slot).size() > 15) {
    return makeError(ErrorCode::kInvalidParameter,
                     "egress interface prefix '" + std::string(prefix) +
                         "' leaves no room for slot numbers within 15 characters");
  }
  return {};
}

EgressAddressPool::EgressAddressPool(Ipv4Subnet subnet)
    : subnet_(subnet), capacity_(1 << (30 - subnet.prefix)) {}

std::optional<EgressAddresses> EgressAddressPool::acquire() {
  std::lock_guard lock(mu_);
  int slot;
  if (next_ < capacity_) {
    slot = next_++;
  } else if (!freed_.empty()) {
    slot = freed_.front();
    freed_.pop_front();
  } else {
    return std::nullopt;
  }
  return egressAddressesOf(subnet_, slot);
}

void EgressAddressPool::release(int slot) {
  std::lock_guard lock(mu_);
  freed_.push_back(slot);
}

}  // namespace nimbus::sandbox
