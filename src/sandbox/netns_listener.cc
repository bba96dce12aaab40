// Opening the Runtime API listener inside an instance's network namespace: a short-lived
// thread joins the namespace, so that no server thread is ever left in the wrong one.
#include "sandbox/netns_listener.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

namespace nimbus::sandbox {
namespace {

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::system_category().message(err), err);
}

// Runs on the helper thread, after setns.
Result<UniqueFd> listenHere(const std::string& host, int port) {
  sockaddr_storage addr{};
  socklen_t addr_len;
  int family;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof *v6;
  } else {
    return makeError(ErrorCode::kInvalidParameter,
                     "runtime API host must be an IP address literal: '" + host + "'");
  }
  std::string where = host + ":" + std::to_string(port);
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sysError("socket for " + where, errno);
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    return sysError("SO_REUSEADDR on " + where, errno);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), addr_len) < 0) {
    return sysError("bind " + where + " in the instance network", errno);
  }
  if (::listen(fd.get(), SOMAXCONN) < 0) return sysError("listen on " + where, errno);
  return fd;
}

}  // namespace

Result<void> bringLoopbackUp() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sysError("socket for SIOCSIFFLAGS", errno);
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(fd.get(), SIOCGIFFLAGS, &req) < 0) return sysError("SIOCGIFFLAGS lo", errno);
  if (req.ifr_flags & IFF_UP) return {};
  req.ifr_flags |= IFF_UP;
  if (::ioctl(fd.get(), SIOCSIFFLAGS, &req) < 0) return sysError("SIOCSIFFLAGS lo up", errno);
  return {};
}

Result<UniqueFd> openListenerInNetns(int netns_fd, const std::string& host, int port,
                                     const std::function<Result<void>()>& in_netns) {
  if (port < 0 || port > 65535) {
    return makeError(ErrorCode::kInvalidParameter, "bad port " + std::to_string(port));
  }
  Result<UniqueFd> result = makeError(ErrorCode::kInternal, "listener thread did not run");
  // A new thread rather than setns and back on the caller: if the way back failed, a
  // server thread would serve in the instance's network. The helper simply ends.
  // TODO(perf): a long-lived helper thread would save the thread start (~50 µs).
  std::thread helper([&] {
    if (::setns(netns_fd, CLONE_NEWNET) < 0) {
      result = sysError("setns into the instance network namespace", errno);
      return;
    }
    if (Result<void> up = bringLoopbackUp(); !up) {
      result = up.error();
      return;
    }
    if (in_netns) {
      if (Result<void> r = in_netns(); !r) {
        result = r.error();
        return;
      }
    }
    result = listenHere(host, port);
  });
  helper.join();
  return result;
}

}  // namespace nimbus::sandbox
