// The minimal root filesystem of an instance. The host side prepares, once, a skeleton
// folder (mount points, generated /etc files, symlinks) and plans each instance's mounts;
// the child side binds everything into place in its mount namespace and pivots into it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/child_syscall.h"

namespace nimbus::sandbox {

struct RootSkeletonOptions {
  uid_t sandbox_uid = 993;  // written into the generated /etc/passwd and /etc/group
  gid_t sandbox_gid = 990;
  std::string sandbox_user = "sbx_user1051";
  std::string hostname = "localhost";  // for /etc/hosts
  // Host paths bound read-only at the same path in every instance (e.g. a pyenv prefix,
  // which only runs where it was built). Paths under /usr are visible already.
  std::vector<std::string> extra_readonly_paths;
};

// What differs between instances.
struct MountRequest {
  std::string code_dir;     // host path, read-only at /var/task; empty: an empty /var/task
  std::string runtime_dir;  // host path, read-only at /var/runtime; empty: none
  // Host path of a prepared, size-capped folder bound writable at /tmp. Empty: a tmpfs of
  // tmp_size_mb instead, whose pages are charged to the instance's memory cgroup.
  std::string scratch_dir;
  int tmp_size_mb = 512;
  int dev_shm_mb = 64;  // tmpfs at /dev/shm (python multiprocessing); charged to memory
};

// One mount as the child performs it: mount(source, target, fstype, flags, data), then,
// when remount_flags is not 0, mount(nullptr, target, nullptr, remount_flags, nullptr).
// Plain pointers only: the child may not call into C++ library code.
struct ChildMountOp {
  const char* source;
  const char* target;  // host path under the skeleton, before the pivot
  const char* fstype;
  const char* data;
  unsigned long flags;
  unsigned long remount_flags;
};

// Everything childBuildRoot reads. Points into a MountPlan, which must outlive the child's
// use of it and not move.
struct ChildMountView {
  const char* root_dir;
  const ChildMountOp* ops;
  size_t op_count;
  unsigned long root_remount_flags;
};

// The mounts of one instance, in order, with what each is for (for error messages).
class MountPlan {
 public:
  struct Op {
    std::string source, target, fstype, data;
    unsigned long flags = 0;
    unsigned long remount_flags = 0;
    std::string what;  // "bind /usr read-only at /usr"
  };

  std::string root_dir;
  unsigned long root_remount_flags = 0;
  std::vector<Op> ops;

  // Builds the pointer view the child uses; call once the plan sits where it will stay.
  ChildMountView childView();

 private:
  std::vector<ChildMountOp> child_ops_;
};

// Host side of the minimal root. Thread-safe after prepare(): plan() only reads.
class RootTemplate {
 public:
  // Makes or refreshes the skeleton under root_dir (owned by root, mode 0755): mount
  // points for /usr, /var/task, /var/runtime, /tmp, /proc, /dev/*, symlinks as the host
  // has them (/bin -> usr/bin on Debian 12), and /etc with generated passwd, group, hosts
  // and nsswitch.conf. Idempotent; never removes anything, because instances of a running
  // server may have the old skeleton mounted. Errors: kInternal with errno.
  static Result<RootTemplate> prepare(const std::string& root_dir,
                                      const RootSkeletonOptions& options);

  // The mounts for one instance. Errors: kInvalidParameter when a folder is missing, is
  // not a folder, or is not readable and searchable by others (the function runs as an
  // unprivileged uid: the code must be world-readable, as in a Lambda zip).
  Result<MountPlan> plan(const MountRequest& request) const;

  const std::string& rootDir() const { return root_dir_; }

 private:
  std::string root_dir_;
  unsigned long root_remount_flags_ = 0;
  std::vector<MountPlan::Op> common_ops_;  // the same for every instance
};

// Child side, in a new mount namespace with full capabilities in its user namespace:
// makes every mount private, binds the skeleton onto itself, performs the plan, mounts
// /proc (before the pivot: the kernel only allows a new proc while a full one is visible),
// pivot_root(".", "."), detaches the old root and makes the new root read-only.
NIMBUS_SANDBOX_CHILD ChildStatus childBuildRoot(const ChildMountView& view);

// The MS_* flags a read-only bind remount must carry to keep what the kernel locks on the
// source mount (nosuid/nodev/noexec, atime) inside a user namespace; from statfs f_flags.
unsigned long lockedMountFlags(unsigned long statfs_flags);

}  // namespace nimbus::sandbox
