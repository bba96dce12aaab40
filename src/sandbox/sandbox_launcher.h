// The isolating launcher: each instance in its own user, pid, mount, network, IPC and UTS
// namespaces, in a minimal read-only root, as an unprivileged uid with no capabilities,
// no new privileges, a seccomp deny list and rlimits; cgroups and /tmp come in via hooks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/egress_network.h"
#include "sandbox/process.h"

namespace nimbus::sandbox {

// Who an instance runs as: the ids inside its user namespace and the one host id each
// maps to (unique among live instances of this launcher).
struct InstanceIdentity {
  uid_t host_uid = 0;
  gid_t host_gid = 0;
  uid_t sandbox_uid = 0;
  gid_t sandbox_gid = 0;
};

// Per-instance resources that other parts of the sandbox own (cgroups, disk-backed /tmp),
// made by SandboxLauncherConfig::hooks before the child starts and owned by the Process.
// The destructor runs after the instance's init has been reaped, i.e. once no process of
// the instance is left: the place to remove cgroups and wipe scratch space.
// Threading: called on the thread that owns the Process (launch, then its owner).
class InstanceHooks {
 public:
  virtual ~InstanceHooks() = default;
  // Host path of a prepared, size-capped folder owned by the identity's host uid, bound
  // writable at /tmp. Empty: spec.sandbox.scratch_dir if set, else a tmpfs (see mounts.h).
  virtual std::string scratchDir() const { return {}; }
  // Called on the launching thread after clone and before the child may exec: put pid
  // (host view) into the instance's cgroups. An error aborts the launch.
  virtual Result<void> attach(pid_t /*pid*/) { return {}; }
  // The cheaper way (see InstanceCgroup::enterCurrentThread): called on the launching
  // thread just before clone, moves that thread into the instance's cgroups so that the
  // child is born there. True: attach is not called; leaveAfterClone is, right after
  // clone. False: nothing moved, attach is called as above.
  virtual bool enterForClone() { return false; }
  virtual void leaveAfterClone() {}
  // Peak memory of the instance's cgroup, page cache included; 0: unknown.
  virtual int64_t peakMemoryBytes() const { return 0; }
  // The instance's own memory at its highest, without page cache (see
  // InstanceCgroup::usedMemoryBytes); sampled by each call. 0: unknown.
  virtual int64_t usedMemoryBytes() const { return 0; }
  // True once the kernel's OOM killer has killed something in the instance.
  virtual bool oomKilled() const { return false; }
};

using InstanceHooksFactory = std::function<Result<std::unique_ptr<InstanceHooks>>(
    const ProcessSpec& spec, const InstanceIdentity& identity)>;

struct SandboxLauncherConfig {
  // Host folder for the root skeleton (mount points and generated /etc); made at start,
  // root-owned. Must not contain or be inside any code, runtime or scratch folder.
  std::string root_dir = "/run/nimbus/sandbox-root";
  std::string proc_root = "/proc";  // for uid_map, ns/net and VmHWM
  // Instance slot s runs as host uid and gid host_id_base + s. The default lies beyond
  // what useradd (/etc/subuid, from 100000) and systemd-nspawn (up to 0x6FFFFFFF) hand out.
  uint32_t host_id_base = 0x70000000;
  int max_instances = 32768;  // live instances at once (pid_max bounds them anyway)
  // The function's user inside, as in Lambda (sbx_user1051, 993:990).
  uid_t sandbox_uid = 993;
  gid_t sandbox_gid = 990;
  std::string sandbox_user = "sbx_user1051";
  std::string hostname = "localhost";
  // RLIMIT_NOFILE soft and hard (lowered to the server's hard limit if above it; root has
  // no CAP_SYS_RESOURCE on our hosts and could not raise it).
  int max_open_files = 1024;
  int dev_shm_mb = 64;
  // Host paths bound read-only at the same path (e.g. a pyenv prefix).
  std::vector<std::string> extra_readonly_paths;
  // From clone to exec; a child stuck longer (e.g. on a hung mount source) is killed.
  std::chrono::milliseconds setup_timeout{10'000};
  InstanceHooksFactory hooks;  // may be empty: no cgroups, /tmp as in InstanceHooks
  // NetworkMode::kEgress instances get a veth pair from here; when null, their launch
  // fails (kUnavailable) with egress_unavailable as the reason: never silently isolated.
  std::shared_ptr<EgressNetwork> egress;
  std::string egress_unavailable = "egress networking was not set up";
};

// Prepares the root skeleton and returns the launcher. Errors: kInvalidParameter for a
// bad config, kInternal with errno when the skeleton cannot be made.
//
// launch() inside the sandbox: spec.executable, spec.cwd and spec.env are as seen inside
// (/var/task, /var/runtime/bootstrap); the env is exactly spec.env (build HOME=/tmp, PATH,
// LANG, TZ yourself). Errors: kInvalidParameter for an unusable spec; kUnavailable when
// max_instances are live, or for NetworkMode::kEgress without config.egress (saying
// why) or with its subnet exhausted; kInternal with errno
// and the failed step (e.g. "exec /var/task/x: No such file or directory", ENOENT).
// The launched program is pid 1 of its namespace, with no init of ours in between: it
// adopts orphans, and zombies of double-forked grandchildren stay until it reaps them or
// the instance ends. Lambda runtimes rarely start children, and a pids limit bounds the
// rest. TODO(robustness): a tiny reaping init for runtimes that spawn many.
// Processes: kill() ends the whole instance (its init dies, so does its pid namespace);
// takeRuntimeApiListener() returns the listener on spec.sandbox.runtime_api_host:port
// inside the instance's network. One owner per Process, as with the plain launcher;
// launch() itself is thread-safe. The launching thread must outlive the instance (the
// parent-death signal is tied to it, see spawn.h).
Result<std::unique_ptr<ProcessLauncher>> makeSandboxLauncher(SandboxLauncherConfig config);

}  // namespace nimbus::sandbox
