// Tests of per-instance scratch storage against real loop devices and ext4 (skipped
// without root or /dev/loop-control): the cap, the wipe, independence, ownership, crash
// leftovers, memory-cgroup charging, the fallback, and a printed acquire/release timing.
#include "sandbox/scratch_storage.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sandbox/loop_device.h"
#include "sandbox/scratch_image.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr int64_t kMiB = 1024 * 1024;

bool loopTestsPossible() { return ::geteuid() == 0 && ::access("/dev/loop-control", F_OK) == 0; }

#define SKIP_UNLESS_LOOP()                                                      \
  if (!loopTestsPossible()) GTEST_SKIP() << "needs root and /dev/loop-control"; \
  static_assert(true)

// Mount points of this process's mount namespace at or under `dir`.
std::vector<std::string> mountsAtOrUnder(const fs::path& dir) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == dir.string() || mount_point.starts_with(dir.string() + "/")) {
      found.push_back(mount_point);
    }
  }
  return found;
}

// The per-mount options field (6th) of the mount at `dir`, e.g. "rw,nosuid,nodev,noatime".
std::string mountOptions(const fs::path& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point, options;
    fields >> id >> parent >> devno >> root >> mount_point >> options;
    if (mount_point == dir.string()) return options;
  }
  return "";
}

bool hasOption(const std::string& options, const std::string& name) {
  return ("," + options + ",").find("," + name + ",") != std::string::npos;
}

// Writes up to `limit` bytes into `file` in 1 MiB writes; returns the bytes written and
// sets *err to the errno that stopped it (0 if none).
int64_t fill(const fs::path& file, int64_t limit, int* err) {
  *err = 0;
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *err = errno;
    return 0;
  }
  std::vector<char> chunk(kMiB, 'x');
  int64_t total = 0;
  while (total < limit) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n < 0) {
      *err = errno;
      break;
    }
    total += n;
  }
  ::close(fd);
  return total;
}

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A scratch root on the real disk (as <data>/scratch is), removed after the test. Anything
// a failed test left mounted is detached first, so remove_all never reaches inside it.
class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("nimbus-scratch-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  }
  void TearDown() override {
    storage_.reset();
    for (const std::string& m : mountsAtOrUnder(root_)) ::umount2(m.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  ScratchOptions smallOptions(int pool_depth = 0) {
    ScratchOptions o;
    o.min_size_mb = 8;
    o.pool_depth = pool_depth;
    o.pool_sizes_mb = {16};
    return o;
  }

  // Creates storage_ and skips the test if it fell back to plain directories.
  void createLoopStorage(ScratchOptions options) {
    auto made = ScratchStorage::create(root_, std::move(options));
    ASSERT_TRUE(made.ok()) << made.error().message;
    storage_ = std::move(*made);
    if (!storage_->capped())
      GTEST_SKIP() << "no loop-backed volumes here: " << storage_->describe();
  }

  std::vector<AttachedLoop> loopsUnderRoot() { return loopDevicesBackedUnder("/sys/block", root_); }

  fs::path root_;
  std::unique_ptr<ScratchStorage> storage_;
};

TEST(ScratchImage, ImageSizeLeavesRoomForMetadata) {
  for (int mb : {8, 16, 512, 10240}) {
    int64_t bytes = ext4ImageBytesFor(mb);
    EXPECT_GT(bytes, int64_t{mb} * kMiB);
    EXPECT_LT(bytes, int64_t{mb} * kMiB * 106 / 100 + 2 * kMiB) << mb;
    EXPECT_EQ(bytes % kMiB, 0);
  }
}

TEST(LoopDevice, FindsDevicesBackedUnderAFolderInAFakeSysfs) {
  fs::path sys = fs::temp_directory_path() / ("nimbus-fake-sys-" + std::to_string(::getpid()));
  auto backing = [&](const std::string& dev, const std::string& text) {
    fs::create_directories(sys / dev / "loop");
    std::ofstream(sys / dev / "loop" / "backing_file") << text << "\n";
  };
  backing("loop3", "/data/scratch/img/abc-1.img (deleted)");
  backing("loop4", "/data/scratchier/x.img");
  backing("loop12", "/data/scratch/img/old.img");
  fs::create_directories(sys / "loop5");           // not attached: no backing_file
  backing("vda", "/data/scratch/img/not-a-loop");  // not a loop device
  std::vector<AttachedLoop> found = loopDevicesBackedUnder(sys, "/data/scratch");
  std::sort(found.begin(), found.end(),
            [](const AttachedLoop& a, const AttachedLoop& b) { return a.number < b.number; });
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].number, 3);
  EXPECT_EQ(found[0].backing_file, "/data/scratch/img/abc-1.img");
  EXPECT_EQ(found[1].number, 12);
  fs::remove_all(sys);
}

TEST_F(ScratchTest, RejectsSizesOutOfRange) {
  ScratchOptions o = smallOptions();
  o.use_loop_devices = false;
  auto made = ScratchStorage::create(root_, o);
  ASSERT_TRUE(made.ok()) << made.error().message;
  for (int mb : {0, 7, 10241}) {
    auto v = (*made)->acquire("i-1", mb, ::getuid(), ::getgid());
    ASSERT_FALSE(v.ok()) << mb;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidParameter);
  }
}

TEST_F(ScratchTest, WritesStopWithEnospcAtTheCap) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));
  auto volume = storage_->acquire("i-cap", 16, 0, 0);
  ASSERT_TRUE(volume.ok()) << volume.error().message;

  struct statvfs st {};
  ASSERT_EQ(::statvfs((*volume)->path().c_str(), &st), 0);
  int64_t available = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  EXPECT_GE(available, 16 * kMiB);

  int err = 0;
  int64_t written = fill((*volume)->path() / "big", 32 * kMiB, &err);
  EXPECT_EQ(err, ENOSPC) << std::strerror(err);
  EXPECT_GE(written, 16 * kMiB);
  EXPECT_LE(written, 18 * kMiB);
  std::printf("16 MB volume: %.1f MiB free at start, ENOSPC after %.1f MiB\n",
              static_cast<double>(available) / kMiB, static_cast<double>(written) / kMiB);
}

// What df shows inside: at least the size asked for, and not much more.
TEST_F(ScratchTest, FreeSpaceMatchesTheSizeAskedFor) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));
  for (int mb : {16, 512, 10240}) {
    auto volume = storage_->acquire("i-df", mb, 0, 0);
    ASSERT_TRUE(volume.ok()) << volume.error().message;
    struct statvfs st {};
    ASSERT_EQ(::statvfs((*volume)->path().c_str(), &st), 0);
    int64_t available = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
    EXPECT_GE(available, mb * kMiB) << mb;
    EXPECT_LE(available, mb * kMiB * 102 / 100 + 2 * kMiB) << mb;
    std::printf("%5d MB volume: %.1f MiB available\n", mb, static_cast<double>(available) / kMiB);
  }
}

TEST_F(ScratchTest, PreallocatedImagesStopAtTheCapToo) {
  SKIP_UNLESS_LOOP();
  ScratchOptions o = smallOptions();
  o.preallocate = true;
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(o));
  EXPECT_NE(storage_->describe().find("preallocated"), std::string::npos);
  auto volume = storage_->acquire("i-prealloc", 16, 0, 0);
  ASSERT_TRUE(volume.ok()) << volume.error().message;
  int err = 0;
  int64_t written = fill((*volume)->path() / "big", 32 * kMiB, &err);
  EXPECT_EQ(err, ENOSPC);
  EXPECT_GE(written, 16 * kMiB);
  EXPECT_LE(written, 18 * kMiB);
}

TEST_F(ScratchTest, DestroyingAVolumeWipesItAndReleasesEverything) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));
  auto volume = storage_->acquire("i-wipe", 16, 0, 0);
  ASSERT_TRUE(volume.ok()) << volume.error().message;
  const fs::path path = (*volume)->path();
  const int loop = (*volume)->loopNumber();
  ASSERT_GE(loop, 0);
  std::ofstream(path / "secret") << "instance data";
  ASSERT_TRUE(fs::exists(path / "secret"));
  ASSERT_EQ(mountsAtOrUnder(path).size(), 1u);

  volume->reset();
  storage_->waitForReleases();

  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(mountsAtOrUnder(root_).empty());
  // Autoclear detaches on the last close; allow the kernel a moment.
  EXPECT_TRUE(waitFor([&] { return loopsUnderRoot().empty(); }, std::chrono::seconds(2)))
      << "loop" << loop << " still attached";
  EXPECT_TRUE(fs::is_empty(root_ / "mnt"));
  EXPECT_TRUE(fs::is_empty(root_ / "img"));
}

TEST_F(ScratchTest, TwoVolumesAreIndependent) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));
  auto a = storage_->acquire("i-a", 16, 0, 0);
  auto b = storage_->acquire("i-b", 16, 0, 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->path(), (*b)->path());
  EXPECT_NE((*a)->loopNumber(), (*b)->loopNumber());

  std::ofstream((*a)->path() / "only-in-a") << "a";
  EXPECT_FALSE(fs::exists((*b)->path() / "only-in-a"));
  int err = 0;
  fill((*a)->path() / "full", 32 * kMiB, &err);
  EXPECT_EQ(err, ENOSPC);
  // A full neighbour takes nothing from b.
  int64_t written = fill((*b)->path() / "data", 8 * kMiB, &err);
  EXPECT_EQ(err, 0) << std::strerror(err);
  EXPECT_EQ(written, 8 * kMiB);
}

TEST_F(ScratchTest, RootDirectoryIsEmptyOwnedBySandboxUserAndMountedNosuidNodev) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));
  auto volume = storage_->acquire("i-own", 16, 100123, 100456);
  ASSERT_TRUE(volume.ok()) << volume.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((*volume)->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100123u);
  EXPECT_EQ(st.st_gid, 100456u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(fs::is_empty((*volume)->path())) << "lost+found should be gone";
  std::string options = mountOptions((*volume)->path());
  EXPECT_TRUE(hasOption(options, "nosuid")) << options;
  EXPECT_TRUE(hasOption(options, "nodev")) << options;
  EXPECT_FALSE(hasOption(options, "noexec")) << options;
  EXPECT_TRUE(hasOption(options, "rw")) << options;
}

TEST_F(ScratchTest, PoolKeepsVolumesReadyAndHandsThemOut) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions(/*pool_depth=*/2)));
  ASSERT_TRUE(waitFor([&] { return storage_->stats().ready == 2; }, std::chrono::seconds(10)));
  EXPECT_NE(storage_->describe().find("2 ready per pooled size (16 MB)"), std::string::npos)
      << storage_->describe();

  auto first = storage_->acquire("i-p1", 16, 1000, 1000);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(storage_->stats().pool_hits, 1u);
  EXPECT_TRUE(fs::is_empty((*first)->path()));
  // A size not pooled yet is built on the spot, then joins the pool.
  auto other = storage_->acquire("i-p2", 24, 1000, 1000);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(storage_->stats().pool_misses, 1u);
  EXPECT_TRUE(waitFor([&] { return storage_->stats().ready == 4; }, std::chrono::seconds(10)));

  first->reset();
  other->reset();
  storage_.reset();  // wipes the pooled volumes
  EXPECT_TRUE(mountsAtOrUnder(root_).empty());
  EXPECT_TRUE(waitFor([&] { return loopsUnderRoot().empty(); }, std::chrono::seconds(2)));
}

// Many lifecycles from several threads at once (racing for free loop devices, pool hits
// and misses): every acquire succeeds and nothing is left behind.
TEST_F(ScratchTest, ConcurrentLifecyclesLeaveNothingBehind) {
  SKIP_UNLESS_LOOP();
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions(/*pool_depth=*/2)));
  constexpr int kThreads = 4, kCycles = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCycles; ++i) {
        auto v = storage_->acquire("i-" + std::to_string(t) + "-" + std::to_string(i),
                                   i % 3 == 0 ? 8 : 16, 1000, 1000);
        if (!v.ok() || !fs::is_empty((*v)->path())) {
          ++failures;
          continue;
        }
        std::ofstream((*v)->path() / "f") << i;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ScratchStorage::Stats stats = storage_->stats();
  EXPECT_EQ(stats.pool_hits + stats.pool_misses, uint64_t{kThreads * kCycles});
  std::printf("%d lifecycles on %d threads: %llu pool hits, %llu built on the spot\n",
              kThreads * kCycles, kThreads, static_cast<unsigned long long>(stats.pool_hits),
              static_cast<unsigned long long>(stats.pool_misses));
  storage_.reset();
  EXPECT_TRUE(mountsAtOrUnder(root_).empty());
  EXPECT_TRUE(waitFor([&] { return loopsUnderRoot().empty(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(fs::is_empty(root_ / "mnt"));
  EXPECT_TRUE(fs::is_empty(root_ / "img"));
}

// A loop device attached the way an older or foreign run might have: no autoclear.
int attachWithoutAutoclear(const fs::path& file) {
  // Another process (a test running in parallel) may take the free device between the
  // two ioctls: try again, as loop_device.cc does.
  for (int attempt = 0; attempt < 20; ++attempt) {
    int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int number = ::ioctl(control, LOOP_CTL_GET_FREE);
    ::close(control);
    int backing = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
    int loop = ::open(("/dev/loop" + std::to_string(number)).c_str(), O_RDWR | O_CLOEXEC);
    loop_config config{};
    config.fd = static_cast<uint32_t>(backing);
    int rc = ::ioctl(loop, LOOP_CONFIGURE, &config);
    ::close(loop);
    ::close(backing);
    if (rc == 0) return number;
  }
  return -1;
}

TEST_F(ScratchTest, CleanupRemovesWhatACrashedRunLeft) {
  SKIP_UNLESS_LOOP();
  // The "previous run": a child that acquires a volume, writes, and dies without any
  // destructor (as under kill -9). Forked before this process has any other thread.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto storage = ScratchStorage::create(root_, smallOptions());
    if (!storage.ok() || !(*storage)->capped()) ::_exit(2);
    auto volume = (*storage)->acquire("i-crashed", 16, 0, 0);
    if (!volume.ok()) ::_exit(3);
    std::ofstream((*volume)->path() / "left") << "behind";
    volume->release();  // leak: no unmount
    storage->release();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) GTEST_SKIP() << "no loop-backed volumes";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_EQ(mountsAtOrUnder(root_ / "mnt").size(), 1u) << "the crash should leave a mount";
  // And a stale image attached without autoclear, plus a half-made template.
  {
    std::ofstream(root_ / "img" / "stale.img");
    fs::resize_file(root_ / "img" / "stale.img", 4 * kMiB);
    std::ofstream(root_ / "img" / "0123456789abcdef-template-512");
  }
  int stale = attachWithoutAutoclear(root_ / "img" / "stale.img");
  ASSERT_GE(stale, 0);
  ASSERT_EQ(loopsUnderRoot().size(), 2u);

  ASSERT_NO_FATAL_FAILURE(createLoopStorage(smallOptions()));  // runs cleanupLeftovers
  storage_->waitForReleases();  // the start-up probe volume, unpooled here

  EXPECT_TRUE(mountsAtOrUnder(root_).empty());
  EXPECT_TRUE(waitFor([&] { return loopsUnderRoot().empty(); }, std::chrono::seconds(2)));
  EXPECT_TRUE(fs::is_empty(root_ / "mnt"));
  EXPECT_TRUE(fs::is_empty(root_ / "img"));
  // Cleanup again spares this run's own volumes.
  auto mine = storage_->acquire("i-new", 16, 0, 0);
  ASSERT_TRUE(mine.ok());
  storage_->cleanupLeftovers();
  EXPECT_EQ(mountsAtOrUnder((*mine)->path()).size(), 1u);
}

// Reads "key N" from a cgroup file such as memory.oom_control (v1) or memory.events (v2).
int64_t cgroupCounter(const fs::path& file, const std::string& key) {
  std::ifstream in(file);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return -1;
}

// The reason for disk-backed /tmp: a 128 MB function fills a 512 MB /tmp to ENOSPC and is
// not OOM-killed. Its page cache is charged to its memcg, but stays reclaimable.
TEST_F(ScratchTest, FillingTmpPastTheMemoryLimitIsNotAnOomKill) {
  SKIP_UNLESS_LOOP();
  const fs::path v1 = "/sys/fs/cgroup/memory";
  if (!fs::exists(v1 / "memory.limit_in_bytes"))
    GTEST_SKIP() << "needs the cgroup v1 memory controller";
  ScratchOptions o = smallOptions();
  o.pool_sizes_mb = {512};
  ASSERT_NO_FATAL_FAILURE(createLoopStorage(o));
  auto volume = storage_->acquire("i-mem", 512, 65534, 65534);
  ASSERT_TRUE(volume.ok()) << volume.error().message;

  const fs::path cg = v1 / ("nimbus-scratch-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(fs::create_directory(cg));
  std::ofstream(cg / "memory.limit_in_bytes") << 128 * kMiB << std::flush;
  if (fs::exists(cg / "memory.memsw.limit_in_bytes")) {
    std::ofstream(cg / "memory.memsw.limit_in_bytes") << 128 * kMiB << std::flush;
  }
  // Fork with no other thread busy (the janitor may be wiping the start-up probe).
  storage_->waitForReleases();
  const std::string procs = (cg / "cgroup.procs").string();
  const fs::path target = (*volume)->path() / "fill";
  auto start = Clock::now();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(5);  // "0": the writer itself
    ::close(fd);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(4);
    int err = 0;
    int64_t written = fill(target, 600 * kMiB, &err);
    ::_exit(err == ENOSPC && written >= 512 * kMiB ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  double ms = msSince(start);
  int64_t peak = 0;
  std::ifstream(cg / "memory.max_usage_in_bytes") >> peak;
  int64_t oom_kills = cgroupCounter(cg / "memory.oom_control", "oom_kill");
  ::rmdir(cg.c_str());
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "expected ENOSPC after >= 512 MiB";
  EXPECT_EQ(oom_kills, 0);
  std::printf("128 MB memcg filled a 512 MB /tmp to ENOSPC in %.0f ms; memcg peak %.0f MiB\n", ms,
              static_cast<double>(peak) / kMiB);
}

TEST_F(ScratchTest, PlainDirectoryFallbackHasNoCapAndSaysSo) {
  ScratchOptions o = smallOptions();
  o.use_loop_devices = false;
  auto made = ScratchStorage::create(root_, o);
  ASSERT_TRUE(made.ok()) << made.error().message;
  storage_ = std::move(*made);
  EXPECT_FALSE(storage_->capped());
  EXPECT_NE(storage_->describe().find("NOT enforced"), std::string::npos) << storage_->describe();

  auto volume = storage_->acquire("i-plain", 16, ::getuid(), ::getgid());
  ASSERT_TRUE(volume.ok()) << volume.error().message;
  EXPECT_FALSE((*volume)->capped());
  struct stat st {};
  ASSERT_EQ(::stat((*volume)->path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  fs::create_directories((*volume)->path() / "a" / "b");
  std::ofstream((*volume)->path() / "a" / "b" / "f") << "x";
  const fs::path path = (*volume)->path();
  volume->reset();
  storage_->waitForReleases();
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(ScratchTest, FallbackCleanupRemovesLeftoverDirectories) {
  fs::create_directories(root_ / "mnt" / "feedfacefeedface-7" / "deep");
  std::ofstream(root_ / "mnt" / "feedfacefeedface-7" / "deep" / "f") << "x";
  ScratchOptions o = smallOptions();
  o.use_loop_devices = false;
  auto made = ScratchStorage::create(root_, o);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_TRUE(fs::is_empty(root_ / "mnt"));
}

// Prints, does not assert: the cost of one instance's /tmp on the cold-start path.
TEST_F(ScratchTest, PrintsAcquireReleaseTimesFor512MbVolumes) {
  SKIP_UNLESS_LOOP();
  constexpr int kRuns = 10;
  for (int depth : {0, 2}) {
    ScratchOptions o = smallOptions(depth);
    o.pool_sizes_mb = {512};
    storage_.reset();
    ASSERT_NO_FATAL_FAILURE(createLoopStorage(o));
    std::vector<double> acquire_ms, release_ms, wipe_ms;
    for (int i = 0; i < kRuns; ++i) {
      if (depth > 0) {
        ASSERT_TRUE(waitFor([&] { return storage_->stats().ready == static_cast<size_t>(depth); },
                            std::chrono::seconds(10)));
      }
      auto start = Clock::now();
      auto volume = storage_->acquire("i-time", 512, 1000, 1000);
      ASSERT_TRUE(volume.ok()) << volume.error().message;
      acquire_ms.push_back(msSince(start));
      auto released_at = Clock::now();
      volume->reset();
      release_ms.push_back(msSince(released_at));
      storage_->waitForReleases();
      wipe_ms.push_back(msSince(released_at));
    }
    std::printf(
        "512 MB volume, pool depth %d: median acquire %.2f ms, release %.3f ms "
        "(wiped after %.2f ms) over %d runs\n",
        depth, median(acquire_ms), median(release_ms), median(wipe_ms), kRuns);
  }
  // Wiping a volume with dirty data: the unmount writes it back first (on the janitor).
  std::vector<double> dirty_wipe_ms;
  for (int i = 0; i < 3; ++i) {
    auto volume = storage_->acquire("i-dirty", 512, 1000, 1000);
    ASSERT_TRUE(volume.ok());
    int err = 0;
    fill((*volume)->path() / "data", 64 * kMiB, &err);
    auto start = Clock::now();
    volume->reset();
    storage_->waitForReleases();
    dirty_wipe_ms.push_back(msSince(start));
  }
  std::printf("512 MB volume holding 64 MiB of unsynced data: wiped after %.1f ms (median)\n",
              median(dirty_wipe_ms));
}

}  // namespace
}  // namespace nimbus::sandbox
