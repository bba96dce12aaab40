// Tests of the cgroup v2 path against a temporary directory laid out like cgroupfs: what
// start-up enables and probes, the limit files an instance gets, peak, own memory and OOM
// parsing.
#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_testing.h"

namespace nimbus::sandbox {
namespace {

using testing::FakeCgroupTree;

constexpr char kParent[] = "nimbus-test";

class CgroupV2FakeTest : public ::testing::Test {
 protected:
  // The root and our parent group as a 6.x kernel shows them (the parent as a previous run
  // left it, so start-up finds it there).
  void layOutKernel(bool modern = true) {
    tree_.write("cg/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    tree_.write("cg/cgroup.subtree_control", "\n");
    tree_.write("cg/cgroup.procs", "1\n");
    const std::string p = std::string("cg/") + kParent + "/";
    tree_.write(p + "cgroup.controllers", "cpu memory pids\n");
    tree_.write(p + "cgroup.subtree_control", "\n");
    tree_.write(p + "cgroup.procs", "");
    tree_.write(p + "memory.max", "max\n");
    tree_.write(p + "memory.current", "0\n");
    tree_.write(p + "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    tree_.write(p + "cpu.max", "max 100000\n");
    tree_.write(p + "pids.max", "max\n");
    if (modern) {
      tree_.write(p + "memory.swap.max", "max\n");
      tree_.write(p + "memory.oom.group", "0\n");
      tree_.write(p + "memory.peak", "0\n");
      tree_.write(p + "cgroup.kill", "");
    }
  }

  std::unique_ptr<CgroupManager> detect() {
    CgroupOptions options;
    options.mountinfo_path = tree_.writeMountinfo(
        "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
        "26 22 0:23 / " +
        tree_.path("cg") +
        " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
    options.parent_name = kParent;
    options.host_cpus = 4;
    options.proc_root = tree_.path("proc");
    Result<std::unique_ptr<CgroupManager>> manager = makeCgroupManager(options);
    EXPECT_TRUE(manager.ok()) << manager.error().message;
    return manager.ok() ? std::move(*manager) : nullptr;
  }

  std::string inst(const std::string& file) const {
    return std::string("cg/") + kParent + "/i-1/" + file;
  }

  FakeCgroupTree tree_;
};

TEST_F(CgroupV2FakeTest, StartEnablesControllersAndSaysV2) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_EQ(tree_.read("cg/cgroup.subtree_control"), "+memory +cpu +pids");
  EXPECT_EQ(tree_.read(std::string("cg/") + kParent + "/cgroup.subtree_control"),
            "+memory +cpu +pids");
  const std::string text = manager->describe();
  EXPECT_NE(text.find("cgroup v2 (memory at " + tree_.path("cg/nimbus-test")), std::string::npos)
      << text;
  EXPECT_NE(text.find("every limit enforced"), std::string::npos) << text;
  EXPECT_TRUE(manager->limitations().empty());
  EXPECT_TRUE(manager->enforces(CgroupController::kMemory));
  EXPECT_TRUE(manager->enforces(CgroupController::kCpu));
  EXPECT_TRUE(manager->enforces(CgroupController::kPids));
  EXPECT_EQ(manager->parentDirs(), std::vector<std::string>{tree_.path("cg/nimbus-test")});
}

TEST_F(CgroupV2FakeTest, ControllersAlreadyEnabledAreLeftAlone) {
  layOutKernel();
  tree_.write("cg/cgroup.subtree_control", "cpuset cpu io memory pids\n");
  ASSERT_NE(detect(), nullptr);
  EXPECT_EQ(tree_.read("cg/cgroup.subtree_control"), "cpuset cpu io memory pids\n");
}

TEST_F(CgroupV2FakeTest, CreateWritesTheLimits) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  CgroupLimits limits;
  limits.memory_mb = 256;
  limits.max_pids = 64;
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", limits);
  ASSERT_TRUE(group.ok()) << group.error().message;
  EXPECT_EQ(tree_.read(inst("memory.max")), "268435456");
  EXPECT_EQ(tree_.read(inst("memory.swap.max")), "0");
  EXPECT_EQ(tree_.read(inst("memory.oom.group")), "1");
  EXPECT_EQ(tree_.read(inst("cpu.max")), "14471 100000");  // 256/1769 of a core
  EXPECT_EQ(tree_.read(inst("pids.max")), "64");
  EXPECT_EQ((*group)->instanceId(), "i-1");

  ASSERT_TRUE((*group)->attach(4242).ok());
  EXPECT_EQ(tree_.read(inst("cgroup.procs")), "4242");
}

TEST_F(CgroupV2FakeTest, ExplicitCpuQuotaWins) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  CgroupLimits limits;
  limits.cpu_quota_us = 30000;
  limits.cpu_period_us = 50000;
  ASSERT_TRUE(manager->create("i-1", limits).ok());
  EXPECT_EQ(tree_.read(inst("cpu.max")), "30000 50000");
}

TEST_F(CgroupV2FakeTest, ReadsPeakAndOomKillsAsTheKernelWritesThem) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  tree_.write(inst("memory.peak"), "123456789\n");
  tree_.write(inst("memory.events"),
              "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 1\n");
  EXPECT_EQ((*group)->peakMemoryBytes(), 123456789);
  EXPECT_EQ((*group)->oomKillCount(), 1);
}

// Max Memory Used: anon + shmem + kernel, never the page cache ("file") of a full /tmp.
TEST_F(CgroupV2FakeTest, UsedMemoryLeavesPageCacheOut) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  tree_.write(inst("memory.peak"), "134217728\n");  // 128 MiB: /tmp's cache filled the group
  tree_.write(inst("memory.stat"),
              "anon 20971520\nfile 111149056\nkernel 2097152\nkernel_stack 65536\n"
              "shmem 1048576\nfile_mapped 4194304\nslab 1048576\n");
  tree_.write(inst("cgroup.procs"), "");
  EXPECT_EQ((*group)->usedMemoryBytes(), 20971520 + 1048576 + 2097152);
  // Less held later: the largest sample stays.
  tree_.write(inst("memory.stat"), "anon 1048576\nfile 0\nkernel 1048576\nshmem 0\n");
  EXPECT_EQ((*group)->usedMemoryBytes(), 20971520 + 1048576 + 2097152);
  EXPECT_EQ((*group)->peakMemoryBytes(), 134217728);
}

// A process's own high-water mark (VmHWM) catches a peak between two samples.
TEST_F(CgroupV2FakeTest, UsedMemoryTakesTheProcessesPeakRss) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  tree_.write(inst("memory.peak"), "104857600\n");
  tree_.write(inst("memory.stat"), "anon 10485760\nfile 0\nkernel 0\nshmem 0\n");
  tree_.write(inst("cgroup.procs"), "41\n42\n");
  tree_.write("proc/41/status", "Name:\tnimbus-init\nVmHWM:\t    1024 kB\n");
  tree_.write("proc/42/status", "Name:\tpython3\nVmHWM:\t   61440 kB\n");
  EXPECT_EQ((*group)->usedMemoryBytes(), (1024 + 61440) * 1024);
  // Never above the group's own peak (shared pages count once per process in VmHWM).
  tree_.write("proc/42/status", "Name:\tpython3\nVmHWM:\t  204800 kB\n");
  EXPECT_EQ((*group)->usedMemoryBytes(), 104857600);
}

// Kernels before 5.18 have no "kernel" line: its parts are summed.
TEST_F(CgroupV2FakeTest, UsedMemoryOnOlderKernelsSumsKernelParts) {
  layOutKernel(/*modern=*/false);
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  tree_.write(inst("memory.current"), "999999999\n");
  tree_.write(inst("memory.stat"),
              "anon 1000\nfile 5000000\nkernel_stack 10\npagetables 20\npercpu 30\n"
              "shmem 40\nslab_reclaimable 50\nslab_unreclaimable 60\n");
  EXPECT_EQ((*group)->usedMemoryBytes(), 1000 + 10 + 20 + 30 + 40 + 50 + 60);
}

// v2 moves processes, not threads: the child is attached after clone instead.
TEST_F(CgroupV2FakeTest, ThreadDoesNotEnterOnV2) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  EXPECT_FALSE((*group)->enterCurrentThread());
  EXPECT_FALSE(tree_.exists(inst("tasks")));
  EXPECT_FALSE(tree_.exists(inst("cgroup.threads")));
}

TEST_F(CgroupV2FakeTest, KillAllUsesCgroupKill) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  tree_.write(inst("cgroup.procs"), "");  // the kernel emptied the group
  ASSERT_TRUE((*group)->killAll().ok());
  EXPECT_EQ(tree_.read(inst("cgroup.kill")), "1");
}

TEST_F(CgroupV2FakeTest, OlderKernelIsDescribedAndSampled) {
  layOutKernel(/*modern=*/false);
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  const std::string text = manager->describe();
  EXPECT_NE(text.find("cannot enforce"), std::string::npos) << text;
  EXPECT_NE(text.find("swap: not limited"), std::string::npos) << text;
  EXPECT_NE(text.find("memory.peak missing"), std::string::npos) << text;
  EXPECT_NE(text.find("memory.oom.group missing"), std::string::npos) << text;
  // Memory itself is still limited.
  EXPECT_TRUE(manager->enforces(CgroupController::kMemory));

  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  EXPECT_FALSE(tree_.exists(inst("memory.swap.max")));  // never invent files
  EXPECT_FALSE(tree_.exists(inst("memory.oom.group")));
  tree_.write(inst("memory.current"), "100\n");
  EXPECT_EQ((*group)->peakMemoryBytes(), 100);
  tree_.write(inst("memory.current"), "50\n");
  EXPECT_EQ((*group)->peakMemoryBytes(), 100);
  tree_.write(inst("memory.current"), "200\n");
  EXPECT_EQ((*group)->peakMemoryBytes(), 200);
}

TEST_F(CgroupV2FakeTest, MissingControllerIsReportedNotFatal) {
  layOutKernel();
  tree_.write("cg/cgroup.controllers", "memory pids\n");  // cpu bound elsewhere / absent
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_FALSE(manager->enforces(CgroupController::kCpu));
  EXPECT_NE(manager->describe().find("cpu: no cgroup hierarchy"), std::string::npos);
  EXPECT_EQ(tree_.read("cg/cgroup.subtree_control"), "+memory +pids");
  ASSERT_TRUE(manager->create("i-1", {}).ok());
  EXPECT_FALSE(tree_.exists(inst("cpu.max")));
}

TEST_F(CgroupV2FakeTest, UnusableSubtreeControlDropsEverything) {
  layOutKernel();
  std::filesystem::remove(tree_.path("cg/cgroup.subtree_control"));
  tree_.mkdir("cg/cgroup.subtree_control");  // unreadable as a file
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_NE(manager->describe().find("no cgroups"), std::string::npos) << manager->describe();
  EXPECT_EQ(manager->limitations().size(), 3u);
  // Without cgroups an instance still gets an (empty) group: attach is a no-op.
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_TRUE(group.ok());
  EXPECT_TRUE((*group)->attach(1).ok());
  EXPECT_EQ((*group)->peakMemoryBytes(), 0);
  EXPECT_EQ((*group)->usedMemoryBytes(), 0);
}

TEST_F(CgroupV2FakeTest, LeftoverGroupsAreRemovedAtStart) {
  layOutKernel();
  tree_.mkdir(std::string("cg/") + kParent + "/old-instance");  // empty, as rmdir needs
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  EXPECT_FALSE(tree_.exists(std::string("cg/") + kParent + "/old-instance"));
  EXPECT_NE(manager->describe().find("removed 1 leftover group"), std::string::npos);
}

TEST_F(CgroupV2FakeTest, BadNamesAndLimitsAreRefused) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  for (const char* bad : {"", "..", "a/b", "memory.max", "x y"}) {
    Result<std::unique_ptr<InstanceCgroup>> group = manager->create(bad, {});
    ASSERT_FALSE(group.ok()) << bad;
    EXPECT_EQ(group.error().code, ErrorCode::kInvalidParameter);
  }
  CgroupLimits limits;
  limits.memory_mb = 0;
  EXPECT_FALSE(manager->create("i-1", limits).ok());
  limits = {};
  limits.cpu_period_us = 10;
  EXPECT_FALSE(manager->create("i-1", limits).ok());

  CgroupOptions options;
  options.parent_name = "../etc";
  EXPECT_FALSE(makeCgroupManager(options).ok());
  options.parent_name = "nimbus";
  options.mountinfo_path = tree_.path("no-such-mountinfo");
  Result<std::unique_ptr<CgroupManager>> missing = makeCgroupManager(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sys_errno, ENOENT);
}

TEST_F(CgroupV2FakeTest, CreateRefusesAnExistingGroup) {
  layOutKernel();
  std::unique_ptr<CgroupManager> manager = detect();
  ASSERT_NE(manager, nullptr);
  tree_.mkdir(std::string("cg/") + kParent + "/i-1");
  Result<std::unique_ptr<InstanceCgroup>> group = manager->create("i-1", {});
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().sys_errno, EEXIST);
}

}  // namespace
}  // namespace nimbus::sandbox
