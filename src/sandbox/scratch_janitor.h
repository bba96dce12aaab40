// The thread that wipes released scratch volumes (unmount, release the loop device,
// remove the mount point), so that the threads ending instances do not wait for ext4 to
// write back what the instance left unsynced. Internal to scratch storage.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "sandbox/loop_device.h"

namespace nimbus::sandbox {

// Undoes one volume on the calling thread: a mounted loop volume (loop.number >= 0) is
// unmounted with MNT_DETACH, its loop fd closed (autoclear detaches the device once the
// filesystem lets go) and its mount point removed; a plain folder is removed with all it
// holds. Failures are logged: there is no one to return them to.
void wipeScratchVolume(const std::filesystem::path& path, LoopDevice& loop);

// Wipes volumes on a thread of its own. Shared (shared_ptr) by a ScratchStorage and every
// volume it handed out, so it outlives all of them; its destructor finishes the queue.
// Thread-safe.
class ScratchJanitor {
 public:
  ScratchJanitor();
  ~ScratchJanitor();
  ScratchJanitor(const ScratchJanitor&) = delete;
  ScratchJanitor& operator=(const ScratchJanitor&) = delete;

  // Takes the volume (moving from path and loop) and queues its wipe, unless
  // kMaxQueued wipes are waiting already: then leaves both untouched and returns false,
  // and the caller wipes inline. Instances ending faster than one thread can unmount must
  // slow down rather than pile up mounted filesystems and loop devices.
  static constexpr size_t kMaxQueued = 8;
  bool tryPost(std::filesystem::path& path, LoopDevice& loop);

  // Blocks until every wipe posted so far is done.
  void waitIdle();

 private:
  struct Job {
    std::filesystem::path path;
    LoopDevice loop;
  };
  void run();

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Job> queue_;
  size_t pending_ = 0;  // queued or being wiped
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace nimbus::sandbox
