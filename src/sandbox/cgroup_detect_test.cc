// Tests of cgroup detection on fixed mountinfo texts (pure v1 as on the build machines,
// pure v2, hybrids), the per-controller placement, and the CPU quota rule.
#include <algorithm>

#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_hierarchy.h"

namespace nimbus::sandbox::cgroup_internal {
namespace {

// The cgroup lines of /proc/self/mountinfo on the Debian 12 VM nimbus is built on, with
// the lines around them: v1 for every controller, a cgroup2 holding only hugetlb.
constexpr std::string_view kBuildMachine =
    "23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// A current systemd distribution: one cgroup2 at /sys/fs/cgroup, shared-propagation tags.
constexpr std::string_view kPureV2 =
    "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
    "26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

// Older systemd "hybrid": v1 controllers (cpu co-mounted with cpuacct) plus a cgroup2
// for systemd only, with optional fields before the separator.
constexpr std::string_view kSystemdHybrid =
    "25 24 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "26 24 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "30 24 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - "
    "cgroup cgroup rw,cpu,cpuacct\n"
    "31 24 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,memory\n"
    "33 24 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
    "cgroup rw,pids\n";

std::vector<CgroupController> all() {
  return {CgroupController::kMemory, CgroupController::kCpu, CgroupController::kPids};
}

const HierarchySpec* holderOf(const Placement& p, CgroupController c) {
  for (const HierarchySpec& h : p.hierarchies) {
    if (std::find(h.controllers.begin(), h.controllers.end(), c) != h.controllers.end()) {
      return &h;
    }
  }
  return nullptr;
}

TEST(CgroupDetectTest, ParsesTheBuildMachine) {
  std::vector<CgroupMount> mounts = parseCgroupMounts(kBuildMachine);
  ASSERT_EQ(mounts.size(), 10u);  // the tmpfs and sysfs lines are not cgroups
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(mounts[0].root, "/");
  EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"cpu"});
  EXPECT_TRUE(mounts[8].controllers.empty());  // name=systemd is no controller
  EXPECT_EQ(mounts[9].version, CgroupVersion::kV2);
  EXPECT_EQ(mounts[9].mount_point, "/sys/fs/cgroup/unified");
}

TEST(CgroupDetectTest, BuildMachinePlacesEverythingOnV1) {
  Placement p = placeControllers(parseCgroupMounts(kBuildMachine), "hugetlb\n");
  EXPECT_TRUE(p.limitations.empty());
  ASSERT_EQ(p.hierarchies.size(), 3u);
  for (CgroupController c : all()) {
    const HierarchySpec* h = holderOf(p, c);
    ASSERT_NE(h, nullptr) << controllerName(c);
    EXPECT_EQ(h->version, CgroupVersion::kV1);
    EXPECT_EQ(h->mount_point, std::string("/sys/fs/cgroup/") + controllerName(c));
  }
}

TEST(CgroupDetectTest, PureV2PlacesEverythingOnTheUnifiedMount) {
  Placement p =
      placeControllers(parseCgroupMounts(kPureV2), "cpuset cpu io memory hugetlb pids rdma misc\n");
  EXPECT_TRUE(p.limitations.empty());
  ASSERT_EQ(p.hierarchies.size(), 1u);
  EXPECT_EQ(p.hierarchies[0].version, CgroupVersion::kV2);
  EXPECT_EQ(p.hierarchies[0].mount_point, "/sys/fs/cgroup");
  EXPECT_EQ(p.hierarchies[0].controllers, all());
}

TEST(CgroupDetectTest, V2WithoutAControllerReportsIt) {
  Placement p = placeControllers(parseCgroupMounts(kPureV2), "memory pids\n");
  ASSERT_EQ(p.hierarchies.size(), 1u);
  EXPECT_EQ(holderOf(p, CgroupController::kCpu), nullptr);
  ASSERT_EQ(p.limitations.size(), 1u);
  EXPECT_NE(p.limitations[0].find("cpu: no cgroup hierarchy"), std::string::npos);
  EXPECT_NE(p.limitations[0].find("no CPU quota"), std::string::npos);
}

TEST(CgroupDetectTest, SystemdHybridUsesV1AndCoMountedCpu) {
  // The cgroup2 has no controllers of ours: everything stays on v1.
  Placement p = placeControllers(parseCgroupMounts(kSystemdHybrid), "");
  EXPECT_TRUE(p.limitations.empty());
  const HierarchySpec* cpu = holderOf(p, CgroupController::kCpu);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->version, CgroupVersion::kV1);
  EXPECT_EQ(cpu->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(CgroupDetectTest, ControllerByControllerMix) {
  // memory was left to cgroup2 (e.g. systemd.unified_cgroup_hierarchy with v1 cpu/pids):
  // each controller goes where the kernel bound it.
  std::string text = std::string(kSystemdHybrid);
  text.erase(text.find("31 24"), text.find("33 24") - text.find("31 24"));
  Placement p = placeControllers(parseCgroupMounts(text), "memory io\n");
  EXPECT_TRUE(p.limitations.empty());
  ASSERT_NE(holderOf(p, CgroupController::kMemory), nullptr);
  EXPECT_EQ(holderOf(p, CgroupController::kMemory)->version, CgroupVersion::kV2);
  EXPECT_EQ(holderOf(p, CgroupController::kMemory)->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(holderOf(p, CgroupController::kCpu)->version, CgroupVersion::kV1);
  EXPECT_EQ(holderOf(p, CgroupController::kPids)->version, CgroupVersion::kV1);
}

TEST(CgroupDetectTest, NoCgroupsAtAll) {
  Placement p = placeControllers(parseCgroupMounts("22 1 0:21 / /sys rw - sysfs sysfs rw\n"), "");
  EXPECT_TRUE(p.hierarchies.empty());
  EXPECT_EQ(p.limitations.size(), 3u);
}

TEST(CgroupDetectTest, UnescapesPathsAndKeepsTheRoot) {
  std::vector<CgroupMount> mounts = parseCgroupMounts(
      "40 31 0:37 /docker/abc /my\\040cgroups/mem\\134x rw - cgroup cgroup rw,memory\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, "/my cgroups/mem\\x");
  EXPECT_EQ(mounts[0].root, "/docker/abc");
}

TEST(CgroupDetectTest, SkipsMalformedLinesAndKeepsTheFirstOfTwoMounts) {
  std::vector<CgroupMount> mounts = parseCgroupMounts(
      "garbage\n"
      "1 2 3 - cgroup cgroup rw,memory\n"  // too few fields before the separator
      "35 31 0:32 / /a rw,relatime - cgroup cgroup rw,memory\n"
      "36 31 0:32 / /b rw,relatime - cgroup cgroup rw,memory\n");
  ASSERT_EQ(mounts.size(), 2u);
  Placement p = placeControllers(mounts, "");
  EXPECT_EQ(holderOf(p, CgroupController::kMemory)->mount_point, "/a");
}

TEST(CgroupParseTest, KernelFileFormats) {
  EXPECT_EQ(parseCgroupInt("268435456\n"), 268435456);
  EXPECT_EQ(parseCgroupInt("max\n"), std::nullopt);
  EXPECT_EQ(parseCgroupInt("max 100000\n"), std::nullopt);
  EXPECT_EQ(parseCgroupInt("25000 100000\n"), 25000);
  EXPECT_EQ(parseKeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), 3);
  EXPECT_EQ(
      parseKeyedValue("low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 1\n", "oom_kill"),
      1);
  EXPECT_EQ(parseKeyedValue("oom_kill_disable 0\n", "oom_kill"), std::nullopt);
  EXPECT_EQ(parsePids("12\n345\n"), (std::vector<pid_t>{12, 345}));
  EXPECT_TRUE(parsePids("").empty());
  EXPECT_TRUE(listHas("cpuset cpu io memory\n", "cpu"));
  EXPECT_FALSE(listHas("cpuset io memory\n", "cpu"));
  EXPECT_TRUE(listHas("+memory +pids", "pids"));
}

TEST(CgroupProcPathTest, MatchesTheRightHierarchyLine) {
  auto v1 = makeV1Hierarchy(
      {CgroupVersion::kV1, "/sys/fs/cgroup/cpu,cpuacct", "/", {CgroupController::kCpu}}, "nimbus");
  const char* text = "5:cpu,cpuacct:/nimbus/i-1\n4:memory:/process_api/x\n0::/\n";
  EXPECT_TRUE(v1->procCgroupMatches(text, "i-1"));
  EXPECT_FALSE(v1->procCgroupMatches(text, "i-2"));
  EXPECT_FALSE(v1->procCgroupMatches("4:memory:/nimbus/i-1\n", "i-1"));
  auto v2 = makeV2Hierarchy({CgroupVersion::kV2, "/sys/fs/cgroup", "/", {}}, "nimbus");
  EXPECT_TRUE(v2->procCgroupMatches("0::/nimbus/i-1\n", "i-1"));
  EXPECT_FALSE(v2->procCgroupMatches(text, "i-1"));
  // A hierarchy mounted from a sub-group (a container's view) prefixes that group.
  auto sub = makeV2Hierarchy({CgroupVersion::kV2, "/sys/fs/cgroup", "/docker/abc/", {}}, "n");
  EXPECT_EQ(sub->procCgroupPath("i"), "/docker/abc/n/i");
}

}  // namespace
}  // namespace nimbus::sandbox::cgroup_internal

namespace nimbus::sandbox {
namespace {

TEST(CpuQuotaTest, ProportionalToMemoryAsInLambda) {
  EXPECT_EQ(cpuQuotaForMemory(1769, 0), 100000);        // one full core
  EXPECT_EQ(cpuQuotaForMemory(885, 0), 50028);          // about half
  EXPECT_EQ(cpuQuotaForMemory(128, 0), 7235);           // Lambda's smallest: 1/14 core
  EXPECT_EQ(cpuQuotaForMemory(3538, 4), 200000);        // two cores
  EXPECT_EQ(cpuQuotaForMemory(10240, 2), 200000);       // capped at the host's cores
  EXPECT_EQ(cpuQuotaForMemory(10240, 0), 578858);       // no cap known
  EXPECT_EQ(cpuQuotaForMemory(16, 2), 100000 / 64);     // floor: 1/64 core
  EXPECT_EQ(cpuQuotaForMemory(16, 2, 10000), 1000);     // never under the kernel's 1 ms
  EXPECT_EQ(cpuQuotaForMemory(1769, 0, 50000), 50000);  // other periods scale too
}

}  // namespace
}  // namespace nimbus::sandbox
