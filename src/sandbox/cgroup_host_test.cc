// Tests against the real kernel (root only; skipped elsewhere): an OOM kill under a 64 MB
// limit, a fork loop stopped by pids.max, the CPU quota, clean-up of a previous run's
// groups, and cgroup v2's cgroup.kill on the machine's (controller-less) cgroup2.
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_hierarchy.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A child that waits (on a pipe) until the parent has put it in its group, then runs
// `body` and exits with what body returns.
class GatedChild {
 public:
  template <typename Body>
  explicit GatedChild(Body body) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (::read(fds[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body());
    }
    ::close(fds[0]);
    gate_ = fds[1];
  }
  ~GatedChild() {
    if (gate_ >= 0) ::close(gate_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void release() {
    char c = 'x';
    (void)!::write(gate_, &c, 1);
  }
  // Waits for the child; returns the wait status and its CPU time.
  int wait(double* cpu_seconds = nullptr) {
    int status = 0;
    rusage usage{};
    ::wait4(pid_, &status, 0, &usage);
    reaped_ = true;
    if (cpu_seconds != nullptr) {
      *cpu_seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                     (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    }
    return status;
  }

 private:
  pid_t pid_ = -1;
  int gate_ = -1;
  bool reaped_ = false;
};

class CgroupHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") ||
        !fs::exists("/sys/fs/cgroup/pids/cgroup.procs") ||
        !fs::exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")) {
      GTEST_SKIP() << "needs root and cgroup v1 memory, cpu and pids (the build machines)";
    }
    parent_ = "nimbus-test-" + std::to_string(::getpid());
    manager_ = makeManager();
    ASSERT_NE(manager_, nullptr);
  }

  void TearDown() override {
    if (parent_.empty()) return;  // skipped
    manager_.reset();
    for (const char* ctrl : {"memory", "cpu", "pids"}) {
      ::rmdir(("/sys/fs/cgroup/" + std::string(ctrl) + "/" + parent_).c_str());
    }
    ::rmdir(("/sys/fs/cgroup/unified/" + parent_).c_str());
    // Nothing of ours may be left under any hierarchy.
    for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup")) {
      for (const auto& entry : fs::directory_iterator(hierarchy.path())) {
        EXPECT_NE(entry.path().filename().string().rfind(parent_, 0), 0u)
            << "left behind: " << entry.path();
      }
    }
  }

  std::unique_ptr<CgroupManager> makeManager() {
    CgroupOptions options;
    options.parent_name = parent_;
    Result<std::unique_ptr<CgroupManager>> manager = makeCgroupManager(options);
    EXPECT_TRUE(manager.ok()) << manager.error().message;
    return manager.ok() ? std::move(*manager) : nullptr;
  }

  std::string parent_;
  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupHostTest, DetectsV1HereAndEnforcesEverything) {
  const std::string text = manager_->describe();
  EXPECT_EQ(text.rfind("cgroup v1 (memory at /sys/fs/cgroup/memory/" + parent_, 0), 0u) << text;
  EXPECT_TRUE(manager_->enforces(CgroupController::kMemory));
  EXPECT_TRUE(manager_->enforces(CgroupController::kCpu));
  EXPECT_TRUE(manager_->enforces(CgroupController::kPids));
  std::cout << "[ describe ] " << text << "\n";
}

TEST_F(CgroupHostTest, OutOfMemoryIsKilledAndCounted) {
  CgroupLimits limits;
  limits.memory_mb = 64;
  Result<std::unique_ptr<InstanceCgroup>> group = manager_->create("oom", limits);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(readText("/sys/fs/cgroup/memory/" + parent_ + "/oom/memory.limit_in_bytes"),
            "67108864\n");
  EXPECT_EQ((*group)->oomKillCount(), 0);

  GatedChild child([] {
    constexpr size_t kBytes = 200u << 20;
    void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 2;
    for (size_t at = 0; at < kBytes; at += 4096) static_cast<char*>(p)[at] = 1;
    return 0;  // survived: the limit did not hold
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE((*group)->attach(child.pid()).ok());
  child.release();
  int status = child.wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE((*group)->oomKillCount(), 1);
  EXPECT_GE((*group)->peakMemoryBytes(), 60 << 20);
  EXPECT_LE((*group)->peakMemoryBytes(), 64 << 20);
  ASSERT_TRUE((*group)->remove().ok());
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + parent_ + "/oom"));
}

TEST_F(CgroupHostTest, PidsLimitStopsAForkLoop) {
  CgroupLimits limits;
  limits.max_pids = 8;
  Result<std::unique_ptr<InstanceCgroup>> group = manager_->create("forks", limits);
  ASSERT_TRUE(group.ok()) << group.error().message;
  GatedChild child([] {
    int started = 0;
    for (int i = 0; i < 50; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) {
        ::pause();
        ::_exit(0);
      }
      if (pid > 0) ++started;
    }
    return started;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE((*group)->attach(child.pid()).ok());
  child.release();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);  // 8 minus the forking child itself
  // The grandchildren (now orphans) are still in the group: killAll must get them all.
  const std::string procs = "/sys/fs/cgroup/pids/" + parent_ + "/forks/cgroup.procs";
  EXPECT_FALSE(readText(procs).empty());
  // One call waits 250 ms for the killed to leave; seven dying ASan processes on a
  // loaded CI machine have taken longer, so a few more calls are allowed (still bounded:
  // a survivor fails the test).
  Result<void> killed = (*group)->killAll();
  for (int i = 0; i < 20 && !killed; ++i) killed = (*group)->killAll();
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_EQ(readText(procs), "");
}

TEST_F(CgroupHostTest, CpuQuotaHoldsABusyLoopToItsShare) {
  CgroupLimits limits;
  limits.memory_mb = 442;  // a quarter of a core
  Result<std::unique_ptr<InstanceCgroup>> group = manager_->create("cpu", limits);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(readText("/sys/fs/cgroup/cpu/" + parent_ + "/cpu/cpu.cfs_quota_us"), "24985\n");
  GatedChild child([] {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(600);
    volatile uint64_t spin = 0;
    while (std::chrono::steady_clock::now() < end) spin = spin + 1;
    return 0;
  });
  ASSERT_TRUE((*group)->attach(child.pid()).ok());
  child.release();
  double cpu = 0;
  child.wait(&cpu);
  // 0.25 of 0.6 s is 0.15 s; unthrottled it would be 0.6 s. Generous: other jobs share
  // this machine, and the first period may run before throttling starts.
  EXPECT_LT(cpu, 0.30);
  EXPECT_GT(cpu, 0.02);
}

TEST_F(CgroupHostTest, RestartRemovesAPreviousRunsGroupsAndProcesses) {
  // A previous run died (kill -9) leaving a group with a live process in every hierarchy.
  GatedChild orphan([] {
    ::pause();
    return 0;
  });
  ASSERT_GT(orphan.pid(), 0);
  for (const char* ctrl : {"memory", "cpu", "pids"}) {
    const std::string dir = "/sys/fs/cgroup/" + std::string(ctrl) + "/" + parent_ + "/stale";
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
    std::ofstream(dir + "/cgroup.procs") << orphan.pid();
  }
  orphan.release();
  manager_ = makeManager();
  ASSERT_NE(manager_, nullptr);
  int status = orphan.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_NE(manager_->describe().find("removed 3 leftover group(s)"), std::string::npos)
      << manager_->describe();
  for (const char* ctrl : {"memory", "cpu", "pids"}) {
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/" + std::string(ctrl) + "/" + parent_ + "/stale"));
  }
}

TEST_F(CgroupHostTest, ManyLifecyclesLeaveNothingBehind) {
  for (int i = 0; i < 200; ++i) {
    Result<std::unique_ptr<InstanceCgroup>> group =
        manager_->create("cycle-" + std::to_string(i), {});
    ASSERT_TRUE(group.ok()) << group.error().message;
    if (i % 20 == 0) {  // now and then with a process still running inside
      GatedChild child([] {
        ::pause();
        return 0;
      });
      ASSERT_TRUE((*group)->attach(child.pid()).ok());
      child.release();
      ASSERT_TRUE((*group)->remove().ok());  // kills it, then removes the groups
      int status = child.wait();
      EXPECT_TRUE(WIFSIGNALED(status));
    }
  }
  for (const std::string& dir : manager_->parentDirs()) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      EXPECT_FALSE(entry.is_directory()) << "left behind: " << entry.path();
    }
  }
}

// The machine's cgroup2 carries no controller of ours, but its groups still take
// processes and know cgroup.kill: the v2 kill and /proc path logic against a real kernel.
TEST_F(CgroupHostTest, RealCgroup2KillsAtOnce) {
  using namespace cgroup_internal;
  if (!fs::exists("/sys/fs/cgroup/unified/cgroup.procs")) GTEST_SKIP() << "no cgroup2 here";
  auto v2 = makeV2Hierarchy({CgroupVersion::kV2, "/sys/fs/cgroup/unified", "/", {}}, parent_);
  std::vector<std::string> limitations;
  ASSERT_TRUE(v2->prepare(&limitations).ok());
  const std::string dir = v2->groupDir("k");
  ASSERT_TRUE(makeGroupDir(dir, false).ok());
  GatedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE(writeCgroupFile(dir + "/cgroup.procs", std::to_string(child.pid())).ok());
  child.release();
  EXPECT_TRUE(
      v2->procCgroupMatches(readText("/proc/" + std::to_string(child.pid()) + "/cgroup"), "k"));
  ASSERT_TRUE(v2->killAtOnce(dir));
  int status = child.wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(::rmdir(dir.c_str()), 0);
}

}  // namespace
}  // namespace nimbus::sandbox
