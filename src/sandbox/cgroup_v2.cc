// cgroup v2: the one unified hierarchy most production hosts run. Controllers must be
// enabled top-down in cgroup.subtree_control; memory.max + swap.max, cpu.max, pids.max.
#include <cstring>
#include <string>

#include "sandbox/cgroup_hierarchy.h"

namespace nimbus::sandbox::cgroup_internal {
namespace {

class V2Hierarchy final : public Hierarchy {
 public:
  using Hierarchy::Hierarchy;

  Result<void> prepare(std::vector<std::string>* limitations) override {
    // Our parent group never holds processes, so v2's "no internal processes" rule lets
    // it hand controllers on to the instance groups below it.
    enableControllers(mountPoint(), limitations);
    if (Result<void> made = makeGroupDir(parentDir(), /*exist_ok=*/true); !made) return made;
    enableControllers(parentDir(), limitations);
    const std::string parent = parentDir() + "/";
    if (has(CgroupController::kMemory)) {
      if (!pathExists(parent + "memory.max")) {
        drop(CgroupController::kMemory);
        limitations->push_back("memory: memory.max missing in " + parentDir() + ", so " +
                               withoutController(CgroupController::kMemory));
      } else {
        swap_max_ = pathExists(parent + "memory.swap.max");
        oom_group_ = pathExists(parent + "memory.oom.group");
        peak_ = pathExists(parent + "memory.peak");
        if (!swap_max_) {
          limitations->push_back(
              "swap: not limited (memory.swap.max missing: the kernel does not account swap)");
        }
        if (!oom_group_) {
          limitations->push_back(
              "oom: memory.oom.group missing (kernel < 4.19), so an OOM kills one process "
              "of an instance rather than all of it");
        }
        if (!peak_) {
          limitations->push_back(
              "Max Memory Used: memory.peak missing (kernel < 5.19), so it is the largest "
              "memory.current sampled, which can miss short peaks");
        }
      }
    }
    if (has(CgroupController::kCpu) && !pathExists(parent + "cpu.max")) {
      drop(CgroupController::kCpu);
      limitations->push_back("cpu: cpu.max missing (kernel without CFS bandwidth control), so " +
                             withoutController(CgroupController::kCpu));
    }
    if (has(CgroupController::kPids) && !pathExists(parent + "pids.max")) {
      drop(CgroupController::kPids);
      limitations->push_back("pids: pids.max missing in " + parentDir() + ", so " +
                             withoutController(CgroupController::kPids));
    }
    kill_ = pathExists(parent + "cgroup.kill");  // else one pid at a time (kernel < 5.14)
    return {};
  }

  Result<void> applyLimits(const std::string& dir, const CgroupLimits& limits) const override {
    const std::string d = dir + "/";
    if (has(CgroupController::kMemory)) {
      const std::string bytes = std::to_string(static_cast<int64_t>(limits.memory_mb) << 20);
      if (Result<void> r = writeCgroupFile(d + "memory.max", bytes); !r) return r;
      if (swap_max_) {
        if (Result<void> r = writeCgroupFile(d + "memory.swap.max", "0"); !r) return r;
      }
      // One OOM ends the whole instance, as a Lambda environment ends: no half-dead runtime.
      if (oom_group_) {
        if (Result<void> r = writeCgroupFile(d + "memory.oom.group", "1"); !r) return r;
      }
    }
    if (has(CgroupController::kCpu)) {
      Result<void> r = writeCgroupFile(d + "cpu.max", std::to_string(limits.cpu_quota_us) + " " +
                                                          std::to_string(limits.cpu_period_us));
      if (!r) return r;
    }
    if (has(CgroupController::kPids)) {
      return writeCgroupFile(d + "pids.max", std::to_string(limits.max_pids));
    }
    return {};
  }

  std::optional<int64_t> peakMemoryBytes(const std::string& dir) const override {
    if (!peak_) return std::nullopt;
    return readInt(dir + "/memory.peak");
  }

  std::optional<int64_t> currentMemoryBytes(const std::string& dir) const override {
    return readInt(dir + "/memory.current");
  }

  // anon + shmem (a part of "file", but tmpfs is memory) + kernel; kernels before 5.18
  // have no "kernel" line, only its parts (and before 5.9 no "slab" sum either).
  std::optional<int64_t> ownMemoryBytes(const std::string& dir) const override {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> stat = readCgroupFile(dir + "/memory.stat");
    if (!stat) return std::nullopt;
    std::optional<int64_t> anon = parseKeyedValue(*stat, "anon");
    if (!anon) return std::nullopt;
    int64_t own = *anon + parseKeyedValue(*stat, "shmem").value_or(0);
    if (std::optional<int64_t> kernel = parseKeyedValue(*stat, "kernel")) return own + *kernel;
    for (const char* part : {"kernel_stack", "pagetables", "percpu", "vmalloc"}) {
      own += parseKeyedValue(*stat, part).value_or(0);
    }
    if (std::optional<int64_t> slab = parseKeyedValue(*stat, "slab")) return own + *slab;
    return own + parseKeyedValue(*stat, "slab_reclaimable").value_or(0) +
           parseKeyedValue(*stat, "slab_unreclaimable").value_or(0);
  }

  std::optional<int64_t> oomKillCount(const std::string& dir) const override {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> text = readCgroupFile(dir + "/memory.events");
    if (!text) return std::nullopt;
    return parseKeyedValue(*text, "oom_kill");
  }

  // v2 moves whole processes only (cgroup.threads needs threaded groups); its way to be
  // born in a group is clone3(CLONE_INTO_CGROUP). TODO(perf): use that here.
  std::string selfMoveFile(const std::string&) const override { return {}; }

  bool killAtOnce(const std::string& dir) const override {
    // The kernel kills every process in the group, including ones forked meanwhile.
    return kill_ && writeCgroupFile(dir + "/cgroup.kill", "1").ok();
  }

 private:
  // Enables our controllers in dir/cgroup.subtree_control; drops those that refuse.
  void enableControllers(const std::string& dir, std::vector<std::string>* limitations) {
    const std::string file = dir + "/cgroup.subtree_control";
    Result<std::string> enabled = readCgroupFile(file);
    if (!enabled) {
      for (CgroupController c : std::vector<CgroupController>(controllers())) {
        limitations->push_back(std::string(controllerName(c)) + ": " + enabled.error().message +
                               ", so " + withoutController(c));
        drop(c);
      }
      return;
    }
    std::vector<CgroupController> missing;
    std::string all;
    for (CgroupController c : controllers()) {
      if (listHas(*enabled, controllerName(c))) continue;
      missing.push_back(c);
      all += std::string(all.empty() ? "+" : " +") + controllerName(c);
    }
    if (missing.empty() || writeCgroupFile(file, all).ok()) return;
    // One at a time, to learn which one the kernel refuses (e.g. cpu with RT threads).
    for (CgroupController c : missing) {
      Result<void> r = writeCgroupFile(file, std::string("+") + controllerName(c));
      if (r) continue;
      std::string why = r.error().message;
      if (r.error().sys_errno == EBUSY) {
        why +=
            " (the group holds processes, and v2 hands controllers only to groups "
            "without them: run nimbus in a delegated group of its own)";
      }
      limitations->push_back(std::string(controllerName(c)) + ": " + why + ", so " +
                             withoutController(c));
      drop(c);
    }
  }

  std::optional<int64_t> readInt(const std::string& path) const {
    if (!has(CgroupController::kMemory)) return std::nullopt;
    Result<std::string> text = readCgroupFile(path);
    if (!text) return std::nullopt;
    return parseCgroupInt(*text);
  }

  bool swap_max_ = false;   // memory.swap.max exists (swap accounting)
  bool oom_group_ = false;  // memory.oom.group exists (4.19+)
  bool peak_ = false;       // memory.peak exists (5.19+)
  bool kill_ = false;       // cgroup.kill exists (5.14+)
};

}  // namespace

std::shared_ptr<Hierarchy> makeV2Hierarchy(HierarchySpec spec, std::string parent_name) {
  return std::make_shared<V2Hierarchy>(std::move(spec), std::move(parent_name));
}

}  // namespace nimbus::sandbox::cgroup_internal
