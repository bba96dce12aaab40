// Egress networking: host checks and the nftables table at start, a veth pair per
// instance over rtnetlink, and the clean-up of both.
#include "sandbox/egress_network.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "base/log.h"
#include "sandbox/rtnetlink.h"
#include "sandbox/spawn.h"

namespace nimbus::sandbox {
namespace {

constexpr const char* kInsideInterface = "eth0";
constexpr size_t kMaxNftOutput = 16 * 1024;

Error unavailable(const std::string& why) {
  return makeError(ErrorCode::kUnavailable, "egress networking unavailable: " + why);
}

std::string findNft() {
  for (const char* candidate : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

// Runs nft with args; its output (stdout and stderr) is the error message on failure.
Result<void> runNft(const std::string& nft, const std::vector<std::string>& args) {
  ProcessSpec spec;
  spec.executable = nft;
  spec.argv = {nft};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  spec.cwd = "/";
  Result<SpawnedChild> child = spawnChild(spec);
  if (!child) return child.error().withContext("run " + nft);
  std::string output;
  char buf[4096];
  for (;;) {
    pollfd pfd{child->output.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 10'000) <= 0) {  // nft answers in milliseconds: this one is wedged
      ::syscall(SYS_pidfd_send_signal, child->pidfd.get(), SIGKILL, nullptr, 0);
      break;
    }
    ssize_t got = ::read(child->output.get(), buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) break;
    if (output.size() < kMaxNftOutput) output.append(buf, static_cast<size_t>(got));
  }
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(child->pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) return {};  // reaped elsewhere; the caller's next step will tell
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!output.empty() && output.back() == '\n') output.pop_back();
    std::string command = nft;
    for (const auto& arg : args) command += " " + arg;
    return makeError(ErrorCode::kInternal,
                     command + " failed (status " + std::to_string(status) + "): " + output);
  }
  return {};
}

Result<void> writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return makeError(ErrorCode::kInternal, "cannot write " + path);
  return {};
}

// Best effort: a sysctl of one interface (the firewall is what enforces; these only keep
// the link quiet and strict).
void writeSysctl(const std::string& path, const char* value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::write(fd, value, std::char_traits<char>::length(value));
  ::close(fd);
}

}  // namespace

EgressLease::~EgressLease() { network_->release(*this); }

Result<void> EgressLease::configureInside() const {
  Result<Rtnetlink> nl = Rtnetlink::open();
  if (!nl) return nl.error().withContext("egress (inside)");
  // /proc/sys/net shows the namespace of the thread that opens it: ours now. No IPv6 on
  // the instance's link: the table filters IPv4 only on the way out.
  writeSysctl(std::string("/proc/sys/net/ipv6/conf/") + kInsideInterface + "/disable_ipv6", "1");
  if (Result<void> r =
          nl->addIpv4Address(kInsideInterface, addresses_.instance, EgressAddresses::kPrefix);
      !r) {
    return r.error().withContext("egress (inside)");
  }
  if (Result<void> r = nl->setLinkUp(kInsideInterface); !r) {
    return r.error().withContext("egress (inside)");
  }
  if (Result<void> r = nl->addDefaultIpv4Route(kInsideInterface, addresses_.host); !r) {
    return r.error().withContext("egress (inside)");
  }
  return {};
}

EgressNetwork::EgressNetwork(EgressNetworkOptions options, std::string nft)
    : options_(std::move(options)), nft_(std::move(nft)), addresses_(options_.subnet) {}

Result<std::shared_ptr<EgressNetwork>> EgressNetwork::start(EgressNetworkOptions options) {
  if (::geteuid() != 0) return unavailable("nimbus is not root (CAP_NET_ADMIN is needed)");
  std::string nft = options.nft.empty() ? findNft() : options.nft;
  if (nft.empty() || ::access(nft.c_str(), X_OK) != 0) {
    return unavailable("nft not found (install the nftables package)");
  }
  const int capacity = 1 << (30 - options.subnet.prefix);
  if (Result<void> r = checkInterfacePrefix(options.interface_prefix, capacity - 1); !r) {
    return r.error();
  }
  std::shared_ptr<EgressNetwork> network(new EgressNetwork(std::move(options), std::move(nft)));
  const EgressNetworkOptions& o = network->options_;
  Result<Rtnetlink> nl = Rtnetlink::open();
  if (!nl) return unavailable(nl.error().message);
  network->removeLeftoverLinks();

  const std::string forward = o.proc_sys + "/net/ipv4/ip_forward";
  std::ifstream in(forward);
  char on = '0';
  in >> on;
  if (on != '1') {
    if (Result<void> w = writeFile(forward, "1\n"); !w) {
      return unavailable("cannot enable IPv4 forwarding (" + forward + ")");
    }
    log::warn("sandbox", "enabled IPv4 forwarding for egress instances",
              {{"sysctl", "net.ipv4.ip_forward=1"}});
  }
  EgressRulesSpec rules{o.table, o.interface_prefix, o.subnet};
  if (Result<void> w = writeFile(o.rules_file, renderEgressRuleset(rules)); !w) {
    return unavailable(w.error().message);
  }
  if (Result<void> r = runNft(network->nft_, {"-f", o.rules_file}); !r) {
    return unavailable(r.error().message);
  }
  return network;
}

EgressNetwork::~EgressNetwork() {
  removeLeftoverLinks();
  // Straight from the command line: the data folder (and the rules file) may be gone.
  Result<void> removed = runNft(nft_, {"delete", "table", "inet", options_.table});
  if (!removed && removed.error().message.find("No such file or directory") == std::string::npos) {
    log::warn("sandbox", "could not remove the egress rules",
              {{"table", options_.table}, {"error", removed.error().message}});
  }
  std::error_code ec;
  std::filesystem::remove(options_.rules_file, ec);
}

void EgressNetwork::removeLeftoverLinks() const {
  Result<Rtnetlink> nl = Rtnetlink::open();
  if (!nl) return;
  Result<std::vector<std::string>> names = nl->linkNames();
  if (!names) return;
  for (const std::string& name : *names) {
    if (name.rfind(options_.interface_prefix, 0) != 0) continue;
    if (Result<void> r = nl->deleteLink(name); !r) {
      log::warn("sandbox", "could not remove a leftover egress link",
                {{"link", name}, {"error", r.error().message}});
    }
  }
}

Result<std::unique_ptr<EgressLease>> EgressNetwork::attach(int netns_fd) {
  std::optional<EgressAddresses> addresses = addresses_.acquire();
  if (!addresses) {
    return makeError(ErrorCode::kUnavailable,
                     "egress: all " + std::to_string(addresses_.capacity()) + " addresses of " +
                         options_.subnet.text() + " are in use (see --egress-subnet)");
  }
  // From here the lease owns the slot and the link: any failure below undoes both.
  auto lease =
      std::make_unique<EgressLease>(shared_from_this(), *addresses,
                                    hostInterfaceName(options_.interface_prefix, addresses->slot));
  const std::string& name = lease->hostInterface();
  Result<Rtnetlink> nl = Rtnetlink::open();
  if (!nl) return nl.error().withContext("egress");
  Result<void> made = nl->createVethPair(name, kInsideInterface, netns_fd);
  if (!made && made.error().sys_errno == EEXIST) {
    // Left by an instance whose clean-up failed: it is ours, so it goes.
    (void)nl->deleteLink(name);
    made = nl->createVethPair(name, kInsideInterface, netns_fd);
  }
  if (!made) return made.error().withContext("egress");
  const std::string conf = options_.proc_sys + "/net/ipv";
  writeSysctl(conf + "6/conf/" + name + "/disable_ipv6", "1");
  writeSysctl(conf + "4/conf/" + name + "/rp_filter", "1");
  if (Result<void> r = nl->addIpv4Address(name, addresses->host, EgressAddresses::kPrefix); !r) {
    return r.error().withContext("egress");
  }
  if (Result<void> r = nl->setLinkUp(name); !r) return r.error().withContext("egress");
  return lease;
}

void EgressNetwork::release(const EgressLease& lease) {
  // Deleting one end of a veth deletes both, whether or not the namespace still lives.
  if (Result<Rtnetlink> nl = Rtnetlink::open(); nl) {
    if (Result<void> r = nl->deleteLink(lease.hostInterface()); !r) {
      log::warn("sandbox", "could not remove an egress link",
                {{"link", lease.hostInterface()}, {"error", r.error().message}});
    }
  }
  addresses_.release(lease.addresses().slot);
}

std::string EgressNetwork::describe() const {
  return "egress via nftables table inet " + options_.table + ", " + options_.subnet.text() + " (" +
         std::to_string(addresses_.capacity()) + " instances), links " + options_.interface_prefix +
         "*";
}

}  // namespace nimbus::sandbox
