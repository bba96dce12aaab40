// rtnetlink requests built with libmnl: RTM_NEWLINK (veth with the peer placed in another
// namespace, link up), RTM_NEWADDR, RTM_NEWROUTE, RTM_DELLINK and a RTM_GETLINK dump.
#include "sandbox/rtnetlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace nimbus::sandbox {
namespace {

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::system_category().message(err), err);
}

// Big enough for any one message of a link dump (the kernel never splits one).
constexpr size_t kBufferBytes = 32768;

}  // namespace

Result<Rtnetlink> Rtnetlink::open() {
  mnl_socket* socket = ::mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (socket == nullptr) return sysError("open an rtnetlink socket", errno);
  if (::mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    ::mnl_socket_close(socket);
    return sysError("bind the rtnetlink socket", err);
  }
  Rtnetlink nl(socket);
  nl.buf_.resize(std::max<size_t>(kBufferBytes, MNL_SOCKET_BUFFER_SIZE));
  return nl;
}

Rtnetlink::Rtnetlink(Rtnetlink&& other) noexcept
    : socket_(other.socket_), seq_(other.seq_), buf_(std::move(other.buf_)) {
  other.socket_ = nullptr;
}

Rtnetlink::~Rtnetlink() {
  if (socket_ != nullptr) ::mnl_socket_close(socket_);
}

Result<void> Rtnetlink::request(const std::string& what) {
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf_.data());
  const uint32_t seq = nlh->nlmsg_seq;
  const unsigned int portid = ::mnl_socket_get_portid(socket_);
  if (::mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return sysError(what, errno);
  for (;;) {
    ssize_t n = ::mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError(what, errno);
    // The callback run ends with MNL_CB_STOP at the ack (error 0) and fails with errno
    // set from a negative error code.
    int r = ::mnl_cb_run(buf_.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr);
    if (r == MNL_CB_ERROR) return sysError(what, errno);
    if (r == MNL_CB_STOP) return {};
  }
}

Result<int> Rtnetlink::indexOf(const std::string& name) {
  // if_nametoindex makes its own socket, in the calling thread's namespace: the same as
  // ours only if the thread has not moved since open(). Ask netlink instead.
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = ++seq_;
  auto* ifm = static_cast<ifinfomsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ::mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  const std::string what = "find link " + name;
  if (::mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) return sysError(what, errno);
  int index = 0;
  for (;;) {
    ssize_t n = ::mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError(what, errno);
    auto cb = [](const nlmsghdr* msg, void* data) -> int {
      if (msg->nlmsg_type == RTM_NEWLINK) {
        auto* info = static_cast<const ifinfomsg*>(::mnl_nlmsg_get_payload(msg));
        *static_cast<int*>(data) = info->ifi_index;
      }
      return MNL_CB_OK;
    };
    int r = ::mnl_cb_run(buf_.data(), static_cast<size_t>(n), seq_,
                         ::mnl_socket_get_portid(socket_), cb, &index);
    if (r == MNL_CB_ERROR) return sysError(what, errno);
    if (index > 0) return index;
    if (r == MNL_CB_STOP) return sysError(what, ENODEV);
  }
}

Result<void> Rtnetlink::createVethPair(const std::string& host_name, const std::string& peer_name,
                                       int peer_netns_fd) {
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* ifm = static_cast<ifinfomsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ::mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name.c_str());
  nlattr* linkinfo = ::mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  ::mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = ::mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
  nlattr* peer = ::mnl_attr_nest_start(nlh, VETH_INFO_PEER);
  // The peer's attributes follow an ifinfomsg of its own, inside the nest.
  auto* peer_ifm = static_cast<ifinfomsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  peer_ifm->ifi_family = AF_UNSPEC;
  ::mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name.c_str());
  ::mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  ::mnl_attr_nest_end(nlh, peer);
  ::mnl_attr_nest_end(nlh, data);
  ::mnl_attr_nest_end(nlh, linkinfo);
  return request("create veth " + host_name + " (peer " + peer_name + ")");
}

Result<void> Rtnetlink::setLinkUp(const std::string& name) {
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* ifm = static_cast<ifinfomsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;
  ::mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  return request("set link " + name + " up");
}

Result<void> Rtnetlink::addIpv4Address(const std::string& name, uint32_t address, int prefix) {
  Result<int> index = indexOf(name);
  if (!index) return index.error();
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* ifa = static_cast<ifaddrmsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(*index);
  const uint32_t net = htonl(address);
  ::mnl_attr_put_u32(nlh, IFA_LOCAL, net);
  ::mnl_attr_put_u32(nlh, IFA_ADDRESS, net);
  return request("add address to " + name);
}

Result<void> Rtnetlink::addDefaultIpv4Route(const std::string& name, uint32_t gateway) {
  Result<int> index = indexOf(name);
  if (!index) return index.error();
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* rtm = static_cast<rtmsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  ::mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
  ::mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(*index));
  return request("add default route via " + name);
}

Result<void> Rtnetlink::deleteLink(const std::string& name) {
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_DELLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = ++seq_;
  auto* ifm = static_cast<ifinfomsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ::mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  Result<void> r = request("delete link " + name);
  if (!r && r.error().sys_errno == ENODEV) return {};
  return r;
}

Result<std::vector<std::string>> Rtnetlink::linkNames() {
  nlmsghdr* nlh = ::mnl_nlmsg_put_header(buf_.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = ++seq_;
  auto* gen = static_cast<rtgenmsg*>(::mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
  gen->rtgen_family = AF_UNSPEC;
  if (::mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0) {
    return sysError("list links", errno);
  }
  std::vector<std::string> names;
  auto cb = [](const nlmsghdr* msg, void* out) -> int {
    auto attr_cb = [](const nlattr* attr, void* name) -> int {
      if (::mnl_attr_get_type(attr) == IFLA_IFNAME &&
          ::mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0) {
        *static_cast<std::string*>(name) = ::mnl_attr_get_str(attr);
      }
      return MNL_CB_OK;
    };
    std::string name;
    ::mnl_attr_parse(msg, sizeof(ifinfomsg), attr_cb, &name);
    if (!name.empty()) static_cast<std::vector<std::string>*>(out)->push_back(std::move(name));
    return MNL_CB_OK;
  };
  for (;;) {
    ssize_t n = ::mnl_socket_recvfrom(socket_, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("list links", errno);
    int r = ::mnl_cb_run(buf_.data(), static_cast<size_t>(n), seq_,
                         ::mnl_socket_get_portid(socket_), cb, &names);
    if (r == MNL_CB_ERROR) return sysError("list links", errno);
    if (r == MNL_CB_STOP) return names;
  }
}

}  // namespace nimbus::sandbox
