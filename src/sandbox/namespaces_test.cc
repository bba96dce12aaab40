// Tests of the id maps the parent writes, against a fake /proc tree (the real maps and
// the child's drop to the sandbox user are exercised by sandbox_launcher_test).
#include "sandbox/namespaces.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(NamespacesTest, WritesOneLineMapsUnderProcRoot) {
  std::string tmpl = testing::TempDir() + "nimbus_ns_XXXXXX";
  std::string root = ::mkdtemp(tmpl.data());
  fs::create_directories(root + "/42");
  std::ofstream(root + "/42/uid_map");
  std::ofstream(root + "/42/gid_map");

  Result<void> r = writeIdMaps(root, 42, {993, 1879048192}, {990, 1879048193});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(root + "/42/uid_map"), "993 1879048192 1\n");
  EXPECT_EQ(slurp(root + "/42/gid_map"), "990 1879048193 1\n");

  r = writeIdMaps(root, 43, {993, 1}, {990, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno, ENOENT);
  EXPECT_NE(r.error().message.find("/43/uid_map"), std::string::npos) << r.error().message;
  fs::remove_all(root);
}

TEST(NamespacesTest, TheKernelRefusesAMapForAProcessWithoutNewUserNamespace) {
  // Our own user namespace already has its map: a second write fails loudly.
  Result<void> r = writeIdMaps("/proc", ::getpid(), {993, 100000}, {990, 100000});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().sys_errno, 0);
}

TEST(NamespacesTest, HostIdSlotsAreUniqueUntilReleased) {
  auto slots = std::make_shared<HostIdSlots>(2);
  std::optional<HostIdSlots::Lease> a(std::in_place, slots, *slots->acquire());
  HostIdSlots::Lease b(slots, *slots->acquire());
  EXPECT_NE(a->slot(), b.slot());
  EXPECT_FALSE(slots->acquire().has_value());
  int freed = a->slot();
  a.reset();
  std::optional<int> again = slots->acquire();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, freed);
}

}  // namespace
}  // namespace nimbus::sandbox
