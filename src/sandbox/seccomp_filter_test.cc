// Tests of the seccomp deny list in a forked child of the test: refused calls fail with
// the right errno, clone3 with ENOSYS, and ordinary work (threads, fork) goes on.
#include "sandbox/seccomp_filter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace nimbus::sandbox {
namespace {

// Runs `body` in a forked child under the default filter; returns its wait status.
// The child reports through its exit code: 0 for success, else a code naming the check.
int underFilter(const std::function<int()>& body) {
  std::vector<sock_filter> filter = buildDefaultSeccompFilter();
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    if (!childInstallSeccomp(prog).ok()) ::_exit(101);
    ::_exit(body());
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  return status;
}

int expectErrno(long r, int err) { return r == -1 && errno == err ? 0 : 1; }

TEST(SeccompFilterTest, RefusedCallsFailWithEperm) {
  int status = underFilter([] {
    int code = 10;
    if (expectErrno(::mount("none", "/tmp", "tmpfs", 0, nullptr), EPERM)) return code;
    ++code;
    if (expectErrno(::umount2("/proc", MNT_DETACH), EPERM)) return code;
    ++code;
    if (expectErrno(::unshare(CLONE_NEWNET), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_ptrace, 0, 0, 0, 0), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_bpf, 0, nullptr, 0), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_setns, 0, 0), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_io_uring_setup, 1, nullptr), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_keyctl, 0, 0, 0, 0, 0), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_fsopen, "tmpfs", 0), EPERM)) return code;
    ++code;
    // clone with a namespace flag is refused; clone3 says it does not exist.
    if (expectErrno(::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), EPERM)) return code;
    ++code;
    if (expectErrno(::syscall(SYS_clone3, nullptr, 0), ENOSYS)) return code;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilterTest, OrdinaryWorkGoesOn) {
  int status = underFilter([] {
    // fork (clone without namespace flags) and wait.
    pid_t child = ::fork();
    if (child < 0) return 10;
    if (child == 0) ::_exit(7);
    int s;
    if (::waitpid(child, &s, 0) != child || !WIFEXITED(s) || WEXITSTATUS(s) != 7) return 11;
    // Files, pipes, time.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return 12;
    if (::write(fds[1], "x", 1) != 1) return 13;
    timespec ts;
    if (::clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 14;
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilterTest, ThreadsStartBecauseClone3SaysEnosys) {
  int status = underFilter([] {
    // pthread_create tries clone3 first and falls back to clone on ENOSYS only.
    pthread_t t;
    if (::pthread_create(
            &t, nullptr, [](void*) -> void* { return nullptr; }, nullptr) != 0) {
      return 10;
    }
    ::pthread_join(t, nullptr);
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilterTest, ListsWhatItRefuses) {
  std::vector<std::string> names = deniedSyscallNames();
  for (const char* must : {"mount",
                           "umount2",
                           "pivot_root",
                           "ptrace",
                           "kexec_load",
                           "bpf",
                           "perf_event_open",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "unshare",
                           "setns",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "swapon",
                           "swapoff",
                           "reboot",
                           "open_by_handle_at",
                           "userfaultfd",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
  }
  // Classic BPF programs are capped at 4096 instructions.
  EXPECT_LT(buildDefaultSeccompFilter().size(), 4096u);
}

}  // namespace
}  // namespace nimbus::sandbox
