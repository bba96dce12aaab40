// Loop block devices by raw ioctl: attach a file to a free /dev/loopN with autoclear,
// list the devices backed by files under a folder, detach one.
#include "sandbox/loop_device.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>
#include <system_error>

namespace nimbus::sandbox {
namespace {

// A race with another attacher costs one retry; this many in a row means something else
// is grabbing devices as fast as we are.
constexpr int kAttachAttempts = 16;

Error loopError(ErrorCode code, const std::string& what, int err) {
  return makeError(code, what + ": " + std::strerror(err), err);
}

// LOOP_CONFIGURE (Linux 5.8+) sets file, block size and flags in one ioctl. Returns the
// errno, 0 on success.
int configure(int loop_fd, int backing_fd, uint32_t block_size, bool direct_io) {
  loop_config config{};
  config.fd = static_cast<uint32_t>(backing_fd);
  config.block_size = block_size;
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (direct_io ? LO_FLAGS_DIRECT_IO : 0);
  return ::ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0 ? 0 : errno;
}

bool parseLoopNumber(std::string_view name, int* number) {
  if (!name.starts_with("loop")) return false;
  name.remove_prefix(4);
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), *number);
  return ec == std::errc() && end == name.data() + name.size();
}

bool isUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (dir.back() == '/' || path[dir.size()] == '/');
}

}  // namespace

Result<void> checkLoopControl() {
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) {
    return loopError(ErrorCode::kUnavailable, "open /dev/loop-control", errno);
  }
  return {};
}

Result<LoopDevice> attachLoopDevice(int backing_fd, const LoopOptions& options) {
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) {
    return loopError(ErrorCode::kUnavailable, "open /dev/loop-control", errno);
  }
  bool direct_io = options.direct_io;
  for (int attempt = 0; attempt < kAttachAttempts; ++attempt) {
    int number = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) return loopError(ErrorCode::kUnavailable, "LOOP_CTL_GET_FREE", errno);
    std::string path = "/dev/loop" + std::to_string(number);
    UniqueFd loop(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.valid()) {
      // The kernel made the device but /dev has no node for it (a static /dev in a
      // container): loop devices are not usable here.
      int err = errno;
      return loopError(ErrorCode::kUnavailable, "open " + path, err);
    }
    int err = configure(loop.get(), backing_fd, options.block_size, direct_io);
    if (err == EINVAL && direct_io) {
      // Kernels since 6.14 refuse LO_FLAGS_DIRECT_IO where the backing file cannot do
      // O_DIRECT at this block size (older ones drop it silently); go buffered.
      direct_io = false;
      err = configure(loop.get(), backing_fd, options.block_size, direct_io);
    }
    if (err == EBUSY) continue;  // someone configured this device between our two calls
    if (err != 0) return loopError(ErrorCode::kInternal, "LOOP_CONFIGURE " + path, err);
    if (direct_io) {
      // Older kernels accept the flag and fall back silently; report what we really got.
      loop_info64 info{};
      if (::ioctl(loop.get(), LOOP_GET_STATUS64, &info) == 0) {
        direct_io = (info.lo_flags & LO_FLAGS_DIRECT_IO) != 0;
      }
    }
    return LoopDevice{number, std::move(loop), direct_io};
  }
  return loopError(ErrorCode::kUnavailable, "attach loop device (every free device was taken)",
                   EBUSY);
}

std::vector<AttachedLoop> loopDevicesBackedUnder(const std::filesystem::path& sys_block,
                                                 const std::filesystem::path& dir) {
  std::vector<AttachedLoop> found;
  std::error_code ec;
  std::string prefix = dir.lexically_normal().string();
  for (const auto& entry : std::filesystem::directory_iterator(sys_block, ec)) {
    int number = -1;
    if (!parseLoopNumber(entry.path().filename().string(), &number)) continue;
    // Only attached devices have this file.
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string backing;
    if (!in || !std::getline(in, backing)) continue;
    constexpr std::string_view kDeleted = " (deleted)";
    if (backing.ends_with(kDeleted)) backing.resize(backing.size() - kDeleted.size());
    if (isUnder(backing, prefix)) found.push_back({number, backing});
  }
  return found;
}

Result<void> detachLoopDevice(int number) {
  std::string path = "/dev/loop" + std::to_string(number);
  UniqueFd loop(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!loop.valid()) {
    int err = errno;
    return loopError(ErrorCode::kInternal, "open " + path, err);
  }
  // ENXIO: already detached.
  if (::ioctl(loop.get(), LOOP_CLR_FD) < 0 && errno != ENXIO) {
    int err = errno;
    return loopError(ErrorCode::kInternal, "LOOP_CLR_FD " + path, err);
  }
  return {};
}

}  // namespace nimbus::sandbox
