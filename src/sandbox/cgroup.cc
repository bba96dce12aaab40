// The cgroup manager (detection at start, one group set per instance) and the instance
// groups: attach, peak and own memory, OOM count, kill everything, remove.
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "sandbox/cgroup_hierarchy.h"
#include "sandbox/proc_status.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

using cgroup_internal::CgroupVersion;
using cgroup_internal::Hierarchy;

const char* controllerName(CgroupController controller) {
  switch (controller) {
    case CgroupController::kMemory:
      return "memory";
    case CgroupController::kCpu:
      return "cpu";
    case CgroupController::kPids:
      return "pids";
  }
  return "?";
}

int64_t cpuQuotaForMemory(int memory_mb, int host_cpus, int64_t period_us) {
  int64_t quota = period_us * memory_mb / kMemoryMbPerCpu;
  quota = std::max({quota, period_us / 64, int64_t{1000}});
  if (host_cpus > 0) quota = std::min(quota, period_us * host_cpus);
  return quota;
}

namespace {

constexpr std::string_view kComponent = "sandbox.cgroup";
// How long killing waits for SIGKILLed processes to leave their group. They normally go
// within a millisecond; one stuck in uninterruptible sleep (D state) may not go at all.
constexpr auto kDrainTimeout = std::chrono::milliseconds(250);
// Reading /proc/<pid>/status costs ~20 µs; a fork bomb's thousands are not worth it (the
// group's memory.stat covers them anyway).
constexpr size_t kMaxSampledPids = 64;

bool validName(const std::string& name) {
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// SIGKILLs pid if it is (still) in the group. The pidfd pins one process: if the pid was
// reused between reading cgroup.procs and pidfd_open, the new process's /proc/<pid>/cgroup
// names another group and it is left alone.
void killIfMember(const Hierarchy& h, const std::string& name, pid_t pid,
                  const std::string& proc_root) {
  UniqueFd pidfd(pidfdOpen(pid));
  if (!pidfd.valid()) return;  // gone already
  Result<std::string> cg =
      cgroup_internal::readCgroupFile(proc_root + "/" + std::to_string(pid) + "/cgroup");
  if (!cg || !h.procCgroupMatches(*cg, name)) return;
  pidfdSendSignal(pidfd.get(), SIGKILL);
}

// Kills every process in group `name` of h and waits until cgroup.procs is empty.
// A group that does not exist is empty.
Result<void> killGroup(const Hierarchy& h, const std::string& name, const std::string& proc_root) {
  const std::string dir = h.groupDir(name);
  const bool at_once = h.killAtOnce(dir);
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  auto pause = std::chrono::microseconds(200);
  while (true) {
    Result<std::string> procs = cgroup_internal::readCgroupFile(dir + "/cgroup.procs");
    if (!procs) {
      if (procs.error().sys_errno == ENOENT) return {};
      return procs.error();
    }
    std::vector<pid_t> pids = cgroup_internal::parsePids(*procs);
    if (pids.empty()) return {};
    // Signal again every round: dying processes are harmless to signal, and a process
    // forked just before its parent died must not be missed.
    if (!at_once) {
      for (pid_t pid : pids) killIfMember(h, name, pid, proc_root);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return makeError(ErrorCode::kInternal,
                       std::to_string(pids.size()) + " process(es) still in " + dir +
                           " after SIGKILL (uninterruptible sleep?), e.g. pid " +
                           std::to_string(pids.front()),
                       EBUSY);
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
}

// Removes group `name` (and any groups below it), killing what runs there first.
Result<void> removeGroup(const Hierarchy& h, const std::string& name,
                         const std::string& proc_root) {
  const std::string dir = h.groupDir(name);
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
  int err = errno;
  if (err == EBUSY) {
    // Processes (or child groups) inside: children first, then the processes.
    if (DIR* d = ::opendir(dir.c_str())) {
      std::vector<std::string> children;
      while (dirent* e = ::readdir(d)) {
        std::string child = e->d_name;
        if (e->d_type == DT_DIR && child != "." && child != "..") children.push_back(child);
      }
      ::closedir(d);
      for (const std::string& child : children) {
        if (Result<void> r = removeGroup(h, name + "/" + child, proc_root); !r) return r;
      }
    }
    if (Result<void> r = killGroup(h, name, proc_root); !r) return r;
    // The last task leaving and the group becoming removable are not quite one step.
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
      err = errno;
      if (err != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return makeError(ErrorCode::kInternal, "rmdir " + dir + ": " + std::strerror(err), err);
}

class HostInstanceCgroup final : public InstanceCgroup {
 public:
  HostInstanceCgroup(std::string id, std::vector<std::shared_ptr<const Hierarchy>> groups,
                     std::string proc_root)
      : id_(std::move(id)), groups_(std::move(groups)), proc_root_(std::move(proc_root)) {
    for (const auto& h : groups_) {
      if (h->has(CgroupController::kMemory)) memory_ = h.get();
    }
  }

  ~HostInstanceCgroup() override {
    if (Result<void> r = remove(); !r) {
      log::warn(kComponent, "instance cgroup left behind; the next start removes it",
                {{"instance", id_}, {"error", r.error().message}});
    }
  }

  HostInstanceCgroup(const HostInstanceCgroup&) = delete;
  HostInstanceCgroup& operator=(const HostInstanceCgroup&) = delete;

  const std::string& instanceId() const override { return id_; }

  Result<void> attach(pid_t pid) override {
    for (const auto& h : groups_) {
      Result<void> r =
          cgroup_internal::writeCgroupFile(h->groupDir(id_) + "/cgroup.procs", std::to_string(pid));
      if (!r) return r.error().withContext("attach pid " + std::to_string(pid));
    }
    return {};
  }

  bool enterCurrentThread() override {
    if (groups_.empty()) return false;
    for (const auto& h : groups_) {
      if (h->selfMoveFile(h->groupDir(id_)).empty()) return false;
    }
    for (size_t i = 0; i < groups_.size(); ++i) {
      const std::string file = groups_[i]->selfMoveFile(groups_[i]->groupDir(id_));
      if (Result<void> r = cgroup_internal::writeCgroupFile(file, "0"); !r) {
        // Half inside: out again, to our parent groups.
        for (size_t j = 0; j < i; ++j) {
          (void)cgroup_internal::writeCgroupFile(groups_[j]->selfMoveFile(groups_[j]->parentDir()),
                                                 "0");
        }
        log::warn(kComponent, "cannot move the launching thread into an instance group",
                  {{"instance", id_}, {"error", r.error().message}});
        return false;
      }
    }
    return true;
  }

  Result<void> leaveCurrentThread() override {
    Result<void> result;
    for (const auto& h : groups_) {
      Result<void> r = cgroup_internal::writeCgroupFile(h->selfMoveFile(h->parentDir()), "0");
      if (!r && result) result = r.error().withContext("move the launching thread out");
    }
    return result;
  }

  int64_t peakMemoryBytes() const override {
    if (memory_ == nullptr) return 0;
    const std::string dir = memory_->groupDir(id_);
    if (std::optional<int64_t> peak = memory_->peakMemoryBytes(dir)) return *peak;
    // No peak kept by the kernel: remember the largest current usage seen.
    int64_t now = memory_->currentMemoryBytes(dir).value_or(0);
    int64_t seen = sampled_peak_.load(std::memory_order_relaxed);
    while (now > seen && !sampled_peak_.compare_exchange_weak(seen, now)) {
    }
    return std::max(now, seen);
  }

  int64_t usedMemoryBytes() const override {
    if (memory_ == nullptr) return 0;
    const std::string dir = memory_->groupDir(id_);
    int64_t now = std::max(memory_->ownMemoryBytes(dir).value_or(0), processesPeakRss(dir));
    // Shared pages (libc in init and the runtime) count once per process in (b).
    if (int64_t peak = peakMemoryBytes(); peak > 0) now = std::min(now, peak);
    int64_t seen = sampled_used_.load(std::memory_order_relaxed);
    while (now > seen && !sampled_used_.compare_exchange_weak(seen, now)) {
    }
    return std::max(now, seen);
  }

  int64_t oomKillCount() const override {
    if (memory_ == nullptr) return 0;
    return memory_->oomKillCount(memory_->groupDir(id_)).value_or(0);
  }

  Result<void> killAll() override {
    for (const auto& h : groups_) {
      if (Result<void> r = killGroup(*h, id_, proc_root_); !r) return r;
    }
    return {};
  }

  Result<void> remove() override {
    Result<void> result;
    std::vector<std::shared_ptr<const Hierarchy>> left;
    for (const auto& h : groups_) {
      Result<void> r = removeGroup(*h, id_, proc_root_);
      if (!r) {
        left.push_back(h);
        if (result) result = r;
      }
    }
    groups_ = std::move(left);  // a later call retries only what failed
    return result;
  }

 private:
  const std::string id_;
  std::vector<std::shared_ptr<const Hierarchy>> groups_;
  const Hierarchy* memory_ = nullptr;  // kept alive by groups_ until remove() succeeds
  // The sum of VmHWM over the processes in the memory group (at most kMaxSampledPids).
  int64_t processesPeakRss(const std::string& dir) const {
    Result<std::string> procs = cgroup_internal::readCgroupFile(dir + "/cgroup.procs");
    if (!procs) return 0;
    std::vector<pid_t> pids = cgroup_internal::parsePids(*procs);
    if (pids.size() > kMaxSampledPids) pids.resize(kMaxSampledPids);
    int64_t sum = 0;
    for (pid_t pid : pids) sum += readVmHwmBytes(proc_root_, pid);
    return sum;
  }

  const std::string proc_root_;
  mutable std::atomic<int64_t> sampled_peak_{0};
  mutable std::atomic<int64_t> sampled_used_{0};
};

class HostCgroupManager final : public CgroupManager {
 public:
  HostCgroupManager(CgroupOptions options, std::vector<std::shared_ptr<const Hierarchy>> groups,
                    std::vector<std::string> limitations, int leftovers, int host_cpus)
      : options_(std::move(options)),
        groups_(std::move(groups)),
        limitations_(std::move(limitations)),
        leftovers_(leftovers),
        host_cpus_(host_cpus) {}

  std::string describe() const override {
    bool v1 = false, v2 = false;
    std::string where;
    for (CgroupController c :
         {CgroupController::kMemory, CgroupController::kCpu, CgroupController::kPids}) {
      const Hierarchy* h = holder(c);
      if (h == nullptr) continue;
      (h->version() == CgroupVersion::kV1 ? v1 : v2) = true;
      where += std::string(where.empty() ? "" : ", ") + controllerName(c) + " at " + h->parentDir();
    }
    std::string text = v1 && v2 ? "cgroup hybrid (v1 and v2)"
                       : v1     ? "cgroup v1"
                       : v2     ? "cgroup v2"
                                : "no cgroups";
    if (!where.empty()) text += " (" + where + ")";
    text += "; CPU quota capped at " + std::to_string(host_cpus_) + " host cpu(s)";
    if (limitations_.empty()) {
      text += "; every limit enforced";
    } else {
      text += "; cannot enforce: ";
      for (size_t i = 0; i < limitations_.size(); ++i) {
        text += (i ? "; " : "") + limitations_[i];
      }
    }
    if (leftovers_ > 0) {
      text += "; removed " + std::to_string(leftovers_) + " leftover group(s) of a previous run";
    }
    return text;
  }

  bool enforces(CgroupController c) const override { return holder(c) != nullptr; }
  std::vector<std::string> limitations() const override { return limitations_; }

  std::vector<std::string> parentDirs() const override {
    std::vector<std::string> dirs;
    for (const auto& h : groups_) dirs.push_back(h->parentDir());
    return dirs;
  }

  Result<std::unique_ptr<InstanceCgroup>> create(const std::string& id,
                                                 const CgroupLimits& requested) override {
    if (!validName(id)) {
      return makeError(ErrorCode::kInvalidParameter, "bad instance id for a cgroup: '" + id + "'");
    }
    CgroupLimits limits = requested;
    if (limits.cpu_quota_us == 0) {
      limits.cpu_quota_us = cpuQuotaForMemory(limits.memory_mb, host_cpus_, limits.cpu_period_us);
    }
    if (limits.memory_mb <= 0 || limits.max_pids <= 0 || limits.cpu_period_us < 1000 ||
        limits.cpu_period_us > 1000000 || limits.cpu_quota_us < 1000) {
      return makeError(ErrorCode::kInvalidParameter, "bad cgroup limits for instance " + id);
    }
    std::vector<std::shared_ptr<const Hierarchy>> made;
    for (const auto& h : groups_) {
      const std::string dir = h->groupDir(id);
      Result<void> r = cgroup_internal::makeGroupDir(dir, /*exist_ok=*/false);
      if (r) {
        made.push_back(h);
        r = h->applyLimits(dir, limits);
      }
      if (!r) {
        HostInstanceCgroup undo(id, std::move(made), options_.proc_root);  // removes them
        return r.error().withContext("cgroup for instance " + id);
      }
    }
    return std::unique_ptr<InstanceCgroup>(
        std::make_unique<HostInstanceCgroup>(id, std::move(made), options_.proc_root));
  }

 private:
  const Hierarchy* holder(CgroupController c) const {
    for (const auto& h : groups_) {
      if (h->has(c)) return h.get();
    }
    return nullptr;
  }

  const CgroupOptions options_;
  const std::vector<std::shared_ptr<const Hierarchy>> groups_;
  const std::vector<std::string> limitations_;
  const int leftovers_;
  const int host_cpus_;
};

int hostCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Removes every group below our parent (left by a previous run that died); returns how
// many it removed and reports those it could not.
int removeLeftovers(const Hierarchy& h, const std::string& proc_root,
                    std::vector<std::string>* limitations) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(h.parentDir().c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (e->d_type == DT_DIR && name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  int removed = 0;
  for (const std::string& name : names) {
    if (Result<void> r = removeGroup(h, name, proc_root); r) {
      ++removed;
    } else {
      limitations->push_back("leftover group not removed: " + r.error().message);
    }
  }
  return removed;
}

}  // namespace

Result<std::unique_ptr<CgroupManager>> makeCgroupManager(const CgroupOptions& options) {
  if (!validName(options.parent_name)) {
    return makeError(ErrorCode::kInvalidParameter,
                     "bad cgroup parent name: '" + options.parent_name + "'");
  }
  Result<std::string> mountinfo = cgroup_internal::readCgroupFile(options.mountinfo_path);
  if (!mountinfo) return mountinfo.error().withContext("finding cgroup mounts");
  std::vector<cgroup_internal::CgroupMount> mounts = cgroup_internal::parseCgroupMounts(*mountinfo);
  std::string v2_controllers;
  for (const auto& m : mounts) {
    if (m.version != CgroupVersion::kV2) continue;
    Result<std::string> text =
        cgroup_internal::readCgroupFile(m.mount_point + "/cgroup.controllers");
    if (text) v2_controllers = *text;
    break;
  }
  cgroup_internal::Placement placement = cgroup_internal::placeControllers(mounts, v2_controllers);

  std::vector<std::string> limitations = std::move(placement.limitations);
  std::vector<std::shared_ptr<const Hierarchy>> groups;
  int leftovers = 0;
  for (cgroup_internal::HierarchySpec& spec : placement.hierarchies) {
    std::shared_ptr<Hierarchy> h =
        spec.version == CgroupVersion::kV1
            ? cgroup_internal::makeV1Hierarchy(spec, options.parent_name)
            : cgroup_internal::makeV2Hierarchy(spec, options.parent_name);
    if (Result<void> r = h->prepare(&limitations); !r) {
      for (CgroupController c : spec.controllers) {
        limitations.push_back(std::string(controllerName(c)) + ": " + r.error().message + ", so " +
                              cgroup_internal::withoutController(c));
      }
      continue;
    }
    if (h->controllers().empty()) continue;
    leftovers += removeLeftovers(*h, options.proc_root, &limitations);
    groups.push_back(std::move(h));
  }
  int cpus = options.host_cpus > 0 ? options.host_cpus : hostCpus();
  return std::unique_ptr<CgroupManager>(std::make_unique<HostCgroupManager>(
      options, std::move(groups), std::move(limitations), leftovers, cpus));
}

}  // namespace nimbus::sandbox
