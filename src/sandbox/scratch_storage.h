// Per-instance /tmp: disk-backed scratch space under the data folder, capped at its size
// (ENOSPC at the cap, not memory: a tmpfs would be charged to the instance's memcg), wiped
// when the instance ends. Each volume is an ext4 image on a loop device, mounted on a host
// path that the sandbox launcher bind-mounts at /tmp; a small pool keeps some ready.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "sandbox/loop_device.h"
#include "sandbox/scratch_janitor.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

struct ScratchOptions {
  // Ready (formatted, attached, mounted) volumes kept per pooled size, so that a cold
  // start only hands one out. 0: every acquire builds its volume (~1-3 ms, see the test).
  int pool_depth = 2;
  // Sizes pooled from the start. A size first asked for later joins the pool; beyond
  // max_pooled_sizes the size asked for least recently leaves it.
  std::vector<int> pool_sizes_mb = {512};
  size_t max_pooled_sizes = 4;
  // Accepted sizes. Lambda's EphemeralStorage range is checked where the function's
  // configuration is; tests use smaller volumes.
  int min_size_mb = 512;
  int max_size_mb = 10240;
  // false: plain directories without a cap even where loop devices work.
  bool use_loop_devices = true;
  std::string mkfs_path = "/usr/sbin/mkfs.ext4";
  // Reserve each image's full size on the host disk (fallocate). Off: images are sparse,
  // so disk is used only as /tmp fills, and a host disk that fills first turns the
  // instance's writes into I/O errors instead of ENOSPC.
  bool preallocate = false;
  // Where mountinfo and loop devices are read (fakes in tests).
  std::string proc_root = "/proc";
  std::string sys_block = "/sys/block";
};

// One instance's scratch space: a fresh, empty directory that only its owner can use.
// Destroying it wipes it, normally on the janitor's thread, because the unmount first
// writes back whatever the instance left unsynced (≈30-80 ms per 64 MiB here), which no
// io thread should wait for; with ScratchJanitor::kMaxQueued wipes queued already, the
// destructor wipes inline. The filesystem is detached (MNT_DETACH: an instance mount
// namespace that still holds it keeps it until that namespace dies), the loop device
// released, and the image, an unlinked file, goes with it. The path is never handed out
// again. Not thread-safe; one owner. May outlive the ScratchStorage that made it.
class ScratchVolume {
 public:
  ~ScratchVolume();
  ScratchVolume(const ScratchVolume&) = delete;
  ScratchVolume& operator=(const ScratchVolume&) = delete;

  // Host path to bind-mount at /tmp inside the sandbox (SandboxSpec::scratch_dir).
  const std::filesystem::path& path() const { return path_; }
  int sizeMb() const { return size_mb_; }
  // False for the fallback's plain directory, which has no size limit.
  bool capped() const { return loop_.number >= 0; }
  int loopNumber() const { return loop_.number; }
  const std::string& instanceId() const { return instance_id_; }

 private:
  friend class ScratchStorage;
  ScratchVolume(std::filesystem::path path, int size_mb, LoopDevice loop,
                std::shared_ptr<ScratchJanitor> janitor)
      : path_(std::move(path)),
        size_mb_(size_mb),
        loop_(std::move(loop)),
        janitor_(std::move(janitor)) {}

  std::filesystem::path path_;
  int size_mb_;
  LoopDevice loop_;  // number -1 for a plain directory
  std::shared_ptr<ScratchJanitor> janitor_;
  std::string instance_id_;
};

// Makes scratch volumes under one root folder (<data>/scratch), which it owns entirely.
// Thread-safe: acquire may be called from any thread (not during destruction). Runs two
// background threads: one refills the pool, one (shared with the volumes it handed out)
// wipes released volumes. Where the root's mount is shared (systemd hosts), the volume
// mounts propagate to peer namespaces, and so do their unmounts.
class ScratchStorage {
 public:
  // Prepares `root`, removes what a previous run left there (see cleanupLeftovers),
  // chooses loop-backed ext4 volumes or, where those cannot be made here (not root, no
  // loop devices, no mkfs.ext4), plain directories without a cap, proving the choice by
  // building one volume, and starts the pool. Errors: kInternal with errno if `root`
  // cannot be made; an unusable loop setup is not an error but the fallback.
  static Result<std::unique_ptr<ScratchStorage>> create(std::filesystem::path root,
                                                        ScratchOptions options = {});
  // Stops the pool thread and wipes the pooled volumes, waiting for that. Volumes handed
  // out stay valid; the janitor thread lives until the last of them is wiped.
  ~ScratchStorage();
  ScratchStorage(const ScratchStorage&) = delete;
  ScratchStorage& operator=(const ScratchStorage&) = delete;

  // For the start-up log: how /tmp is backed and whether its size is enforced.
  std::string describe() const;
  // True when volumes are size-capped (loop-backed ext4).
  bool capped() const { return use_loop_; }

  // A fresh, empty volume of at least size_mb MiB usable, its root directory owned by
  // uid:gid (the sandbox user as the host sees it, InstanceIdentity::host_uid/gid) with
  // `mode`. Taken from the pool when one of that size is ready (≈0.05 ms), else built now
  // (≈1-3 ms on a quiet host, tens under load; plus ≈25 ms of mkfs the first time a size
  // is asked for). instance_id is recorded for logs. Errors: kInvalidParameter for a size
  // out of range; kInternal/kUnavailable with errno when the volume cannot be made (e.g.
  // ENOSPC on the data disk).
  Result<std::unique_ptr<ScratchVolume>> acquire(const std::string& instance_id, int size_mb,
                                                 uid_t uid, gid_t gid, mode_t mode = 0700);

  // Unmounts, detaches and removes every volume under root that this storage did not
  // make (a previous run's, after kill -9). create() has run it; calling it again is safe.
  // Failures are logged, not returned: a leftover must not stop the server.
  void cleanupLeftovers();

  // Blocks until every volume released so far is wiped: unmounted, its loop device
  // released, its folder removed. For tests and orderly shutdown.
  void waitForReleases();

  struct Stats {
    uint64_t pool_hits = 0;
    uint64_t pool_misses = 0;
    size_t ready = 0;  // pooled volumes ready now, all sizes
  };
  Stats stats() const;

 private:
  struct Template {
    std::mutex mu;  // held while mkfs formats it, once
    UniqueFd fd;
  };

  ScratchStorage(std::filesystem::path root, ScratchOptions options);
  Result<std::unique_ptr<ScratchVolume>> buildVolume(int size_mb);
  Result<std::unique_ptr<ScratchVolume>> buildLoopVolume(int size_mb,
                                                         const std::filesystem::path& dir);
  Result<int> templateFor(int size_mb);
  std::filesystem::path nextVolumePath();
  // Moves size to the front of the pooled sizes; returns volumes of sizes pushed out.
  std::vector<std::unique_ptr<ScratchVolume>> notePooledSizeLocked(int size_mb);
  void poolThread();

  const std::filesystem::path root_;
  const std::filesystem::path volumes_dir_;  // root/mnt: mount points or plain dirs
  const std::filesystem::path images_dir_;   // root/img: images, unlinked once open
  const ScratchOptions options_;
  const std::string generation_;  // names this run's volumes, so cleanup spares them
  const std::shared_ptr<ScratchJanitor> janitor_;
  bool use_loop_ = false;
  bool direct_io_ = false;
  std::string fallback_reason_;

  std::mutex templates_mu_;
  std::map<int, std::shared_ptr<Template>> templates_;  // by size_mb

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t next_volume_ = 0;
  std::deque<int> pooled_sizes_;  // most recently asked first
  std::map<int, std::vector<std::unique_ptr<ScratchVolume>>> ready_;
  Stats stats_;
  std::thread pool_thread_;
};

}  // namespace nimbus::sandbox
