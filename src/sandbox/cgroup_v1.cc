// cgroup v1: one hierarchy per controller (or a few co-mounted, e.g. cpu,cpuacct), as on
// the machines nimbus is built on. Memory and memsw limits, CFS quota, pids.max.
#include <string>

#include "sandbox/cgroup_hierarchy.h"

namespace nimbus::sandbox::cgroup_internal {
namespace {

class V1Hierarchy final : public Hierarchy {
 public:
  using Hierarchy::Hierarchy;

  Result<void> prepare(std::vector<std::string>* limitations) override {
    // v1 has no "no internal processes" rule and no subtree_control: a directory is all.
    if (Result<void> made = makeGroupDir(parentDir(), /*exist_ok=*/true); !made) return made;
    const std::string parent = parentDir() + "/";
    if (has(CgroupController::kMemory)) {
      if (!pathExists(parent + "memory.limit_in_bytes")) {
        drop(CgroupController::kMemory);
        limitations->push_back("memory: memory.limit_in_bytes missing in " + parentDir() + ", so " +
                               withoutController(CgroupController::kMemory));
      } else {
        memsw_ = pathExists(parent + "memory.memsw.limit_in_bytes");
        if (!memsw_) {
          limitations->push_back(
              "swap: not limited (memory.memsw.* missing: the kernel does not account swap); "
              "memory.swappiness=0 keeps instances from swapping under their own limit only");
        }
        Result<std::string> oom = readCgroupFile(parent + "memory.oom_control");
        if (!oom || !parseKeyedValue(*oom, "oom_kill")) {
          limitations->push_back(
              "oom: memory.oom_control has no oom_kill counter (kernel < 4.13), so an OOM "
              "kill cannot be told from another SIGKILL");
        }
      }
    }
    if (has(CgroupController::kCpu) && !pathExists(parent + "cpu.cfs_quota_us")) {
      drop(CgroupController::kCpu);
      limitations->push_back(
          "cpu: cpu.cfs_quota_us missing (kernel without CFS bandwidth "
          "control), so " +
          withoutController(CgroupController::kCpu));
    }
    if (has(CgroupController::kPids) && !pathExists(parent + "pids.max")) {
      drop(CgroupController::kPids);
      limitations->push_back("pids: pids.max missing in " + parentDir() + ", so " +
                             withoutController(CgroupController::kPids));
    }
    return {};
  }

  Result<void> applyLimits(const std::string& dir, const CgroupLimits& limits) const override {
    const std::string d = dir + "/";
    if (has(CgroupController::kMemory)) {
      const std::string bytes = std::to_string(static_cast<int64_t>(limits.memory_mb) << 20);
      // memsw (memory + swap) must never be below the memory limit: set memory first.
      if (Result<void> r = writeCgroupFile(d + "memory.limit_in_bytes", bytes); !r) return r;
      if (memsw_) {
        if (Result<void> r = writeCgroupFile(d + "memory.memsw.limit_in_bytes", bytes); !r) {
          return r;
        }
      } else if (Result<void> r = writeCgroupFile(d + "memory.swappiness", "0"); !r) {
        return r;
      }
    }
    if (has(CgroupController::kCpu)) {
      // The quota is checked against the period: write the period first.
      Result<void> r =
          writeCgroupFile(d + "cpu.cfs_period_us", std::to_string(limits.cpu_period_us));
      if (!r) return r;
      r = writeCgroupFile(d + "cpu.cfs_quota_us", std::to_string(limits.cpu_quota_us));
      if (!r) return r;
    }
    if (has(CgroupController::kPids)) {
      return writeCgroupFile(d + "pids.max", std::to_string(limits.max_pids));
    }
    return {};
  }

  std::optional<int64_t> peakMemoryBytes(const std::string& dir) const override {
    return readInt(dir + "/memory.max_usage_in_bytes");
  }

  std::optional<int64_t> currentMemoryBytes(const std::string& dir) const override {
    return readInt(dir + "/memory.usage_in_bytes");
  }

  // rss already includes transparent huge pages (rss_huge is a part of it); shmem is
  // counted under "cache" by v1, so it is added; kernel memory is a file of its own.
  std::optional<int64_t> ownMemoryBytes(const std::string& dir) const override {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> stat = readCgroupFile(dir + "/memory.stat");
    if (!stat) return std::nullopt;
    std::optional<int64_t> rss = parseKeyedValue(*stat, "total_rss");
    if (!rss) return std::nullopt;
    int64_t own = *rss + parseKeyedValue(*stat, "total_shmem").value_or(0);
    return own + readInt(dir + "/memory.kmem.usage_in_bytes").value_or(0);
  }

  std::optional<int64_t> oomKillCount(const std::string& dir) const override {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> text = readCgroupFile(dir + "/memory.oom_control");
    if (!text) return std::nullopt;
    return parseKeyedValue(*text, "oom_kill");
  }

  bool killAtOnce(const std::string&) const override { return false; }  // v1 has no cgroup.kill

  std::string selfMoveFile(const std::string& dir) const override { return dir + "/tasks"; }

 private:
  std::optional<int64_t> readInt(const std::string& path) const {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> text = readCgroupFile(path);
    if (!text) return std::nullopt;
    return parseCgroupInt(*text);
  }

  bool memsw_ = false;  // the kernel accounts swap: memory.memsw.limit_in_bytes exists
};

}  // namespace

std::shared_ptr<Hierarchy> makeV1Hierarchy(HierarchySpec spec, std::string parent_name) {
  return std::make_shared<V1Hierarchy>(std::move(spec), std::move(parent_name));
}

}  // namespace nimbus::sandbox::cgroup_internal
