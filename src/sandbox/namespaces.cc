// The namespaces of an instance and who the function runs as: uid/gid maps written by the
// parent, and the child's switch to the unprivileged sandbox user with no capabilities.
#include "sandbox/namespaces.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {
namespace {

Result<void> writeMapFile(const std::string& path, IdMapping m) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  int err = errno;
  if (!fd.valid()) {
    return makeError(ErrorCode::kInternal,
                     "open " + path + ": " + std::system_category().message(err), err);
  }
  // The kernel takes the whole map in one write and refuses a second one.
  std::string line = std::to_string(m.inside) + " " + std::to_string(m.outside) + " 1\n";
  ssize_t n = ::write(fd.get(), line.data(), line.size());
  err = errno;
  if (n != static_cast<ssize_t>(line.size())) {
    if (n >= 0) err = EIO;
    return makeError(ErrorCode::kInternal,
                     "write " + path + " '" + line.substr(0, line.size() - 1) +
                         "': " + std::system_category().message(err),
                     err);
  }
  return {};
}

}  // namespace

Result<void> writeIdMaps(const std::string& proc_root, pid_t pid, IdMapping uid, IdMapping gid) {
  std::string dir = proc_root + "/" + std::to_string(pid) + "/";
  if (Result<void> r = writeMapFile(dir + "uid_map", uid); !r) return r;
  return writeMapFile(dir + "gid_map", gid);
}

std::optional<int> HostIdSlots::acquire() {
  std::lock_guard lock(mu_);
  if (!free_.empty()) {
    int slot = free_.back();
    free_.pop_back();
    return slot;
  }
  if (next_ < count_) return next_++;
  return std::nullopt;
}

void HostIdSlots::release(int slot) {
  std::lock_guard lock(mu_);
  free_.push_back(slot);
}

NIMBUS_SANDBOX_CHILD ChildStatus childSetHostname(const ChildCredentials& c) {
  long r = child::sys(SYS_sethostname, c.hostname, c.hostname_len);
  return {ChildStep::kHostname, child::errOf(r), 0};
}

NIMBUS_SANDBOX_CHILD ChildStatus childDropToSandboxUser(const ChildCredentials& c) {
  using child::errOf;
  using child::sys;
  // Bounding set first: dropping from it needs CAP_SETPCAP, gone after the uid switch.
  // Stop at the first cap the kernel does not know (EINVAL), so no table of caps is needed.
  for (long cap = 0;; ++cap) {
    long r = sys(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (r == -EINVAL) break;
    if (int32_t e = errOf(r)) return {ChildStep::kDropBoundingSet, e, static_cast<int32_t>(cap)};
  }
  // Host root's supplementary groups (gid 0) would otherwise stay with the process.
  if (int32_t e = errOf(sys(SYS_setgroups, 0, nullptr))) return {ChildStep::kSetgroups, e, 0};
  if (int32_t e = errOf(sys(SYS_setresgid, c.gid, c.gid, c.gid))) {
    return {ChildStep::kSetgid, e, static_cast<int32_t>(c.gid)};
  }
  if (int32_t e = errOf(sys(SYS_setresuid, c.uid, c.uid, c.uid))) {
    return {ChildStep::kSetuid, e, static_cast<int32_t>(c.uid)};
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (int32_t e = errOf(sys(SYS_capset, &header, data))) return {ChildStep::kDropCaps, e, 0};
  long r = sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (int32_t e = errOf(r)) return {ChildStep::kClearAmbientCaps, e, 0};
  return {};
}

}  // namespace nimbus::sandbox
