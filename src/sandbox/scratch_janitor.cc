// The janitor thread that wipes released scratch volumes, and the wipe itself.
#include "sandbox/scratch_janitor.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "base/log.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kLog = "scratch";

}  // namespace

void wipeScratchVolume(const fs::path& path, LoopDevice& loop) {
  if (loop.number < 0) {
    // TODO(security): remove_all is not proof against a process of the instance that is
    // still alive swapping a folder for a symlink meanwhile; the launcher must have
    // killed them all first. Only the uncapped fallback takes this path.
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) {
      log::warn(kLog, "cannot remove scratch folder",
                {{"path", path.string()}, {"error", ec.message()}});
    }
    return;
  }
  // The last reference to the filesystem usually goes here, and ext4 writes back the
  // instance's unsynced data through the loop device before letting go: that is the
  // slow part. The image file is already unlinked, so its blocks are freed after.
  if (::umount2(path.c_str(), MNT_DETACH) < 0) {
    std::string error = std::strerror(errno);
    log::warn(kLog, "cannot unmount scratch volume", {{"path", path.string()}, {"error", error}});
  }
  loop.fd.reset();  // autoclear: the device detaches once the filesystem has let go of it
  if (::rmdir(path.c_str()) < 0) {
    std::string error = std::strerror(errno);
    log::warn(kLog, "cannot remove scratch mount point",
              {{"path", path.string()}, {"error", error}});
  }
}

ScratchJanitor::ScratchJanitor() : thread_([this] { run(); }) {}

ScratchJanitor::~ScratchJanitor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

bool ScratchJanitor::tryPost(fs::path& path, LoopDevice& loop) {
  {
    std::lock_guard lock(mu_);
    if (pending_ >= kMaxQueued) return false;
    queue_.push_back({std::move(path), std::move(loop)});
    ++pending_;
  }
  work_cv_.notify_all();
  return true;
}

void ScratchJanitor::waitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return pending_ == 0; });
}

void ScratchJanitor::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to wipe
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    wipeScratchVolume(job.path, job.loop);
    lock.lock();
    if (--pending_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace nimbus::sandbox
