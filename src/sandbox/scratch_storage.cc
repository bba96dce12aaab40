// Per-instance /tmp volumes: building them (template copy, loop device, mount), the pool
// that keeps some ready, and handing them out. Wiping: scratch_janitor.cc; crash
// leftovers: scratch_leftovers.cc.
#include "sandbox/scratch_storage.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "sandbox/scratch_image.h"
#include "sandbox/scratch_janitor.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kLog = "scratch";
// A pool that cannot build (data disk full, loop devices exhausted) retries this often.
constexpr auto kPoolRetryAfterFailure = std::chrono::seconds(5);
// Distinct sizes whose formatted template (≈300 KB of disk and one fd each) is kept.
constexpr size_t kMaxTemplates = 32;

// No journal and no barriers: the data lives only as long as the instance, so there is
// nothing to recover after a crash and no point in flushing the host disk on fsync.
// noinit_itable: the image's inode tables are holes that read as zeros; the kernel's
// lazy-init thread would otherwise write zeros over them (1/64 of the size) after mount.
constexpr const char* kMountData = "noinit_itable,barrier=0";
// nosuid,nodev as for any /tmp; exec stays allowed (Lambda functions run binaries there).
constexpr unsigned long kMountFlags = MS_NOSUID | MS_NODEV | MS_NOATIME;

Error sysError(ErrorCode code, const std::string& what, int err) {
  return makeError(code, what + ": " + std::strerror(err), err);
}

std::string randomGeneration() {
  uint64_t bits = 0;
  if (::getrandom(&bits, sizeof bits, 0) != sizeof bits) {
    bits = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

}  // namespace

// ---- ScratchVolume ---------------------------------------------------------------------

ScratchVolume::~ScratchVolume() {
  if (!janitor_ || !janitor_->tryPost(path_, loop_)) wipeScratchVolume(path_, loop_);
}

// ---- ScratchStorage: creation ----------------------------------------------------------

ScratchStorage::ScratchStorage(fs::path root, ScratchOptions options)
    : root_(root.lexically_normal()),
      volumes_dir_(root_ / "mnt"),
      images_dir_(root_ / "img"),
      options_(std::move(options)),
      generation_(randomGeneration()),
      janitor_(std::make_shared<ScratchJanitor>()) {}

Result<std::unique_ptr<ScratchStorage>> ScratchStorage::create(fs::path root,
                                                               ScratchOptions options) {
  std::error_code ec;
  root = fs::absolute(root, ec).lexically_normal();
  std::unique_ptr<ScratchStorage> s(new ScratchStorage(root, std::move(options)));
  // 0711 up to the volumes: a sandbox whose user namespace maps only the instance's uid
  // can still walk to its own volume, but nobody can list the others.
  for (const auto& [dir, mode] : {std::pair{s->root_, 0711}, std::pair{s->volumes_dir_, 0711},
                                  std::pair{s->images_dir_, 0700}}) {
    fs::create_directories(dir, ec);
    if (ec) return sysError(ErrorCode::kInternal, "create " + dir.string(), ec.value());
    if (::chmod(dir.c_str(), mode) < 0) {
      int err = errno;
      return sysError(ErrorCode::kInternal, "chmod " + dir.string(), err);
    }
  }
  s->cleanupLeftovers();

  const ScratchOptions& o = s->options_;
  if (o.pool_depth > 0) {
    for (int size : o.pool_sizes_mb) {
      bool known = std::find(s->pooled_sizes_.begin(), s->pooled_sizes_.end(), size) !=
                   s->pooled_sizes_.end();
      if (size < o.min_size_mb || size > o.max_size_mb || known) continue;
      if (s->pooled_sizes_.size() < std::max<size_t>(o.max_pooled_sizes, 1)) {
        s->pooled_sizes_.push_back(size);
      }
    }
  }
  if (!o.use_loop_devices) {
    s->fallback_reason_ = "loop devices disabled by configuration";
  } else if (Result<void> loop = checkLoopControl(); !loop) {
    s->fallback_reason_ = loop.error().message;
  } else {
    // Prove the whole path once (mkfs, loop, mount) rather than fail at the first instance.
    // It becomes the pool's first volume, if there is a pool.
    int probe_mb = s->pooled_sizes_.empty() ? o.min_size_mb : s->pooled_sizes_.front();
    Result<std::unique_ptr<ScratchVolume>> probe =
        s->buildLoopVolume(probe_mb, s->nextVolumePath());
    if (!probe) {
      s->fallback_reason_ = probe.error().message;
    } else {
      s->use_loop_ = true;
      s->direct_io_ = (*probe)->loop_.direct_io;
      if (!s->pooled_sizes_.empty()) s->ready_[probe_mb].push_back(std::move(*probe));
    }
  }
  if (!s->use_loop_) {
    // Plain directories cost a mkdir: nothing to pool.
    s->pooled_sizes_.clear();
    log::warn(kLog, "scratch volumes fall back to plain directories: /tmp size is not enforced",
              {{"reason", s->fallback_reason_}});
    return s;
  }
  if (o.pool_depth > 0) s->pool_thread_ = std::thread([raw = s.get()] { raw->poolThread(); });
  return s;
}

ScratchStorage::~ScratchStorage() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (pool_thread_.joinable()) pool_thread_.join();
  ready_.clear();  // hands the pooled volumes to the janitor
  janitor_->waitIdle();
}

void ScratchStorage::waitForReleases() { janitor_->waitIdle(); }

std::string ScratchStorage::describe() const {
  if (!use_loop_) {
    return "plain directories under " + root_.string() + ": /tmp size is NOT enforced (" +
           fallback_reason_ + ")";
  }
  std::string text = "ext4 images on loop devices under " + root_.string() +
                     ", size enforced (ENOSPC at the cap), " +
                     (direct_io_ ? "direct I/O" : "buffered I/O") + ", " +
                     (options_.preallocate ? "preallocated" : "sparse") + " images";
  if (options_.pool_depth > 0) {
    std::lock_guard lock(mu_);
    text += ", " + std::to_string(options_.pool_depth) + " ready per pooled size (";
    for (size_t i = 0; i < pooled_sizes_.size(); ++i) {
      text += (i ? ", " : "") + std::to_string(pooled_sizes_[i]) + " MB";
    }
    if (pooled_sizes_.empty()) text += "none until asked for";
    text += ")";
  }
  return text;
}

ScratchStorage::Stats ScratchStorage::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.ready = 0;
  for (const auto& [size, volumes] : ready_) s.ready += volumes.size();
  return s;
}

// ---- Building volumes ------------------------------------------------------------------

fs::path ScratchStorage::nextVolumePath() {
  std::lock_guard lock(mu_);
  return volumes_dir_ / (generation_ + "-" + std::to_string(++next_volume_));
}

Result<int> ScratchStorage::templateFor(int size_mb) {
  std::shared_ptr<Template> t;
  {
    std::lock_guard lock(templates_mu_);
    std::shared_ptr<Template>& slot = templates_[size_mb];
    if (!slot) slot = std::make_shared<Template>();
    t = slot;
    if (templates_.size() > kMaxTemplates) {
      // Forget some other size; one in use stays alive through its shared_ptr.
      auto victim = templates_.begin();
      if (victim->first == size_mb) ++victim;
      templates_.erase(victim);
    }
  }
  std::lock_guard lock(t->mu);
  if (!t->fd.valid()) {
    fs::path file = images_dir_ / (generation_ + "-template-" + std::to_string(size_mb));
    Result<UniqueFd> made = makeExt4Template(options_.mkfs_path, file, ext4ImageBytesFor(size_mb));
    if (!made) return made.error();
    t->fd = std::move(*made);
  }
  return t->fd.get();
}

Result<std::unique_ptr<ScratchVolume>> ScratchStorage::buildLoopVolume(int size_mb,
                                                                       const fs::path& dir) {
  Result<int> tpl = templateFor(size_mb);
  if (!tpl) return tpl.error();
  Result<UniqueFd> image =
      cloneImage(*tpl, images_dir_ / (dir.filename().string() + ".img"), options_.preallocate);
  if (!image) return image.error();
  Result<LoopDevice> loop = attachLoopDevice(image->get());
  if (!loop) return loop.error();
  image->reset();  // the loop device holds the file now
  if (::mkdir(dir.c_str(), 0700) < 0) {
    int err = errno;
    return sysError(ErrorCode::kInternal, "mkdir " + dir.string(), err);
  }
  if (::mount(loop->path().c_str(), dir.c_str(), "ext4", kMountFlags, kMountData) < 0) {
    int err = errno;
    ::rmdir(dir.c_str());
    return sysError(ErrorCode::kInternal, "mount " + loop->path() + " on " + dir.string(), err);
  }
  // From here the destructor undoes everything.
  std::unique_ptr<ScratchVolume> volume(
      new ScratchVolume(dir, size_mb, std::move(*loop), janitor_));
  // An empty /tmp, as in Lambda: mkfs always makes lost+found.
  if (::rmdir((dir / "lost+found").c_str()) < 0 && errno != ENOENT) {
    int err = errno;
    return sysError(ErrorCode::kInternal, "rmdir lost+found in " + dir.string(), err);
  }
  return volume;
}

Result<std::unique_ptr<ScratchVolume>> ScratchStorage::buildVolume(int size_mb) {
  fs::path dir = nextVolumePath();
  if (use_loop_) return buildLoopVolume(size_mb, dir);
  if (::mkdir(dir.c_str(), 0700) < 0) {
    int err = errno;
    return sysError(ErrorCode::kInternal, "mkdir " + dir.string(), err);
  }
  return std::unique_ptr<ScratchVolume>(new ScratchVolume(dir, size_mb, LoopDevice{}, janitor_));
}

// ---- Handing volumes out and keeping the pool full -------------------------------------

std::vector<std::unique_ptr<ScratchVolume>> ScratchStorage::notePooledSizeLocked(int size_mb) {
  std::vector<std::unique_ptr<ScratchVolume>> evicted;
  auto at = std::find(pooled_sizes_.begin(), pooled_sizes_.end(), size_mb);
  if (at != pooled_sizes_.end()) pooled_sizes_.erase(at);
  pooled_sizes_.push_front(size_mb);
  while (pooled_sizes_.size() > std::max<size_t>(options_.max_pooled_sizes, 1)) {
    auto volumes = ready_.find(pooled_sizes_.back());
    if (volumes != ready_.end()) {
      for (auto& v : volumes->second) evicted.push_back(std::move(v));
      ready_.erase(volumes);
    }
    pooled_sizes_.pop_back();
  }
  return evicted;
}

Result<std::unique_ptr<ScratchVolume>> ScratchStorage::acquire(const std::string& instance_id,
                                                               int size_mb, uid_t uid, gid_t gid,
                                                               mode_t mode) {
  if (size_mb < options_.min_size_mb || size_mb > options_.max_size_mb) {
    return makeError(ErrorCode::kInvalidParameter,
                     "scratch size " + std::to_string(size_mb) + " MB is outside " +
                         std::to_string(options_.min_size_mb) + "-" +
                         std::to_string(options_.max_size_mb) + " MB");
  }
  std::unique_ptr<ScratchVolume> volume;
  std::vector<std::unique_ptr<ScratchVolume>> evicted;  // wiped outside the lock
  if (use_loop_ && options_.pool_depth > 0) {
    {
      std::lock_guard lock(mu_);
      evicted = notePooledSizeLocked(size_mb);
      auto& ready = ready_[size_mb];
      if (!ready.empty()) {
        volume = std::move(ready.front());
        ready.erase(ready.begin());
        ++stats_.pool_hits;
      } else {
        ++stats_.pool_misses;
      }
    }
    cv_.notify_one();  // the pool thread refills
  }
  evicted.clear();
  if (!volume) {
    Result<std::unique_ptr<ScratchVolume>> built = buildVolume(size_mb);
    if (!built) return built.error().withContext("scratch volume for " + instance_id);
    volume = std::move(*built);
  }
  volume->instance_id_ = instance_id;
  const char* dir = volume->path().c_str();
  if (::chown(dir, uid, gid) < 0 || ::chmod(dir, mode) < 0) {
    int err = errno;
    return sysError(ErrorCode::kInternal, "chown/chmod scratch volume " + volume->path().string(),
                    err);
  }
  return volume;
}

void ScratchStorage::poolThread() {
  std::unique_lock lock(mu_);
  bool failing = false;
  while (!stopping_) {
    int wanted = 0;
    for (int size : pooled_sizes_) {
      if (ready_[size].size() < static_cast<size_t>(options_.pool_depth)) {
        wanted = size;
        break;
      }
    }
    if (wanted == 0) {
      cv_.wait(lock);
      continue;
    }
    lock.unlock();
    Result<std::unique_ptr<ScratchVolume>> built = buildVolume(wanted);
    lock.lock();
    if (!built) {
      if (!failing) {
        log::warn(kLog, "cannot refill the scratch pool; instances build their own",
                  {{"size_mb", std::to_string(wanted)}, {"error", built.error().message}});
      }
      failing = true;
      cv_.wait_for(lock, kPoolRetryAfterFailure, [this] { return stopping_; });
      continue;
    }
    failing = false;
    bool still_pooled =
        std::find(pooled_sizes_.begin(), pooled_sizes_.end(), wanted) != pooled_sizes_.end();
    if (stopping_ || !still_pooled) {
      lock.unlock();
      built->reset();
      lock.lock();
      continue;
    }
    ready_[wanted].push_back(std::move(*built));
  }
}

}  // namespace nimbus::sandbox
