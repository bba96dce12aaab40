// Composition of the sandbox pieces: the cgroup manager and scratch storage live as long
// as the launcher; each instance's hooks own its cgroup and its /tmp volume.
#include "server/sandbox_setup.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "base/encoding.h"
#include "base/log.h"
#include "sandbox/cgroup.h"
#include "sandbox/egress_network.h"
#include "sandbox/sandbox_launcher.h"
#include "sandbox/scratch_storage.h"

namespace nimbus::server {

namespace {

struct SandboxParts {
  std::unique_ptr<sandbox::CgroupManager> cgroups;
  std::unique_ptr<sandbox::ScratchStorage> scratch;
  std::shared_ptr<sandbox::EgressNetwork> egress;  // null when the host cannot do egress

  // Runs after the pool has ended every instance: our (now empty) parent groups go too,
  // so that data folders that come and go leave nothing in the cgroup tree.
  ~SandboxParts() {
    if (!cgroups) return;
    for (const auto& dir : cgroups->parentDirs()) ::rmdir(dir.c_str());
  }
};

class Hooks : public sandbox::InstanceHooks {
 public:
  Hooks(std::unique_ptr<sandbox::InstanceCgroup> cgroup,
        std::unique_ptr<sandbox::ScratchVolume> scratch)
      : cgroup_(std::move(cgroup)), scratch_(std::move(scratch)) {}

  std::string scratchDir() const override { return scratch_ ? scratch_->path().string() : ""; }
  Result<void> attach(pid_t pid) override {
    return cgroup_ ? cgroup_->attach(pid) : Result<void>{};
  }
  bool enterForClone() override { return cgroup_ && cgroup_->enterCurrentThread(); }
  void leaveAfterClone() override {
    if (Result<void> r = cgroup_->leaveCurrentThread(); !r) {
      log::warn("sandbox", "launching thread left in an instance cgroup",
                {{"error", r.error().message}});
    }
  }
  int64_t peakMemoryBytes() const override { return cgroup_ ? cgroup_->peakMemoryBytes() : 0; }
  int64_t usedMemoryBytes() const override { return cgroup_ ? cgroup_->usedMemoryBytes() : 0; }
  bool oomKilled() const override { return cgroup_ && cgroup_->oomKillCount() > 0; }

 private:
  // Destroyed after the instance's last process is gone: the cgroup is removed and the
  // volume wiped (in the background).
  std::unique_ptr<sandbox::InstanceCgroup> cgroup_;
  std::unique_ptr<sandbox::ScratchVolume> scratch_;
};

// Each instance may hold max_pids processes, but all of them together must never take
// the host's last pids: cap our parent group at three quarters of pid_max.
void capAllInstancesPids(const sandbox::CgroupManager& cgroups) {
  std::ifstream pid_max_file("/proc/sys/kernel/pid_max");
  long pid_max = 0;
  if (!(pid_max_file >> pid_max) || pid_max <= 0) return;
  const long cap = pid_max * 3 / 4;
  for (const auto& dir : cgroups.parentDirs()) {
    const std::string file = dir + "/pids.max";
    if (::access(file.c_str(), W_OK) != 0) continue;
    std::ofstream(file) << cap;
    log::info("server", "instances' processes capped", {{"pids.max", std::to_string(cap)}});
  }
}

// nimbus-init beside the binary (build tree), or where an install puts it.
Result<std::string> findInit() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return makeError(ErrorCode::kInternal, "cannot read /proc/self/exe", ec.value());
  for (const auto& candidate : {exe.parent_path() / "nimbus-init",
                                exe.parent_path().parent_path() / "libexec/nimbus/nimbus-init"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return makeError(ErrorCode::kInternal,
                   "nimbus-init not found beside " + exe.string() + " (build target nimbus-init)");
}

Result<sandbox::Ipv4Subnet> egressSubnetFor(const std::string& text, const std::string& data_hash) {
  if (text == "auto") return autoEgressSubnet(data_hash);
  return sandbox::parseIpv4Subnet(text);
}

// Egress is optional: without it the sandbox still runs isolated functions, and the
// launcher refuses egress ones, quoting the reason logged here.
std::string setUpEgress(sandbox::SandboxLauncherConfig& config, SandboxParts& parts,
                        const std::filesystem::path& data_dir, const std::string& data_hash,
                        const sandbox::Ipv4Subnet& subnet) {
  sandbox::EgressNetworkOptions options;
  options.subnet = subnet;
  options.table = "nimbus_" + data_hash;
  options.interface_prefix = "nx" + data_hash.substr(0, 6) + "-";
  options.rules_file = (data_dir / "egress.nft").string();
  // Where nft lives, when not in /usr/sbin, /sbin or /usr/bin.
  if (const char* nft = std::getenv("NIMBUS_NFT"); nft != nullptr && *nft != '\0') {
    options.nft = nft;
  }
  auto egress = sandbox::EgressNetwork::start(options);
  if (!egress) {
    config.egress_unavailable = egress.error().message;
    log::warn("server", "egress network mode unavailable: functions set to egress will fail",
              {{"reason", egress.error().message}});
    return "network: isolated only (" + egress.error().message + ")";
  }
  parts.egress = *egress;
  config.egress = *egress;
  return "network: isolated, or " + (*egress)->describe();
}

Result<LauncherSetup> makeSandbox(const std::filesystem::path& data_dir,
                                  const std::string& egress_subnet) {
  auto init = findInit();
  if (!init) return init.error();
  auto parts = std::make_shared<SandboxParts>();
  // One cgroup parent per data folder: a restart cleans up its own leftovers, and a
  // second nimbus on the same host (another data folder) is left alone.
  sandbox::CgroupOptions cgroup_options;
  const std::string data_hash =
      sha256Hex(std::filesystem::weakly_canonical(data_dir).string()).substr(0, 12);
  cgroup_options.parent_name = "nimbus-" + data_hash;
  auto subnet = egressSubnetFor(egress_subnet, data_hash);
  if (!subnet) return subnet.error().withContext("--egress-subnet");
  auto cgroups = sandbox::makeCgroupManager(cgroup_options);
  if (!cgroups) return cgroups.error().withContext("cgroups");
  parts->cgroups = std::move(*cgroups);
  capAllInstancesPids(*parts->cgroups);
  for (const auto& limitation : parts->cgroups->limitations()) {
    log::warn("server", "sandbox limitation", {{"detail", limitation}});
  }
  auto scratch = sandbox::ScratchStorage::create(data_dir / "scratch");
  if (!scratch) return scratch.error().withContext("scratch storage");
  parts->scratch = std::move(*scratch);

  sandbox::SandboxLauncherConfig config;
  config.root_dir = (data_dir / "sandbox-root").string();
  // Host uids per data folder too, so two servers on one host never share an instance
  // uid: 1024 ranges of 32768 from 0x70000000.
  config.max_instances = 32768;
  config.host_id_base =
      0x70000000u +
      static_cast<uint32_t>(std::stoul(data_hash.substr(0, 4), nullptr, 16) % 1024) * 32768u;
  std::weak_ptr<SandboxParts> weak = parts;
  config.hooks = [weak](const sandbox::ProcessSpec& spec, const sandbox::InstanceIdentity& id)
      -> Result<std::unique_ptr<sandbox::InstanceHooks>> {
    auto p = weak.lock();
    if (!p) return makeError(ErrorCode::kUnavailable, "sandbox is shutting down");
    sandbox::CgroupLimits limits;
    limits.memory_mb = spec.sandbox.memory_mb;
    limits.max_pids = spec.sandbox.max_pids;
    auto cgroup = p->cgroups->create(spec.sandbox.instance_id, limits);
    if (!cgroup) return cgroup.error().withContext("instance cgroup");
    auto volume = p->scratch->acquire(spec.sandbox.instance_id, spec.sandbox.ephemeral_storage_mb,
                                      id.host_uid, id.host_gid);
    if (!volume) return volume.error().withContext("instance /tmp");
    return std::unique_ptr<sandbox::InstanceHooks>(
        std::make_unique<Hooks>(std::move(*cgroup), std::move(*volume)));
  };
  const std::string network = setUpEgress(config, *parts, data_dir, data_hash, *subnet);
  const std::filesystem::path skeleton = config.root_dir;
  auto launcher = sandbox::makeSandboxLauncher(std::move(config));
  if (!launcher) return launcher.error().withContext("sandbox launcher");
  // The skeleton is every instance's read-only root: a copy of nimbus-init placed in it
  // is /nimbus-init inside, wherever nimbus itself is installed or built.
  std::error_code ec;
  const auto staged = skeleton / ".nimbus-init.tmp";
  std::filesystem::copy_file(*init, staged, std::filesystem::copy_options::overwrite_existing, ec);
  if (!ec) {
    std::filesystem::permissions(staged, std::filesystem::perms(0755), ec);
  }
  if (!ec) std::filesystem::rename(staged, skeleton / "nimbus-init", ec);
  if (ec) {
    return makeError(ErrorCode::kInternal,
                     "cannot place nimbus-init in " + skeleton.string() + ": " + ec.message(),
                     ec.value());
  }
  LauncherSetup setup;
  setup.launcher = std::move(*launcher);
  setup.sandboxed = true;
  setup.description = "namespaces (user, pid, mount, net, ipc, uts), seccomp, " +
                      parts->cgroups->describe() + "; /tmp: " + parts->scratch->describe() + "; " +
                      network;
  setup.keep_alive = parts;
  setup.init_path = "/nimbus-init";
  return setup;
}

LauncherSetup plainSetup(std::string description) {
  LauncherSetup setup;
  setup.launcher = sandbox::makePlainLauncher();
  setup.description = std::move(description);
  return setup;
}

}  // namespace

sandbox::Ipv4Subnet autoEgressSubnet(const std::string& data_hash_hex) {
  const uint32_t index =
      static_cast<uint32_t>(std::stoul(data_hash_hex.substr(4, 4), nullptr, 16)) % 1024;
  constexpr uint32_t kCgnatBase = (100u << 24) | (64u << 16);  // 100.64.0.0/10
  return sandbox::Ipv4Subnet{kCgnatBase + index * 4096u, 20};
}

Result<LauncherSetup> makeLauncher(const std::string& mode, const std::filesystem::path& data_dir,
                                   const std::string& egress_subnet) {
  if (egress_subnet != "auto") {
    if (auto subnet = sandbox::parseIpv4Subnet(egress_subnet); !subnet) {
      return subnet.error().withContext("--egress-subnet");
    }
  }
  if (mode == "off") {
    return plainSetup(
        "none: plain processes (--sandbox off); function code runs as nimbus's own user and "
        "sees the host");
  }
  if (mode == "auto" && ::geteuid() != 0) {
    log::warn("server", "not root: instances run as plain processes without isolation",
              {{"hint", "run nimbus as root for the sandbox, or --sandbox off to silence this"}});
    return LauncherSetup{sandbox::makePlainLauncher(), false, "none: plain processes (not root)",
                         nullptr};
  }
  auto sandbox = makeSandbox(data_dir, egress_subnet);
  if (!sandbox && mode == "auto") {
    log::warn("server", "sandbox unavailable: instances run as plain processes",
              {{"error", sandbox.error().message}});
    return LauncherSetup{
        sandbox::makePlainLauncher(), false,
        "none: plain processes (sandbox unavailable: " + sandbox.error().message + ")", nullptr};
  }
  return sandbox;
}

}  // namespace nimbus::server
