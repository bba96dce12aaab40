// The Runtime API socket of an isolated instance: a TCP listener opened by the server
// inside the instance's network namespace (where only loopback exists), so the function
// reaches 127.0.0.1:9001 while the server accepts on an ordinary fd in its own threads.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

// Enters the network namespace netns_fd (e.g. an open /proc/<pid>/ns/net) on a helper
// thread, brings `lo` up there, and returns a listening, CLOEXEC TCP socket bound to
// host:port (an IPv4 or IPv6 literal; port 0 picks one) in that namespace. The socket is
// blocking; it keeps the namespace alive while open. The calling thread never leaves its
// own namespace. Errors: kInvalidParameter for a host that is not an address literal;
// kInternal with errno naming the step (setns, SIOCSIFFLAGS lo, bind 127.0.0.1:9001...).
// in_netns, when given, runs on the helper thread inside the namespace after lo is up
// (egress: the instance's eth0 and route); its error aborts.
Result<UniqueFd> openListenerInNetns(int netns_fd, const std::string& host, int port,
                                     const std::function<Result<void>()>& in_netns = nullptr);

// Brings the loopback interface of the calling thread's network namespace up (a new
// namespace starts with lo down). Errors: kInternal with errno.
Result<void> bringLoopbackUp();

}  // namespace nimbus::sandbox
