// Loop block devices by raw ioctl: attaching a regular file to a free /dev/loopN
// (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, autoclear), and finding and detaching the ones a
// previous run left behind. Used by scratch storage; knows nothing of filesystems.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

// One attached loop device. It was configured with LO_FLAGS_AUTOCLEAR: the kernel detaches
// it when its last opener closes, i.e. once `fd` is closed and no mount uses it any more.
// So a crash of nimbus leaves at most devices that are still mounted.
struct LoopDevice {
  int number = -1;
  UniqueFd fd;  // O_RDWR|O_CLOEXEC on /dev/loopN; holding it keeps the device attached
  bool direct_io = false;

  std::string path() const { return "/dev/loop" + std::to_string(number); }
};

struct LoopOptions {
  uint32_t block_size = 4096;  // logical block size the device presents
  // O_DIRECT on the backing file: no second copy of the data in the host's page cache.
  // Dropped (buffered I/O) if the kernel refuses it for this file.
  bool direct_io = true;
};

// Whether /dev/loop-control opens read-write (root, a kernel with loop, a /dev that has
// it). The error says why not, with errno.
Result<void> checkLoopControl();

// Attaches backing_fd (a regular file open read-write) to a free loop device. Another
// process may take the device LOOP_CTL_GET_FREE named first; that EBUSY is retried.
// Errors: kUnavailable with errno (EACCES, ENOENT: no loop support here; EBUSY: every
// retry lost a race), kInternal with errno for other failed ioctls.
// Thread-safe.
Result<LoopDevice> attachLoopDevice(int backing_fd, const LoopOptions& options = {});

struct AttachedLoop {
  int number = -1;
  std::filesystem::path backing_file;  // without the " (deleted)" of an unlinked file
};

// The loop devices whose backing file lies under `dir`, read from
// <sys_block>/loopN/loop/backing_file. `sys_block` is /sys/block outside tests.
std::vector<AttachedLoop> loopDevicesBackedUnder(const std::filesystem::path& sys_block,
                                                 const std::filesystem::path& dir);

// Detaches /dev/loopN (LOOP_CLR_FD). A device still open or mounted is only marked
// autoclear by the kernel and goes when its last user does; that counts as success.
Result<void> detachLoopDevice(int number);

}  // namespace nimbus::sandbox
