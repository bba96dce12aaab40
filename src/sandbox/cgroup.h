// Resource limits for instances through cgroups: memory without swap, a CPU quota that
// grows with memory as in Lambda, a pids limit; peak memory and OOM kills read back.
// cgroup v1, v2 or a mix of both, detected per controller from mountinfo at start.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace nimbus::sandbox {

enum class CgroupController { kMemory, kCpu, kPids };
const char* controllerName(CgroupController controller);  // "memory", "cpu", "pids"

// Lambda gives a function one full vCPU at 1769 MB and scales linearly with memory.
inline constexpr int kMemoryMbPerCpu = 1769;
inline constexpr int64_t kDefaultCpuPeriodUs = 100000;

// The CFS quota (µs per period) for a function of memory_mb: period * memory_mb / 1769,
// at least 1/64 of a core (only matters below Lambda's 128 MB minimum, which gets 1/14)
// and never under the kernel's 1 ms floor; at most host_cpus full cores (host_cpus <= 0:
// no cap), since a quota above what the host has only hides the real figure.
int64_t cpuQuotaForMemory(int memory_mb, int host_cpus, int64_t period_us = kDefaultCpuPeriodUs);

struct CgroupLimits {
  int memory_mb = 128;       // hard limit; swap is forbidden where the kernel can say so
  int64_t cpu_quota_us = 0;  // 0: cpuQuotaForMemory(memory_mb, host cpus, cpu_period_us)
  int64_t cpu_period_us = kDefaultCpuPeriodUs;  // 1 ms .. 1 s
  int max_pids = 1024;                          // processes and threads together
};

struct CgroupOptions {
  // Where to find the cgroup mounts; tests hand in a file describing a fake tree.
  std::string mountinfo_path = "/proc/self/mountinfo";
  // Read for /proc/<pid>/cgroup before signalling a pid found in a group (pid reuse).
  std::string proc_root = "/proc";
  // Our group beside everything else at the root of each hierarchy (one path component).
  // Everything below it belongs to this nimbus: leftovers are killed and removed at start,
  // so two nimbus processes on one host need two names.
  std::string parent_name = "nimbus";
  int host_cpus = 0;  // 0: the CPUs this process may run on
};

// The cgroup(s) of one instance: one directory per hierarchy in use (three on v1, one on
// v2). Threading: attach, killAll and remove belong to the owner; peakMemoryBytes,
// usedMemoryBytes and oomKillCount may be called from any thread at any time.
class InstanceCgroup {
 public:
  // Calls remove(); a failure is logged and left to the next start's clean-up.
  virtual ~InstanceCgroup() = default;

  virtual const std::string& instanceId() const = 0;
  // Moves pid (a whole process) into the group. Call before the child execs, i.e. before
  // releasing it, so that nothing it does escapes the limits. Errors: kInternal + errno.
  virtual Result<void> attach(pid_t pid) = 0;
  // The cheap alternative to attach: moves the *calling thread* into the instance's
  // groups, so that a child it clones is born there and needs no attach. On v1, a thread
  // that moves itself (writes "0" to `tasks`) skips the kernel's global threadgroup lock,
  // whose RCU grace period (5-16 ms on our VMs) makes attach the slowest step of a
  // sandboxed start. Returns false (and moves nothing) where that is not available (v2,
  // no cgroups) or fails; then use attach. After true, call leaveCurrentThread as soon as
  // the child is cloned: meanwhile the thread counts against the instance's limits.
  virtual bool enterCurrentThread() = 0;
  // Moves the calling thread to our parent group in each hierarchy (not back where it
  // came from: the host's groups are not ours to write). Errors: kInternal + errno.
  virtual Result<void> leaveCurrentThread() = 0;
  // The most memory the group has held, in bytes (v1 memory.max_usage_in_bytes, v2
  // memory.peak). On v2 before kernel 5.19 there is no peak: the largest memory.current
  // seen by calls to this function, so call it at least when an invocation ends. 0 when
  // memory is not enforced. Includes page cache charged to the group (files read).
  virtual int64_t peakMemoryBytes() const = 0;
  // The instance's own memory at its highest, page cache left out: what Lambda's "Max
  // Memory Used" means. Each call samples the larger of (a) what the group holds now
  // without page cache (v1 memory.stat total_rss + total_shmem + memory.kmem.usage_in_bytes,
  // v2 memory.stat anon + shmem + kernel) and (b) the sum of the peak resident sizes
  // (VmHWM, which keeps a process's own high-water mark between samples) of the
  // processes in the group; the result is the largest sample so far, never above
  // peakMemoryBytes() where that is known. So the page cache of files the instance wrote
  // (a disk-backed /tmp) or read is not counted, unless a process maps them. Call it at
  // least when an invocation ends, while the processes live; peaks of processes that
  // ended between calls are missed. 0 when memory is not enforced or nothing was seen.
  virtual int64_t usedMemoryBytes() const = 0;
  // How many processes the kernel's OOM killer has killed in the group (v1
  // memory.oom_control, v2 memory.events "oom_kill"); 0 when unknown. An instance died
  // of its memory limit if it got SIGKILL and this grew since the invocation started.
  virtual int64_t oomKillCount() const = 0;
  // SIGKILLs every process in the group (v2 cgroup.kill where the kernel has it, else one
  // by one, checking each pid's /proc/<pid>/cgroup first) and waits briefly until the
  // group is empty. Errors: kInternal when processes remain (e.g. uninterruptible sleep).
  virtual Result<void> killAll() = 0;
  // Kills what is left (killAll) and removes the directories; idempotent, and a failed
  // call may be retried. Zombies do not hold a group, so reaping need not come first.
  // Blocks for at most ~0.3 s per hierarchy, and that only when processes will not die.
  virtual Result<void> remove() = 0;
};

// Detects the cgroup layout once at start and makes one InstanceCgroup per instance.
// Thread-safe: create() may be called from several threads at once.
class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // One line for the start-up log: the mode (v1, v2, hybrid, none), where each
  // controller lives, and everything that cannot be enforced on this host.
  virtual std::string describe() const = 0;
  virtual bool enforces(CgroupController controller) const = 0;
  // One line each for what this host cannot enforce or measure; empty when all is well.
  virtual std::vector<std::string> limitations() const = 0;
  // Our parent group in each hierarchy in use (e.g. /sys/fs/cgroup/memory/nimbus).
  virtual std::vector<std::string> parentDirs() const = 0;

  // Makes the instance's groups with limits applied. instance_id: [A-Za-z0-9_-], at most
  // 128 characters. Errors: kInvalidParameter for a bad id or limit, kInternal + errno
  // when the kernel refuses (nothing is left behind then).
  virtual Result<std::unique_ptr<InstanceCgroup>> create(const std::string& instance_id,
                                                         const CgroupLimits& limits) = 0;
};

// Reads options.mountinfo_path, places each controller on the v1 or v2 hierarchy that
// carries it, makes our parent group in each (enabling v2 controllers in
// cgroup.subtree_control where needed) and removes leftover instance groups of a previous
// run, killing their processes first. A controller that cannot be used is reported in
// limitations(), not as an error. Errors: kInvalidParameter for a bad parent_name,
// kInternal + errno when mountinfo cannot be read.
Result<std::unique_ptr<CgroupManager>> makeCgroupManager(const CgroupOptions& options = {});

}  // namespace nimbus::sandbox
