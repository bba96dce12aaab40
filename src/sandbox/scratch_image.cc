// ext4 images for scratch volumes: a template per size formatted by mkfs.ext4 in a child
// process, and sparse per-volume copies of it.
#include "sandbox/scratch_image.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/process.h"
#include "sandbox/spawn.h"

namespace nimbus::sandbox {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
// mkfs.ext4 of even a 10 GiB sparse file takes ~25 ms here; this bounds a wedged one.
constexpr int kMkfsTimeoutMs = 30'000;
constexpr size_t kMaxMkfsOutput = 4096;

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(err), err);
}

// Reads the child's merged output until it closes (the child exited) or time runs out.
// Returns false on timeout.
bool drainOutput(int fd, std::string* out) {
  char buf[1024];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, kMkfsTimeoutMs);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return true;
    if (out->size() < kMaxMkfsOutput) out->append(buf, static_cast<size_t>(got));
  }
}

// Runs mkfs to completion. Returns its wait status, or -1 if another part of the
// server reaped it first (then only the superblock check below tells success).
Result<int> runMkfs(const std::string& mkfs, const std::string& image) {
  ProcessSpec spec;
  spec.executable = mkfs;
  // -T default: the same layout for every size (mke2fs picks 1 KiB blocks for "small").
  // -E root_owner: the root directory is chowned per volume at acquire time.
  spec.argv = {mkfs,
               "-q",
               "-F",
               "-b",
               "4096",
               "-T",
               "default",
               "-m",
               "0",
               "-O",
               "^has_journal,^resize_inode",
               "-E",
               "lazy_itable_init=1,nodiscard,root_owner=0:0",
               "-L",
               "nimbus-tmp",
               image};
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  spec.cwd = "/";
  Result<SpawnedChild> child = spawnChild(spec);
  if (!child) {
    Error e = child.error().withContext("run " + mkfs);
    e.code = ErrorCode::kUnavailable;
    return e;
  }
  std::string output;
  if (!drainOutput(child->output.get(), &output)) {
    ::syscall(SYS_pidfd_send_signal, child->pidfd.get(), SIGKILL, nullptr, 0);
  }
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(child->pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) return -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(ErrorCode::kInternal,
                     mkfs + " failed (wait status " + std::to_string(status) + "): " + output);
  }
  return status;
}

bool hasExt4Magic(int fd) {
  // s_magic sits 56 bytes into the superblock, which starts at byte 1024.
  unsigned char magic[2];
  return ::pread(fd, magic, sizeof magic, 1024 + 56) == 2 && magic[0] == 0x53 && magic[1] == 0xEF;
}

Result<void> copyRange(int from, int to, off_t begin, off_t end) {
  off_t in = begin, out = begin;
  while (in < end) {
    ssize_t n = ::copy_file_range(from, &in, to, &out, static_cast<size_t>(end - in), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("copy_file_range (scratch image)", errno);
    if (n == 0) return makeError(ErrorCode::kInternal, "scratch template ended early");
  }
  return {};
}

}  // namespace

int64_t ext4ImageBytesFor(int usable_mb) {
  const int64_t usable = int64_t{usable_mb} * kMiB;
  // ext4 holds back min(2% of the blocks, 4096 blocks) for itself (s_resv_clusters).
  const int64_t reserve = std::min<int64_t>(usable / 49 + 1, 16 * kMiB);
  // Root directory, bitmaps, group descriptors and rounding.
  constexpr int64_t kSlack = 1 * kMiB;
  // Inode tables take 256 bytes per 16 KiB of image (-T default), i.e. 1/64 of it.
  int64_t bytes = (usable + reserve + kSlack) * 64 / 63;
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

Result<UniqueFd> makeExt4Template(const std::string& mkfs, const std::filesystem::path& file,
                                  int64_t bytes) {
  if (::access(mkfs.c_str(), X_OK) != 0) {
    int err = errno;
    return makeError(ErrorCode::kUnavailable,
                     mkfs + " is not executable (install e2fsprogs): " + std::strerror(err), err);
  }
  const std::string path = file.string();
  {
    UniqueFd created(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!created.valid()) {
      int err = errno;
      return sysError("create " + path, err);
    }
    if (::ftruncate(created.get(), bytes) < 0) {
      int err = errno;
      ::unlink(path.c_str());
      return sysError("truncate " + path, err);
    }
  }
  Result<int> status = runMkfs(mkfs, path);
  UniqueFd image(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  int open_errno = errno;
  ::unlink(path.c_str());
  if (!status) return status.error();
  if (!image.valid()) return sysError("open " + path, open_errno);
  if (!hasExt4Magic(image.get())) {
    return makeError(ErrorCode::kInternal, mkfs + " left no ext4 superblock in " + path);
  }
  return image;
}

Result<UniqueFd> cloneImage(int template_fd, const std::filesystem::path& file, bool preallocate) {
  struct stat st {};
  if (::fstat(template_fd, &st) < 0) return sysError("fstat (scratch template)", errno);
  UniqueFd image(::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!image.valid()) {
    int err = errno;
    return sysError("create " + file.string(), err);
  }
  // Nameless from here on: a crash cannot leave it behind. (O_TMPFILE would also do, but
  // then the loop device's backing_file would not name the run that made it.)
  ::unlink(file.c_str());
  if (preallocate) {
    if (::fallocate(image.get(), 0, 0, st.st_size) < 0) {
      // ENOSPC here is the honest answer: the host disk cannot hold this /tmp.
      return sysError("fallocate scratch image", errno);
    }
  } else if (::ftruncate(image.get(), st.st_size) < 0) {
    return sysError("truncate scratch image", errno);
  }
  // Walk the template's data regions; everything between them reads as zeros already.
  off_t at = 0;
  while (at < st.st_size) {
    off_t data = ::lseek(template_fd, at, SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;  // no data after `at`
    if (data < 0) return sysError("SEEK_DATA (scratch template)", errno);
    off_t hole = ::lseek(template_fd, data, SEEK_HOLE);
    if (hole < 0) return sysError("SEEK_HOLE (scratch template)", errno);
    if (Result<void> r = copyRange(template_fd, image.get(), data, hole); !r) return r.error();
    at = hole;
  }
  return image;
}

}  // namespace nimbus::sandbox
