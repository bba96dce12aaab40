// Checks a zip package in memory before anything touches the disk: archive structure,
// entry names, kinds and modes, declared sizes and compression ratios, symlink targets.
// Also the one reader of entry data, which never trusts the sizes the headers declare.
#pragma once

#include <sys/types.h>
#include <zip.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/code_store.h"

namespace nimbus::store {

enum class EntryKind { kFile, kDirectory, kSymlink };

// One entry as it will be written: a normalised relative path ("a/b/c", never empty,
// no "." or ".." components), the mode to give it and the size its headers declare.
struct PackageEntry {
  uint64_t index = 0;  // libzip's entry index
  std::string path;
  EntryKind kind = EntryKind::kFile;
  mode_t mode = 0644;
  uint64_t size = 0;
  std::string link_target;  // symlinks only: checked to stay inside the package
};

struct ZipCloser {
  void operator()(zip_t* za) const { zip_discard(za); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

// An archive that passed every check that can be made without unpacking it. The
// archive reads from the caller's bytes, which must outlive it.
struct ValidatedZip {
  ZipHandle archive;
  std::vector<PackageEntry> entries;  // in archive order
  uint64_t unpacked_bytes = 0;        // sum of declared sizes
};

// kInvalidParameter with the reason for any bad package, kInternal when libzip cannot
// allocate. The zipped-size limit is the caller's (it maps to a different error code).
Result<ValidatedZip> validateZip(std::string_view zip_bytes, const ZipLimits& limits);

// Decompresses one file or symlink entry and hands its bytes to `sink` in chunks.
// Refuses (kInvalidParameter) an entry that yields more or fewer bytes than declared
// or fails its CRC; the count is made while decompressing, so a lying header cannot
// make us produce more than it declared. An error from `sink` stops the read.
Result<void> streamEntry(zip_t* archive, const PackageEntry& entry,
                         const std::function<Result<void>(std::string_view)>& sink);

}  // namespace nimbus::store
