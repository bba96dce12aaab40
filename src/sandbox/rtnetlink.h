// A small rtnetlink client (libmnl): the few link, address and route operations egress
// networking needs. Each call works in the network namespace of the calling thread at the
// moment the Rtnetlink was opened (a netlink socket belongs to the namespace it was made
// in), so one opened on a thread that joined an instance's namespace acts in there.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/unique_fd.h"

struct mnl_socket;

namespace nimbus::sandbox {

class Rtnetlink {
 public:
  // Errors: kInternal with errno (e.g. EPERM without CAP_NET_ADMIN).
  static Result<Rtnetlink> open();
  Rtnetlink(Rtnetlink&& other) noexcept;
  Rtnetlink& operator=(Rtnetlink&&) = delete;
  ~Rtnetlink();

  // A veth pair: host_name here, peer_name in the namespace netns_fd (both down).
  // EEXIST when host_name exists already.
  Result<void> createVethPair(const std::string& host_name, const std::string& peer_name,
                              int peer_netns_fd);
  Result<void> setLinkUp(const std::string& name);
  // Adds address/prefix (IPv4, host byte order) to the link.
  Result<void> addIpv4Address(const std::string& name, uint32_t address, int prefix);
  // The default IPv4 route through gateway on the link.
  Result<void> addDefaultIpv4Route(const std::string& name, uint32_t gateway);
  // Deletes a link (and with a veth, its peer). A missing link is not an error.
  Result<void> deleteLink(const std::string& name);
  // Names of every link in the namespace.
  Result<std::vector<std::string>> linkNames();

 private:
  explicit Rtnetlink(mnl_socket* socket) : socket_(socket) {}
  // Sends the message in buf_ and waits for the kernel's acknowledgement.
  Result<void> request(const std::string& what);
  Result<int> indexOf(const std::string& name);

  mnl_socket* socket_;
  uint32_t seq_ = 0;
  std::vector<char> buf_;
};

}  // namespace nimbus::sandbox
