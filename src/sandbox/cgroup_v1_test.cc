// Tests of the cgroup v1 path against a temporary directory laid out like the build
// machines' cgroupfs, including the pid-reuse guard when killing one pid at a time.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_testing.h"

namespace nimbus::sandbox {
namespace {

using testing::FakeCgroupTree;

constexpr char kParent[] = "nimbus-test";

class CgroupV1FakeTest : public ::testing::Test {
 protected:
  void layOutKernel(bool memsw = true) {
    const std::string p = std::string("/") + kParent + "/";
    tree_.write("memory" + p + "memory.limit_in_bytes", "9223372036854771712\n");
    if (memsw) tree_.write("memory" + p + "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    tree_.write("memory" + p + "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    tree_.write("memory" + p + "memory.swappiness", "60\n");
    tree_.write("cpu,cpuacct" + p + "cpu.cfs_quota_us", "-1\n");
    tree_.write("cpu,cpuacct" + p + "cpu.cfs_period_us", "100000\n");
    tree_.write("pids" + p + "pids.max", "max\n");
  }

  std::unique_ptr<CgroupManager> detect() {
    auto line = [&](int id, const std::string& dir, const std::string& opts) {
      return std::to_string(id) + " 31 0:" + std::to_string(id) + " / " + tree_.path(dir) +
             " rw,nosuid,nodev,noexec,relatime shared:" + std::to_string(id) +
             " - cgroup cgroup rw," + opts + "\n";
    };
    CgroupOptions options;
    options.mountinfo_path =
        tree_.writeMountinfo("31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
                             line(32, "cpu,cpuacct", "cpu,cpuacct") + line(35, "memory", "memory") +
                             line(39, "pids", "pids") + line(40, "systemd", "xattr,name=systemd"));
    options.parent_name = kParent;
    options.host_cpus = 2;
    options.proc_root = tree_.path("proc");
    Result<std::unique_ptr<CgroupManager>> manager = makeCgroupManager(options);
    EXPECT_TRUE(manager.ok()) << manager.error().message;
    return manager.ok() ? std::move(*manager) : nullptr;
  }

  std::string inst(const std::string& ctrl, const std::string& file) const {
    return ctrl + "/" + kParent + "/i-1/" + file;
  }

  FakeCgroupTree tree_;
};

TEST_F(CgroupV1FakeTest, DescribesV1) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  const std::string text = manager->describe();
  EXPECT_EQ(text.rfind("cgroup v1 (memory at " + tree_.path("memory/nimbus-test") + ", cpu at " +
                           tree_.path("cpu,cpuacct/nimbus-test") + ", pids at " +
                           tree_.path("pids/nimbus-test") + ")",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("every limit enforced"), std::string::npos) << text;
  EXPECT_EQ(manager->parentDirs().size(), 3u);
}

TEST_F(CgroupV1FakeTest, CreateWritesTheLimits) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  CgroupLimits limits;
  limits.memory_mb = 512;
  limits.max_pids = 100;
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", limits);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(tree_.read(inst("memory", "memory.limit_in_bytes")), "536870912");
  EXPECT_EQ(tree_.read(inst("memory", "memory.memsw.limit_in_bytes")), "536870912");
  EXPECT_FALSE(tree_.exists(inst("memory", "memory.swappiness")));
  EXPECT_EQ(tree_.read(inst("cpu,cpuacct", "cpu.cfs_period_us")), "100000");
  EXPECT_EQ(tree_.read(inst("cpu,cpuacct", "cpu.cfs_quota_us")), "28942");
  EXPECT_EQ(tree_.read(inst("pids", "pids.max")), "100");

  ASSERT_TRUE((*group)->attach(777).ok());
  for (const char* ctrl : {"memory", "cpu,cpuacct", "pids"}) {
    EXPECT_EQ(tree_.read(inst(ctrl, "cgroup.procs")), "777") << ctrl;
  }
  tree_.write(inst("memory", "memory.max_usage_in_bytes"), "67108864\n");
  tree_.write(inst("memory", "memory.oom_control"),
              "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_EQ((*group)->peakMemoryBytes(), 67108864);
  EXPECT_EQ((*group)->oomKillCount(), 2);
  // Own memory: rss (huge pages are part of it) + shmem + kernel, not the page cache.
  tree_.write(inst("memory", "memory.stat"),
              "cache 60000000\nrss 4000000\nrss_huge 2097152\nshmem 0\n"
              "total_cache 60000000\ntotal_rss 4000000\ntotal_rss_huge 2097152\n"
              "total_shmem 100000\n");
  tree_.write(inst("memory", "memory.kmem.usage_in_bytes"), "500000\n");
  tree_.write(inst("memory", "cgroup.procs"), "");
  EXPECT_EQ((*group)->usedMemoryBytes(), 4000000 + 100000 + 500000);
}

// The launching thread moves itself ("0" to tasks: no global lock) in for the clone and
// out to our parent group after it, in every hierarchy.
TEST_F(CgroupV1FakeTest, ThreadEntersForTheCloneAndLeavesToTheParent) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  ASSERT_TRUE((*group)->enterCurrentThread());
  for (const char* ctrl : {"memory", "cpu,cpuacct", "pids"}) {
    EXPECT_EQ(tree_.read(inst(ctrl, "tasks")), "0") << ctrl;
    EXPECT_FALSE(tree_.exists(std::string(ctrl) + "/" + kParent + "/tasks")) << ctrl;
  }
  ASSERT_TRUE((*group)->leaveCurrentThread().ok());
  for (const char* ctrl : {"memory", "cpu,cpuacct", "pids"}) {
    EXPECT_EQ(tree_.read(std::string(ctrl) + "/" + kParent + "/tasks"), "0") << ctrl;
  }
}

TEST_F(CgroupV1FakeTest, WithoutSwapAccountingUsesSwappinessAndSaysSo) {
  layOutKernel(/*memsw=*/false);
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_NE(manager->describe().find("swap: not limited"), std::string::npos);
  ASSERT_TRUE(manager->create("i-1", {}).ok());
  EXPECT_EQ(tree_.read(inst("memory", "memory.swappiness")), "0");
  EXPECT_FALSE(tree_.exists(inst("memory", "memory.memsw.limit_in_bytes")));
}

TEST_F(CgroupV1FakeTest, KernelWithoutCfsBandwidthLosesCpuOnly) {
  layOutKernel();
  std::filesystem::remove(tree_.path(std::string("cpu,cpuacct/") + kParent + "/cpu.cfs_quota_us"));
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_FALSE(manager->enforces(CgroupController::kCpu));
  EXPECT_TRUE(manager->enforces(CgroupController::kMemory));
  EXPECT_NE(manager->describe().find("cpu: cpu.cfs_quota_us missing"), std::string::npos);
  EXPECT_EQ(manager->parentDirs().size(), 2u);
}

pid_t startSleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST_F(CgroupV1FakeTest, KillsOnlyProcessesThatAreReallyInTheGroup) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  // Two real processes listed in the (fake) group; /proc says only `inside` belongs to
  // it. `outside` stands for a pid reused by an unrelated process.
  pid_t inside = startSleeper();
  pid_t outside = startSleeper();
  ASSERT_GT(inside, 0);
  ASSERT_GT(outside, 0);
  tree_.write(inst("pids", "cgroup.procs"),
              std::to_string(inside) + "\n" + std::to_string(outside) + "\n");
  tree_.write("proc/" + std::to_string(inside) + "/cgroup",
              "9:pids:/nimbus-test/i-1\n5:cpu,cpuacct:/nimbus-test/i-1\n0::/\n");
  tree_.write("proc/" + std::to_string(outside) + "/cgroup",
              "9:pids:/user.slice\n5:cpu,cpuacct:/\n0::/\n");

  Result<void> killed = (*group)->killAll();
  // The fake cgroup.procs never empties, so killAll gives up and says so.
  ASSERT_FALSE(killed.ok());
  EXPECT_NE(killed.error().message.find("still in"), std::string::npos);

  int status = 0;
  ASSERT_EQ(::waitpid(inside, &status, 0), inside);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(::waitpid(outside, &status, WNOHANG), 0) << "an unrelated process was killed";
  ::kill(outside, SIGKILL);
  ::waitpid(outside, &status, 0);
}

}  // namespace
}  // namespace nimbus::sandbox
