// Tests of the host side of the minimal root: the skeleton folder and the mount plan
// (the child side is exercised by sandbox_launcher_test).
#include "sandbox/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "nimbus_mounts_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const MountPlan::Op* findTarget(const MountPlan& plan, const std::string& target) {
  for (const MountPlan::Op& op : plan.ops) {
    if (op.target == target) return &op;
  }
  return nullptr;
}

TEST(MountsTest, SkeletonHasMountPointsEtcAndHostSymlinks) {
  TempDir tmp;
  std::string root = tmp.path() + "/root";
  Result<RootTemplate> t = RootTemplate::prepare(root, {});
  ASSERT_TRUE(t.ok()) << t.error().message;

  for (const char* dir : {"usr", "etc", "var/task", "var/runtime", "tmp", "proc", "dev/shm"}) {
    EXPECT_TRUE(fs::is_directory(fs::path(root) / dir)) << dir;
  }
  for (const char* file : {"dev/null", "dev/urandom", "dev/tty"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(root) / file)) << file;
  }
  EXPECT_EQ(fs::read_symlink(fs::path(root) / "dev/fd"), "/proc/self/fd");
  EXPECT_EQ(fs::read_symlink(fs::path(root) / "etc/localtime"), "/usr/share/zoneinfo/Etc/UTC");
  // /bin is whatever the host has: a symlink into /usr on Debian 12, else a folder.
  if (fs::is_symlink("/bin")) {
    EXPECT_EQ(fs::read_symlink(fs::path(root) / "bin"), fs::read_symlink("/bin"));
  } else {
    EXPECT_TRUE(fs::is_directory(fs::path(root) / "bin"));
  }
  EXPECT_NE(slurp(fs::path(root) / "etc/passwd").find("sbx_user1051:x:993:990::/tmp:"),
            std::string::npos);
  EXPECT_NE(slurp(fs::path(root) / "etc/group").find("sbx_user1051:x:990:"), std::string::npos);
  EXPECT_NE(slurp(fs::path(root) / "etc/hosts").find("127.0.0.1\tlocalhost"), std::string::npos);
  // Nothing of the host's /etc beyond what is bound.
  EXPECT_FALSE(fs::exists(fs::path(root) / "etc/shadow"));
  EXPECT_FALSE(fs::exists(fs::path(root) / "etc/ssl/private"));
  struct stat st;
  ASSERT_EQ(::stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  // Preparing again (a restart) succeeds and changes nothing that matters.
  Result<RootTemplate> again = RootTemplate::prepare(root, {});
  EXPECT_TRUE(again.ok()) << again.error().message;
}

TEST(MountsTest, PlanBindsCodeReadOnlyAndTmpAsTmpfsOrScratch) {
  TempDir tmp;
  std::string root = tmp.path() + "/root";
  std::string code = tmp.path() + "/code";
  fs::create_directories(code);
  fs::permissions(code, fs::perms(0755));
  Result<RootTemplate> t = RootTemplate::prepare(root, {});
  ASSERT_TRUE(t.ok()) << t.error().message;

  Result<MountPlan> plan = t->plan({code, "", "", 100, 8});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const MountPlan::Op* task = findTarget(*plan, root + "/var/task");
  ASSERT_NE(task, nullptr);
  EXPECT_EQ(task->source, code);
  EXPECT_EQ(task->flags, static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_TRUE(task->remount_flags & MS_RDONLY);
  EXPECT_TRUE(task->remount_flags & MS_NOSUID);
  const MountPlan::Op* tmpfs = findTarget(*plan, root + "/tmp");
  ASSERT_NE(tmpfs, nullptr);
  EXPECT_EQ(tmpfs->fstype, "tmpfs");
  EXPECT_EQ(tmpfs->data, "mode=1777,size=100m");
  EXPECT_EQ(findTarget(*plan, root + "/var/runtime"), nullptr);  // none asked for
  const MountPlan::Op* shm = findTarget(*plan, root + "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ(shm->data, "mode=1777,size=8m");
  const MountPlan::Op* proc = findTarget(*plan, root + "/proc");
  ASSERT_NE(proc, nullptr);
  EXPECT_EQ(proc->fstype, "proc");
  const MountPlan::Op* usr = findTarget(*plan, root + "/usr");
  ASSERT_NE(usr, nullptr);
  EXPECT_TRUE(usr->remount_flags & MS_RDONLY);

  std::string scratch = tmp.path() + "/scratch";
  fs::create_directories(scratch);
  plan = t->plan({code, code, scratch, 100, 8});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const MountPlan::Op* bound_tmp = findTarget(*plan, root + "/tmp");
  ASSERT_NE(bound_tmp, nullptr);
  EXPECT_EQ(bound_tmp->source, scratch);
  EXPECT_FALSE(bound_tmp->remount_flags & MS_RDONLY);
  EXPECT_NE(findTarget(*plan, root + "/var/runtime"), nullptr);

  // The child's view points at the plan's strings.
  ChildMountView view = plan->childView();
  EXPECT_EQ(view.op_count, plan->ops.size());
  EXPECT_STREQ(view.root_dir, root.c_str());
  EXPECT_STREQ(view.ops[0].target, plan->ops[0].target.c_str());
}

TEST(MountsTest, PlanRefusesUnusableFolders) {
  TempDir tmp;
  Result<RootTemplate> t = RootTemplate::prepare(tmp.path() + "/root", {});
  ASSERT_TRUE(t.ok()) << t.error().message;
  std::string private_code = tmp.path() + "/private";
  fs::create_directories(private_code);
  fs::permissions(private_code, fs::perms(0700));
  Result<MountPlan> plan = t->plan({private_code, "", "", 512, 64});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code, ErrorCode::kInvalidParameter);
  EXPECT_NE(plan.error().message.find("o+rx"), std::string::npos) << plan.error().message;

  plan = t->plan({tmp.path() + "/missing", "", "", 512, 64});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().sys_errno, ENOENT);

  std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  plan = t->plan({"", "", file, 512, 64});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().sys_errno, ENOTDIR);
}

TEST(MountsTest, PrepareRefusesBadOptions) {
  TempDir tmp;
  EXPECT_FALSE(RootTemplate::prepare("relative/root", {}).ok());
  EXPECT_FALSE(RootTemplate::prepare("/", {}).ok());
  RootSkeletonOptions root_user;
  root_user.sandbox_uid = 0;
  EXPECT_FALSE(RootTemplate::prepare(tmp.path() + "/a", root_user).ok());
  RootSkeletonOptions shadowing;
  shadowing.extra_readonly_paths = {"/etc"};
  EXPECT_FALSE(RootTemplate::prepare(tmp.path() + "/b", shadowing).ok());
  shadowing.extra_readonly_paths = {"/usr/lib"};
  EXPECT_FALSE(RootTemplate::prepare(tmp.path() + "/c", shadowing).ok());
}

TEST(MountsTest, ExtraReadOnlyPathsGetMountPoints) {
  TempDir tmp;
  // Not under /tmp, which the instance's own /tmp would hide.
  char extra_tmpl[] = "/run/nimbus_mounts_extra_XXXXXX";
  std::string extra = ::mkdtemp(extra_tmpl);
  fs::create_directories(extra + "/bin");
  RootSkeletonOptions o;
  o.extra_readonly_paths = {extra};
  std::string root = tmp.path() + "/root";
  Result<RootTemplate> t = RootTemplate::prepare(root, o);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(fs::is_directory(root + extra));
  Result<MountPlan> plan = t->plan({});
  ASSERT_TRUE(plan.ok());
  const MountPlan::Op* op = findTarget(*plan, root + extra);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->source, extra);
  fs::remove_all(extra);
}

TEST(MountsTest, LockedFlagsArePreserved) {
  EXPECT_EQ(lockedMountFlags(ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME),
            static_cast<unsigned long>(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME));
  EXPECT_EQ(lockedMountFlags(ST_NOATIME | ST_NODIRATIME),
            static_cast<unsigned long>(MS_NOATIME | MS_NODIRATIME));
  // No atime flag at all is strictatime, which a plain remount would silently change.
  EXPECT_EQ(lockedMountFlags(0), static_cast<unsigned long>(MS_STRICTATIME));
}

}  // namespace
}  // namespace nimbus::sandbox
