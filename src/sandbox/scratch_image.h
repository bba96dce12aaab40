// ext4 images for scratch volumes: one formatted template per size, made once with
// Debian's mkfs.ext4 (e2fsprogs), and per-volume copies that copy only the template's few
// hundred KB of metadata and leave the rest a hole, so a copy costs well under a millisecond
// of I/O whatever its size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/error.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

// Bytes of image that give at least `usable_mb` MiB of writable space to a non-root user:
// ext4 keeps its inode tables and a reserve of min(2%, 16 MiB) for itself.
int64_t ext4ImageBytesFor(int usable_mb);

// Formats a new sparse file of `bytes` at `file` (which must not exist) by running `mkfs`
// (an absolute path to mkfs.ext4) as a child process, checks the superblock, and returns
// it opened read-only and already unlinked, so that nothing is left once the fd closes.
// The filesystem: 4 KiB blocks, no journal (the data dies with the instance, there is
// nothing to recover), no root reserve, inode tables left to read as the file's zeros.
// Errors: kUnavailable if `mkfs` cannot run, kInternal with its output if it fails.
// Blocks for tens of milliseconds; call it once per size, not per volume.
Result<UniqueFd> makeExt4Template(const std::string& mkfs, const std::filesystem::path& file,
                                  int64_t bytes);

// A new file at `file` (which must not exist), unlinked at once so that it vanishes with
// its last fd (a loop device's backing_file still shows the name, with " (deleted)"),
// holding a copy of the template: its data regions are copied, its holes stay holes. With
// `preallocate`, the whole size is reserved on disk first (fallocate), so a host disk that
// fills up later cannot turn the instance's writes into I/O errors.
Result<UniqueFd> cloneImage(int template_fd, const std::filesystem::path& file, bool preallocate);

}  // namespace nimbus::sandbox
