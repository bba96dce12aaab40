// The namespaces of an instance and who the function runs as: the clone flags, the
// uid/gid maps the parent writes into the child's user namespace, and the child's drop
// from namespace-capable setup code to the unprivileged sandbox user; host id slots.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/child_syscall.h"

namespace nimbus::sandbox {

// A user namespace first: the child gets every capability inside it (mount, pivot_root,
// sethostname) and none on the host. pid: the child is init, and its death ends every
// process of the instance. mnt, net, ipc, uts: private root, loopback-only network,
// SysV IPC and hostname. No cgroup namespace: the instance never sees /sys/fs/cgroup.
inline constexpr int kSandboxNamespaces =
    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;

// One id inside the namespace mapped to one id on the host. One id only: every file the
// function can create is owned by that host id, and nothing else of the host maps in
// (host root shows as nobody, 65534).
struct IdMapping {
  uint32_t inside = 0;
  uint32_t outside = 0;
};

// Parent side: writes /proc/<pid>/uid_map and gid_map (proc_root is /proc but for tests).
// setgroups stays allowed (we are privileged) so the child can drop host root's
// supplementary groups. Errors: kInternal with errno, naming the file.
Result<void> writeIdMaps(const std::string& proc_root, pid_t pid, IdMapping uid, IdMapping gid);

// Slots for the host ids of live instances: slot s runs as host uid/gid base + s, so no
// two live instances share a uid (signals, files, RLIMIT_NPROC). A slot is reused only
// after its instance has been reaped. Thread-safe; shared with the instances' Leases,
// which may outlive the launcher.
class HostIdSlots {
 public:
  explicit HostIdSlots(int count) : count_(count) {}
  // The most recently freed slot, else the lowest never used; nullopt when all are taken.
  std::optional<int> acquire();
  void release(int slot);

  // Holds one slot; gives it back on destruction.
  class Lease {
   public:
    Lease(std::shared_ptr<HostIdSlots> slots, int slot) : slots_(std::move(slots)), slot_(slot) {}
    Lease(Lease&& o) noexcept : slots_(std::move(o.slots_)), slot_(o.slot_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (slots_) slots_->release(slot_);
    }
    int slot() const { return slot_; }

   private:
    std::shared_ptr<HostIdSlots> slots_;
    int slot_;
  };

 private:
  std::mutex mu_;
  const int count_;
  int next_ = 0;
  std::vector<int> free_;
};

// What the child needs to become the sandbox user; prepared by the parent.
struct ChildCredentials {
  uid_t uid = 993;  // as seen inside; must be mapped by writeIdMaps before use
  gid_t gid = 990;
  const char* hostname = "localhost";
  size_t hostname_len = 9;
};

// Child side, in the new UTS namespace.
NIMBUS_SANDBOX_CHILD ChildStatus childSetHostname(const ChildCredentials& creds);

// Child side, after the parent has written the id maps: empties the capability bounding
// set (while CAP_SETPCAP is still held), drops supplementary groups, switches gid and uid,
// then clears every remaining capability set explicitly. The explicit clear matters: the
// child starts as host root, which is unmapped inside, so the kernel's "leaving uid 0
// drops capabilities" rule never fires.
NIMBUS_SANDBOX_CHILD ChildStatus childDropToSandboxUser(const ChildCredentials& creds);

}  // namespace nimbus::sandbox
