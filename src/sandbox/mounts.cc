// The minimal root of an instance: a skeleton folder prepared once on the host, a mount
// plan per instance, and the child's binds, pivot_root and read-only remount.
//
// Why a skeleton on disk rather than a fresh tmpfs root per instance (as nsjail does):
// the child does its mounts as host root inside a user namespace where host root is not
// mapped, and the kernel refuses to create files there (EOVERFLOW) in a filesystem that
// namespace mounted. Mount points prepared on the host need no creation in the child,
// and save a dozen mkdir calls per cold start.
#include "sandbox/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace nimbus::sandbox {
namespace fs = std::filesystem;
namespace {

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::system_category().message(err), err);
}

Error fsError(const std::string& what, const std::error_code& ec) {
  return makeError(ErrorCode::kInternal, what + ": " + ec.message(), ec.value());
}

// The host's top-level system folders. Debian 12 makes /bin, /sbin and /lib* symlinks
// into /usr; the skeleton copies each symlink and binds each real folder.
constexpr const char* kSystemDirs[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};

// Host files and folders of /etc that runtimes need, bound read-only where they exist:
// the dynamic linker's cache (fast library lookup), DNS configuration and CA
// certificates (python ssl, NODE_EXTRA_CA_CERTS). Not /etc/ssl itself: its private/
// folder holds host keys. /etc/alternatives: Debian's command symlinks (awk -> mawk...),
// without which common tools in /usr/bin dangle.
constexpr const char* kEtcBinds[] = {"/etc/ld.so.cache", "/etc/resolv.conf", "/etc/ssl/certs",
                                     "/etc/ssl/openssl.cnf", "/etc/alternatives"};

// Character devices bound from the host (a user namespace cannot mknod).
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom", "tty"};

// Top-level paths that extra read-only paths may not shadow.
constexpr const char* kReservedPrefixes[] = {"/usr",  "/bin", "/sbin", "/lib", "/etc",
                                             "/proc", "/dev", "/tmp",  "/var"};

Result<void> ensureDir(const fs::path& path, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return fsError("mkdir " + path.string(), ec);
  if (::chmod(path.c_str(), mode) < 0) return sysError("chmod " + path.string(), errno);
  return {};
}

// A mount point for a file: an empty file, created if missing and never replaced (an
// instance may have something mounted on it).
Result<void> ensureMountPointFile(const fs::path& path) {
  if (Result<void> r = ensureDir(path.parent_path(), 0755); !r) return r;
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISREG(st.st_mode)) return {};
    return makeError(ErrorCode::kInternal, path.string() + " exists and is not a file");
  }
  std::ofstream out(path);
  if (!out) return sysError("create " + path.string(), errno);
  out.close();
  if (::chmod(path.c_str(), 0644) < 0) return sysError("chmod " + path.string(), errno);
  return {};
}

// A generated file, replaced atomically when its content differs.
Result<void> ensureFile(const fs::path& path, const std::string& content) {
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (old == content) return {};
    }
  }
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return sysError("create " + tmp.string(), errno);
    out << content;
    if (!out.flush()) return sysError("write " + tmp.string(), errno);
  }
  if (::chmod(tmp.c_str(), 0644) < 0) return sysError("chmod " + tmp.string(), errno);
  if (::rename(tmp.c_str(), path.c_str()) < 0) return sysError("rename " + path.string(), errno);
  return {};
}

Result<void> ensureSymlink(const fs::path& path, const std::string& target) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(path, ec))) {
    if (fs::read_symlink(path, ec) == target) return {};
    fs::remove(path, ec);
  }
  fs::create_symlink(target, path, ec);
  if (ec) return fsError("symlink " + path.string() + " -> " + target, ec);
  return {};
}

std::string passwdFile(const RootSkeletonOptions& o) {
  return "root:x:0:0:root:/root:/usr/sbin/nologin\n" + o.sandbox_user +
         ":x:" + std::to_string(o.sandbox_uid) + ":" + std::to_string(o.sandbox_gid) +
         "::/tmp:/usr/sbin/nologin\n" +
         "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string groupFile(const RootSkeletonOptions& o) {
  return "root:x:0:\n" + o.sandbox_user + ":x:" + std::to_string(o.sandbox_gid) + ":\n" +
         "nogroup:x:65534:\n";
}

std::string hostsFile(const RootSkeletonOptions& o) {
  return "127.0.0.1\tlocalhost " + o.hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
}

constexpr const char kNsswitch[] =
    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n"
    "protocols: files\nservices: files\n";

bool underReservedPrefix(const std::string& path) {
  for (const char* prefix : kReservedPrefixes) {
    std::string p = prefix;
    if (path == p || path.rfind(p + "/", 0) == 0) return true;
  }
  return path == "/";
}

// A read-only bind of a host path (folder or file) at the same path, or at `inside`.
Result<MountPlan::Op> readOnlyBind(const std::string& root, const std::string& host_path,
                                   const std::string& inside) {
  struct statfs sfs;
  if (::statfs(host_path.c_str(), &sfs) < 0) return sysError("statfs " + host_path, errno);
  MountPlan::Op op;
  op.source = host_path;
  op.target = root + inside;
  op.flags = MS_BIND | MS_REC;
  op.remount_flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                     lockedMountFlags(static_cast<unsigned long>(sfs.f_flags));
  op.what = "bind " + host_path + " read-only at " + inside;
  return op;
}

MountPlan::Op tmpfs(const std::string& root, const std::string& inside, int size_mb,
                    unsigned long extra_flags) {
  MountPlan::Op op;
  op.source = "tmpfs";
  op.target = root + inside;
  op.fstype = "tmpfs";
  op.data = "mode=1777,size=" + std::to_string(size_mb) + "m";
  op.flags = MS_NOSUID | MS_NODEV | extra_flags;
  op.what = "tmpfs of " + std::to_string(size_mb) + " MB at " + inside;
  return op;
}

// A folder the sandbox user must be able to list and enter: mode o+rx.
Result<void> checkSharedDir(const std::string& path, const char* role) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) {
    int err = errno;
    return makeError(ErrorCode::kInvalidParameter,
                     std::string(role) + " " + path + ": " + std::system_category().message(err),
                     err);
  }
  if (!S_ISDIR(st.st_mode)) {
    return makeError(ErrorCode::kInvalidParameter,
                     std::string(role) + " " + path + " is not a folder", ENOTDIR);
  }
  if ((st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH)) {
    return makeError(ErrorCode::kInvalidParameter,
                     std::string(role) + " " + path +
                         " must be readable and searchable by others (o+rx): the function "
                         "runs as an unprivileged user",
                     EACCES);
  }
  return {};
}

}  // namespace

unsigned long lockedMountFlags(unsigned long f) {
  unsigned long out = 0;
  if (f & ST_NOSUID) out |= MS_NOSUID;
  if (f & ST_NODEV) out |= MS_NODEV;
  if (f & ST_NOEXEC) out |= MS_NOEXEC;
  if (f & ST_NOATIME) out |= MS_NOATIME;
  if (f & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (f & ST_RELATIME) out |= MS_RELATIME;
  // A remount without an atime flag means relatime; on a strictatime source that would
  // change a locked setting and fail with EPERM.
  if (!(f & (ST_NOATIME | ST_RELATIME))) out |= MS_STRICTATIME;
  return out;
}

ChildMountView MountPlan::childView() {
  child_ops_.clear();
  child_ops_.reserve(ops.size());
  auto cstr = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
  for (const Op& op : ops) {
    child_ops_.push_back({cstr(op.source), op.target.c_str(), cstr(op.fstype), cstr(op.data),
                          op.flags, op.remount_flags});
  }
  return {root_dir.c_str(), child_ops_.data(), child_ops_.size(), root_remount_flags};
}

Result<RootTemplate> RootTemplate::prepare(const std::string& root_dir,
                                           const RootSkeletonOptions& o) {
  if (root_dir.empty() || root_dir.front() != '/' || root_dir == "/") {
    return makeError(ErrorCode::kInvalidParameter,
                     "sandbox root folder must be an absolute path "
                     "other than /: '" +
                         root_dir + "'");
  }
  if (o.sandbox_uid == 0 || o.sandbox_gid == 0) {
    return makeError(ErrorCode::kInvalidParameter, "the sandbox user must not be root");
  }
  RootTemplate t;
  t.root_dir_ = fs::path(root_dir).lexically_normal().string();
  if (t.root_dir_.size() > 1 && t.root_dir_.back() == '/') t.root_dir_.pop_back();
  const fs::path root(t.root_dir_);
  const std::string& r = t.root_dir_;

  for (const char* dir : {"", "etc", "etc/ssl", "var", "var/task", "var/runtime", "tmp", "proc",
                          "dev", "dev/shm", "opt"}) {
    if (Result<void> res = ensureDir(root / dir, 0755); !res) return res.error();
  }

  for (const char* name : kSystemDirs) {
    std::string host = std::string("/") + name;
    struct stat st;
    if (::lstat(host.c_str(), &st) < 0) continue;  // e.g. no /libx32 on this host
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::path target = fs::read_symlink(host, ec);
      if (ec) return fsError("readlink " + host, ec);
      if (Result<void> res = ensureSymlink(root / name, target.string()); !res) return res.error();
    } else if (S_ISDIR(st.st_mode)) {
      if (Result<void> res = ensureDir(root / name, 0755); !res) return res.error();
      Result<MountPlan::Op> op = readOnlyBind(r, host, host);
      if (!op) return op.error();
      t.common_ops_.push_back(std::move(*op));
    }
  }

  for (const char* host : kEtcBinds) {
    struct stat st;
    if (::stat(host, &st) < 0) continue;
    Result<void> res =
        S_ISDIR(st.st_mode) ? ensureDir(r + host, 0755) : ensureMountPointFile(r + host);
    if (!res) return res.error();
    Result<MountPlan::Op> op = readOnlyBind(r, host, host);
    if (!op) return op.error();
    t.common_ops_.push_back(std::move(*op));
  }
  for (auto [name, content] :
       {std::pair{"etc/passwd", passwdFile(o)}, std::pair{"etc/group", groupFile(o)},
        std::pair{"etc/hosts", hostsFile(o)},
        std::pair{"etc/nsswitch.conf", std::string(kNsswitch)}}) {
    if (Result<void> res = ensureFile(root / name, content); !res) return res.error();
  }
  // Lambda runs in UTC; the zone file itself comes with /usr.
  if (Result<void> res = ensureSymlink(root / "etc/localtime", "/usr/share/zoneinfo/Etc/UTC");
      !res) {
    return res.error();
  }

  for (const std::string& extra : o.extra_readonly_paths) {
    std::string path = fs::path(extra).lexically_normal().string();
    if (path.empty() || path.front() != '/' || underReservedPrefix(path)) {
      return makeError(ErrorCode::kInvalidParameter,
                       "extra read-only path must be absolute and outside /usr, /etc, /var, "
                       "/tmp, /dev, /proc: '" +
                           extra + "'");
    }
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) return sysError("extra read-only path " + path, errno);
    Result<void> res =
        S_ISDIR(st.st_mode) ? ensureDir(r + path, 0755) : ensureMountPointFile(r + path);
    if (!res) return res.error();
    Result<MountPlan::Op> op = readOnlyBind(r, path, path);
    if (!op) return op.error();
    t.common_ops_.push_back(std::move(*op));
  }

  for (const char* dev : kDevices) {
    std::string host = std::string("/dev/") + dev;
    if (Result<void> res = ensureMountPointFile(r + host); !res) return res.error();
    MountPlan::Op op;
    op.source = host;
    op.target = r + host;
    op.flags = MS_BIND;  // writable, and keeps the device usable (no nodev)
    op.what = "bind " + host;
    t.common_ops_.push_back(std::move(op));
  }
  for (auto [name, target] :
       {std::pair{"dev/fd", "/proc/self/fd"}, std::pair{"dev/stdin", "/proc/self/fd/0"},
        std::pair{"dev/stdout", "/proc/self/fd/1"}, std::pair{"dev/stderr", "/proc/self/fd/2"}}) {
    if (Result<void> res = ensureSymlink(root / name, target); !res) return res.error();
  }

  MountPlan::Op proc;
  proc.source = "proc";
  proc.target = r + "/proc";
  proc.fstype = "proc";
  proc.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  proc.what = "proc at /proc";
  t.common_ops_.push_back(std::move(proc));

  struct statfs sfs;
  if (::statfs(r.c_str(), &sfs) < 0) return sysError("statfs " + r, errno);
  t.root_remount_flags_ = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
                          lockedMountFlags(static_cast<unsigned long>(sfs.f_flags));
  return t;
}

Result<MountPlan> RootTemplate::plan(const MountRequest& req) const {
  MountPlan p;
  p.root_dir = root_dir_;
  p.root_remount_flags = root_remount_flags_;
  p.ops = common_ops_;
  p.ops.push_back(tmpfs(root_dir_, "/dev/shm", req.dev_shm_mb, MS_NOEXEC));

  if (!req.code_dir.empty()) {
    if (Result<void> r = checkSharedDir(req.code_dir, "code folder"); !r) return r.error();
    Result<MountPlan::Op> op = readOnlyBind(root_dir_, req.code_dir, "/var/task");
    if (!op) return op.error();
    p.ops.push_back(std::move(*op));
  }
  if (!req.runtime_dir.empty()) {
    if (Result<void> r = checkSharedDir(req.runtime_dir, "runtime folder"); !r) return r.error();
    Result<MountPlan::Op> op = readOnlyBind(root_dir_, req.runtime_dir, "/var/runtime");
    if (!op) return op.error();
    p.ops.push_back(std::move(*op));
  }
  if (!req.scratch_dir.empty()) {
    struct stat st;
    int err = ::stat(req.scratch_dir.c_str(), &st) < 0 ? errno : 0;
    if (err == 0 && !S_ISDIR(st.st_mode)) err = ENOTDIR;
    if (err != 0) {
      return makeError(
          ErrorCode::kInvalidParameter,
          "scratch folder " + req.scratch_dir + ": " + std::system_category().message(err), err);
    }
    Result<MountPlan::Op> op = readOnlyBind(root_dir_, req.scratch_dir, "/tmp");
    if (!op) return op.error();
    op->remount_flags &= ~static_cast<unsigned long>(MS_RDONLY);
    op->what = "bind " + req.scratch_dir + " writable at /tmp";
    p.ops.push_back(std::move(*op));
  } else {
    // TODO(security): this tmpfs is charged to the memory cgroup, so a full /tmp can end
    // in an OOM kill rather than ENOSPC; the disk-backed scratch folder avoids that.
    p.ops.push_back(tmpfs(root_dir_, "/tmp", req.tmp_size_mb, 0));
  }
  return p;
}

NIMBUS_SANDBOX_CHILD ChildStatus childBuildRoot(const ChildMountView& v) {
  using child::errOf;
  using child::sys;
  // Other hosts default to shared propagation (systemd): without this our mounts would
  // show up in the host's namespace, and the pivot would fail.
  long r = sys(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (int32_t e = errOf(r)) return {ChildStep::kMakePrivate, e, 0};
  // pivot_root wants the new root to be a mount point.
  r = sys(SYS_mount, v.root_dir, v.root_dir, nullptr, MS_BIND | MS_REC, nullptr);
  if (int32_t e = errOf(r)) return {ChildStep::kBindRoot, e, 0};
  for (size_t i = 0; i < v.op_count; ++i) {
    const ChildMountOp& op = v.ops[i];
    r = sys(SYS_mount, op.source, op.target, op.fstype, op.flags, op.data);
    if (int32_t e = errOf(r)) return {ChildStep::kMount, e, static_cast<int32_t>(i)};
    if (op.remount_flags != 0) {
      // A bind ignores MS_RDONLY and friends: they take a second, remounting call.
      r = sys(SYS_mount, nullptr, op.target, nullptr, op.remount_flags, nullptr);
      if (int32_t e = errOf(r)) return {ChildStep::kRemount, e, static_cast<int32_t>(i)};
    }
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
  // only the new root, with no directory needed for the old one.
  if (int32_t e = errOf(sys(SYS_chdir, v.root_dir))) return {ChildStep::kPivotRoot, e, 0};
  if (int32_t e = errOf(sys(SYS_pivot_root, ".", "."))) return {ChildStep::kPivotRoot, e, 0};
  if (int32_t e = errOf(sys(SYS_umount2, ".", MNT_DETACH)))
    return {ChildStep::kDetachOldRoot, e, 0};
  if (int32_t e = errOf(sys(SYS_chdir, "/"))) return {ChildStep::kDetachOldRoot, e, 0};
  r = sys(SYS_mount, nullptr, "/", nullptr, v.root_remount_flags, nullptr);
  if (int32_t e = errOf(r)) return {ChildStep::kRemountRootReadOnly, e, 0};
  return {};
}

}  // namespace nimbus::sandbox
