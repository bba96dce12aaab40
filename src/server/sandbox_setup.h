// Chooses and builds the instance launcher at start: the isolating sandbox (namespaces,
// seccomp, cgroups, disk-backed /tmp) where this host allows it, else plain processes,
// saying clearly in the log which it is and what is not enforced.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/error.h"
#include "sandbox/egress_addresses.h"
#include "sandbox/process.h"

namespace nimbus::server {

struct LauncherSetup {
  std::unique_ptr<sandbox::ProcessLauncher> launcher;
  bool sandboxed = false;
  std::string description;  // for the start-up log
  std::string init_path;    // pid 1 of each sandboxed instance (nimbus-init), as seen inside
  // Owners of what the launcher's hooks use; kept alive as long as the launcher.
  std::shared_ptr<void> keep_alive;
};

// mode: "auto" (sandbox if root, else plain with a warning), "on" (sandbox or fail),
// "off" (plain processes). egress_subnet: "auto" or a.b.c.d/n (--egress-subnet); a bad one
// is an error. A sandbox that cannot do egress still starts, says so, and refuses egress
// functions' instances with a clear error. Plain processes share the host's network.
Result<LauncherSetup> makeLauncher(const std::string& mode, const std::filesystem::path& data_dir,
                                   const std::string& egress_subnet = "auto");

// The subnet "auto" means for a data folder's hash (hex): a /20 of 100.64.0.0/10.
sandbox::Ipv4Subnet autoEgressSubnet(const std::string& data_hash_hex);

}  // namespace nimbus::server
