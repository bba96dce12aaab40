// Sweeping what a previous run of scratch storage left under its root after a crash:
// mounts, loop devices, folders and image files. Everything this run made is spared.
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "sandbox/loop_device.h"
#include "sandbox/scratch_storage.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kLog = "scratch";

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountPath(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 3 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '3') {
      out.push_back(
          static_cast<char>((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

bool isStrictlyUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// Mount points strictly under `dir` (not `dir` itself: the data folder's scratch root may
// be a disk of its own), deepest first, so that nested mounts go before their parents.
std::vector<std::string> mountsUnder(const std::string& proc_root, const fs::path& dir) {
  std::vector<std::string> found;
  std::ifstream in(proc_root + "/self/mountinfo");
  const std::string prefix = dir.lexically_normal().string();
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    if (!(fields >> id >> parent >> devno >> root >> mount_point)) continue;
    std::string path = unescapeMountPath(mount_point);
    if (isStrictlyUnder(path, prefix)) found.push_back(path);
  }
  std::sort(found.begin(), found.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return found;
}

// True when `entry` (a direct child of volumes_dir or images_dir) was made by the run
// whose generation is `generation`.
bool isOwnEntry(const fs::path& entry, const std::string& generation) {
  return entry.filename().string().starts_with(generation + "-");
}

}  // namespace

void ScratchStorage::cleanupLeftovers() {
  auto is_own = [this](const fs::path& path) {
    fs::path rel = path.lexically_relative(volumes_dir_);
    return !rel.empty() && *rel.begin() != ".." && isOwnEntry(*rel.begin(), generation_);
  };
  // 1. Unmount: this also releases the autoclear loop devices under them.
  for (const std::string& mount_point : mountsUnder(options_.proc_root, root_)) {
    if (is_own(mount_point)) continue;
    if (::umount2(mount_point.c_str(), MNT_DETACH) < 0) {
      std::string error = std::strerror(errno);
      log::warn(kLog, "cannot unmount leftover scratch volume",
                {{"path", mount_point}, {"error", error}});
    } else {
      log::info(kLog, "unmounted leftover scratch volume", {{"path", mount_point}});
    }
  }
  // 2. Loop devices still attached to a file under root that is not ours (a run that
  // attached without autoclear, or one whose mount is in a namespace we cannot see).
  for (const AttachedLoop& loop : loopDevicesBackedUnder(options_.sys_block, root_)) {
    if (isOwnEntry(loop.backing_file, generation_)) continue;
    if (Result<void> r = detachLoopDevice(loop.number); !r) {
      log::warn(kLog, "cannot detach leftover loop device", {{"error", r.error().message}});
    }
  }
  // 3. Folders and image files. Never recurse into something still mounted: remove_all
  // would delete inside it (and cross into wherever a bind mount points).
  std::vector<std::string> still_mounted = mountsUnder(options_.proc_root, root_);
  for (const fs::path& dir : {volumes_dir_, images_dir_}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (isOwnEntry(entry.path(), generation_)) continue;
      const std::string path = entry.path().string();
      bool busy = std::any_of(still_mounted.begin(), still_mounted.end(),
                              [&](const auto& m) { return m == path || isStrictlyUnder(m, path); });
      if (busy) {
        log::warn(kLog, "leftover scratch volume is still mounted; left in place",
                  {{"path", path}});
        continue;
      }
      std::error_code rm;
      fs::remove_all(entry.path(), rm);
      if (rm) {
        log::warn(kLog, "cannot remove leftover scratch entry",
                  {{"path", path}, {"error", rm.message()}});
      }
    }
  }
}

}  // namespace nimbus::sandbox
