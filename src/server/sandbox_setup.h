// Chooses and builds the instance launcher at start: the isolating sandbox (namespaces,
// seccomp, cgroups, disk-backed /tmp) where this host allows it, else plain processes,
// saying clearly in the log which it is and what is not enforced.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "base/error.h"
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
// "off" (plain processes).
Result<LauncherSetup> makeLauncher(const std::string& mode, const std::filesystem::path& data_dir);

}  // namespace nimbus::server
