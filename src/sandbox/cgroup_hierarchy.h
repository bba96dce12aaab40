// Internals of the cgroup support shared by cgroup*.cc and their tests: the mountinfo
// parser, the placement of controllers on hierarchies, one Hierarchy class per cgroup
// version, and the small file helpers that talk to cgroupfs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "sandbox/cgroup.h"

namespace nimbus::sandbox::cgroup_internal {

enum class CgroupVersion { kV1 = 1, kV2 = 2 };

// ---- cgroup_detect.cc ----

// One cgroup or cgroup2 line of /proc/self/mountinfo.
struct CgroupMount {
  CgroupVersion version = CgroupVersion::kV1;
  std::string mount_point;               // unescaped, e.g. /sys/fs/cgroup/memory
  std::string root;                      // the group of the hierarchy mounted there, usually "/"
  std::vector<std::string> controllers;  // v1: from the super options; v2: empty
};

// Every cgroup mount in a mountinfo text, in order; malformed lines are skipped.
std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo);

// Which hierarchy carries our controllers.
struct HierarchySpec {
  CgroupVersion version = CgroupVersion::kV1;
  std::string mount_point;
  std::string root;
  std::vector<CgroupController> controllers;
};
struct Placement {
  std::vector<HierarchySpec> hierarchies;
  std::vector<std::string> limitations;  // one line per controller no hierarchy offers
};

// A controller on a v1 hierarchy stays there (the kernel binds a controller to one
// hierarchy); otherwise it goes to the first cgroup2 mount if that mount's
// cgroup.controllers (v2_controllers, its text) lists it.
Placement placeControllers(const std::vector<CgroupMount>& mounts, std::string_view v2_controllers);

// What is lost without a controller, for limitation lines ("no CPU quota (...)").
std::string withoutController(CgroupController c);

// ---- cgroup_fs.cc: files ----

// Writes value with O_CREAT|O_TRUNC, as the shell's `echo >` does: harmless on cgroupfs
// (the file exists; the kernel ignores truncation) and it lets a plain directory stand in
// for cgroupfs in tests. Errors: kInternal + errno, naming the path.
Result<void> writeCgroupFile(const std::string& path, std::string_view value);
Result<std::string> readCgroupFile(const std::string& path);
bool pathExists(const std::string& path);
// mkdir 0755; with exist_ok an existing directory is fine. Errors: kInternal + errno.
Result<void> makeGroupDir(const std::string& path, bool exist_ok);
// The pids in a cgroup.procs text.
std::vector<pid_t> parsePids(std::string_view text);
// The first integer of a file such as memory.peak; nullopt for "max" or garbage.
std::optional<int64_t> parseCgroupInt(std::string_view text);
// The value of the line "key N" in a flat keyed file (memory.events, oom_control).
std::optional<int64_t> parseKeyedValue(std::string_view text, std::string_view key);
// Whether a space-separated list (cgroup.controllers, subtree_control) has name; a
// leading '+' on an entry is ignored.
bool listHas(std::string_view list, std::string_view name);

// ---- cgroup_v1.cc / cgroup_v2.cc ----

// One mounted hierarchy carrying some of our controllers, and the groups we make in it.
// Immutable once prepare() has run; then shared by the manager and its instances.
class Hierarchy {
 public:
  Hierarchy(HierarchySpec spec, std::string parent_name);
  virtual ~Hierarchy() = default;

  CgroupVersion version() const { return spec_.version; }
  const std::vector<CgroupController>& controllers() const { return spec_.controllers; }
  bool has(CgroupController c) const;
  const std::string& mountPoint() const { return spec_.mount_point; }
  std::string parentDir() const;
  std::string groupDir(const std::string& name) const;
  // The group's path as /proc/<pid>/cgroup shows it (the mount's root + parent + name).
  std::string procCgroupPath(const std::string& name) const;
  // Whether a /proc/<pid>/cgroup text puts the process in procCgroupPath(name) here.
  bool procCgroupMatches(std::string_view proc_cgroup_text, const std::string& name) const;

  // Start-up: makes the parent group (idempotent) and whatever the version needs, and
  // probes the kernel's features there. Drops controllers it cannot enforce, adding a
  // line per shortfall to *limitations. An error means nothing here can be used.
  virtual Result<void> prepare(std::vector<std::string>* limitations) = 0;
  // Writes the limits of the controllers we hold into a fresh group directory.
  virtual Result<void> applyLimits(const std::string& dir, const CgroupLimits& limits) const = 0;
  // Bytes; nullopt when the kernel keeps no such figure (or memory is not here).
  virtual std::optional<int64_t> peakMemoryBytes(const std::string& dir) const = 0;
  virtual std::optional<int64_t> currentMemoryBytes(const std::string& dir) const = 0;
  // What the group's processes hold now, page cache left out: anonymous memory, shmem
  // (tmpfs such as /dev/shm is memory) and kernel memory, from memory.stat (+ v1's
  // memory.kmem.usage_in_bytes). nullopt when memory.stat is missing or not ours.
  virtual std::optional<int64_t> ownMemoryBytes(const std::string& dir) const = 0;
  virtual std::optional<int64_t> oomKillCount(const std::string& dir) const = 0;
  // The file through which the calling thread moves itself into dir without the global
  // threadgroup lock ("0" to v1's `tasks`); empty where there is none (v2).
  virtual std::string selfMoveFile(const std::string& dir) const = 0;
  // Kills everything in the group in one step if the kernel can (v2 cgroup.kill).
  virtual bool killAtOnce(const std::string& dir) const = 0;

 protected:
  void drop(CgroupController c);

  HierarchySpec spec_;
  const std::string parent_name_;
};

std::shared_ptr<Hierarchy> makeV1Hierarchy(HierarchySpec spec, std::string parent_name);
std::shared_ptr<Hierarchy> makeV2Hierarchy(HierarchySpec spec, std::string parent_name);

}  // namespace nimbus::sandbox::cgroup_internal
