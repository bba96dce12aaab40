// Tests of the plain launcher against real children: output, environment, cwd, exec
// errors, group kill, pidfd readiness, memory, sessions, and a launch-time printout.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sandbox/process.h"
#include "sandbox/process_test_util.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {
namespace {

using Clock = std::chrono::steady_clock;
using namespace process_test_util;  // NOLINT: the shared helpers

ProcessSpec makeSpec(std::vector<std::string> argv,
                     std::vector<std::string> env = {"PATH=/usr/bin:/bin"}, std::string cwd = "/") {
  ProcessSpec spec;
  spec.executable = argv.front();
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.cwd = std::move(cwd);
  return spec;
}

std::unique_ptr<Process> launchOrDie(const ProcessSpec& spec) {
  auto launcher = makePlainLauncher();
  Result<std::unique_ptr<Process>> p = launcher->launch(spec);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? std::move(*p) : nullptr;
}

// True once pid is gone or a zombie (its new parent, init, may reap it later).
bool becomesDead(pid_t pid) {
  auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (Clock::now() < deadline) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!stat || !std::getline(stat, line)) return true;
    size_t paren = line.rfind(')');
    if (paren != std::string::npos && line.substr(paren + 2, 1) == "Z") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

bool hasNoChildren() {
  int status;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "nimbus_sandbox_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(PlainLauncherTest, MergesOutputAndReportsExitCode) {
  auto p = launchOrDie(makeSpec({"/bin/sh", "-c", "echo hi; echo err >&2; exit 3"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "hi\nerr\n");
  int status = waitExit(*p);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 3);
  // Reaping twice gives the same answer.
  int again = -1;
  EXPECT_TRUE(p->tryReap(&again));
  EXPECT_EQ(again, status);
}

TEST(PlainLauncherTest, EnvironmentIsExactlyTheGivenOne) {
  auto p = launchOrDie(makeSpec({"/usr/bin/env"}, {"A=1", "B=two words"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "A=1\nB=two words\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST(PlainLauncherTest, AppliesWorkingDirectory) {
  TempDir dir;
  auto p = launchOrDie(makeSpec({"/bin/pwd"}, {}, dir.path()));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), std::filesystem::canonical(dir.path()).string() + "\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST(PlainLauncherTest, StdinIsDevNullAndNoOtherFdsLeak) {
  // A parent fd without CLOEXEC, as a careless library might leave one.
  UniqueFd leaky(::open("/dev/null", O_RDONLY));
  ASSERT_TRUE(leaky.valid());
  auto p = launchOrDie(makeSpec({"/usr/bin/readlink", "/proc/self/fd/0"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "/dev/null\n");
  EXPECT_EQ(waitExit(*p), 0);
  // ls's own directory fd is 3; anything beyond it leaked in.
  p = launchOrDie(makeSpec({"/bin/ls", "/proc/self/fd"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "0\n1\n2\n3\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST(PlainLauncherTest, ChildGetsDefaultSignalsAndEmptyMask) {
  // Servers ignore SIGPIPE and block signals in their threads; children must not inherit.
  struct sigaction ignore {
  }, saved_action{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &saved_action), 0);
  sigset_t block, saved_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &saved_mask), 0);

  auto p = launchOrDie(makeSpec({"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));

  ::pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  ::sigaction(SIGPIPE, &saved_action, nullptr);
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST(PlainLauncherTest, MissingExecutableReportsEnoentAndLeavesNoZombie) {
  ASSERT_TRUE(hasNoChildren());
  auto launcher = makePlainLauncher();
  Result<std::unique_ptr<Process>> p = launcher->launch(makeSpec({"/nonexistent/bin"}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInternal);
  EXPECT_EQ(p.error().sys_errno, ENOENT);
  EXPECT_EQ(p.error().message, "exec /nonexistent/bin: No such file or directory");
  EXPECT_TRUE(hasNoChildren());
}

TEST(PlainLauncherTest, NonExecutableFileReportsEacces) {
  TempDir dir;
  std::string path = dir.path() + "/not_executable";
  std::ofstream(path) << "#!/bin/sh\n";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  Result<std::unique_ptr<Process>> p = makePlainLauncher()->launch(makeSpec({path}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().sys_errno, EACCES);
  EXPECT_EQ(p.error().message.rfind("exec " + path + ": ", 0), 0u) << p.error().message;
  EXPECT_TRUE(hasNoChildren());
}

TEST(PlainLauncherTest, MissingCwdNamesTheStep) {
  Result<std::unique_ptr<Process>> p =
      makePlainLauncher()->launch(makeSpec({"/bin/true"}, {}, "/nonexistent/dir"));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().sys_errno, ENOENT);
  EXPECT_EQ(p.error().message.rfind("chdir /nonexistent/dir: ", 0), 0u) << p.error().message;
  EXPECT_TRUE(hasNoChildren());
}

TEST(PlainLauncherTest, RejectsRelativeExecutableAndEmptyArgv) {
  auto launcher = makePlainLauncher();
  Result<std::unique_ptr<Process>> p = launcher->launch(makeSpec({"true"}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);
  ProcessSpec spec = makeSpec({"/bin/true"});
  spec.argv.clear();
  p = launcher->launch(spec);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);
}

TEST(PlainLauncherTest, KillEndsWithSigkillAndIsRepeatable) {
  auto p = launchOrDie(makeSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(p);
  int status = -1;
  EXPECT_FALSE(p->tryReap(&status));
  p->kill();
  p->kill();
  status = waitExit(*p);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  p->kill();  // after reap: a no-op, never a signal to a reused pid
}

TEST(PlainLauncherTest, KillEndsTheWholeGroup) {
  auto p = launchOrDie(makeSpec({"/bin/sh", "-c", "sleep 100 & echo $!; sleep 100"}));
  ASSERT_TRUE(p);
  std::string line = readLine(p->outputFd());
  ASSERT_FALSE(line.empty());
  pid_t grandchild = std::stoi(line);
  EXPECT_EQ(::getpgid(grandchild), p->pid());
  p->kill();
  int status = waitExit(*p);
  EXPECT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_TRUE(becomesDead(grandchild));
}

TEST(PlainLauncherTest, ReapEndsLeftoverGroupMembers) {
  // The leader exits normally but leaves a background child: reaping must not orphan it.
  auto p = launchOrDie(makeSpec({"/bin/sh", "-c", "sleep 100 & echo $!"}));
  ASSERT_TRUE(p);
  pid_t grandchild = std::stoi(readLine(p->outputFd()));
  EXPECT_EQ(waitExit(*p), 0);
  EXPECT_TRUE(becomesDead(grandchild));
}

TEST(PlainLauncherTest, PidfdBecomesReadableOnExit) {
  auto p = launchOrDie(makeSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(p);
  EXPECT_FALSE(readable(p->pidfd(), 0));
  p->kill();
  EXPECT_TRUE(readable(p->pidfd(), kTimeoutMs));

  auto q = launchOrDie(makeSpec({"/bin/true"}));
  ASSERT_TRUE(q);
  EXPECT_TRUE(readable(q->pidfd(), kTimeoutMs));
  EXPECT_EQ(waitExit(*q), 0);
}

TEST(PlainLauncherTest, ReportsMaxMemoryWhileRunningAndAfterReap) {
  auto p = launchOrDie(makeSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(p);
  EXPECT_GT(p->maxMemoryBytes(), 0);
  p->kill();
  waitExit(*p);
  EXPECT_GT(p->maxMemoryBytes(), 0);  // from wait4's rusage now
}

TEST(PlainLauncherTest, ReadsMemoryUnderTheGivenProcRoot) {
  TempDir fake_proc;
  auto launcher = makePlainLauncher(fake_proc.path());
  Result<std::unique_ptr<Process>> p = launcher->launch(makeSpec({"/bin/sleep", "100"}));
  ASSERT_TRUE(p.ok());
  Process& proc = **p;
  EXPECT_EQ(proc.maxMemoryBytes(), 0);  // nothing there yet
  std::string dir = fake_proc.path() + "/" + std::to_string(proc.pid());
  std::filesystem::create_directory(dir);
  std::ofstream(dir + "/status") << "Name:\tsleep\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
  EXPECT_EQ(proc.maxMemoryBytes(), 1234 * 1024);
}

TEST(PlainLauncherTest, ReleasedOutputFdIsTheCallersToClose) {
  auto p = launchOrDie(makeSpec({"/bin/sh", "-c", "echo out"}));
  ASSERT_TRUE(p);
  UniqueFd out(p->releaseOutputFd());
  EXPECT_EQ(p->outputFd(), -1);
  EXPECT_EQ(readAll(out.get()), "out\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST(PlainLauncherTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    auto p = launchOrDie(makeSpec({"/bin/sleep", "100"}));
    ASSERT_TRUE(p);
    pid = p->pid();
  }
  EXPECT_TRUE(hasNoChildren());
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(PlainLauncherTest, ChildOfHelperThreadHasOwnSessionAndDiesWithThatThread) {
  std::promise<std::unique_ptr<Process>> launched;
  std::promise<void> may_exit;
  std::thread helper([&] {
    launched.set_value(makePlainLauncher()->launch(makeSpec({"/bin/sleep", "100"})).value());
    may_exit.get_future().wait();
  });
  std::unique_ptr<Process> p = launched.get_future().get();
  pid_t pid = p->pid();
  EXPECT_EQ(::getsid(pid), pid);
  EXPECT_NE(::getsid(pid), ::getsid(0));
  EXPECT_EQ(::getpgid(pid), pid);
  EXPECT_FALSE(readable(p->pidfd(), 0));

  // PR_SET_PDEATHSIG follows the launching *thread*: this is why the server must launch
  // from long-lived threads. The child is reparented to this thread's group and reapable.
  may_exit.set_value();
  helper.join();
  int status = waitExit(*p);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(PlainLauncherTest, PrintsLaunchAndReapTime) {
  constexpr int kRuns = 50;
  auto launcher = makePlainLauncher();
  std::vector<double> micros;
  for (int i = 0; i < kRuns; ++i) {
    auto start = Clock::now();
    Result<std::unique_ptr<Process>> p = launcher->launch(makeSpec({"/bin/true"}, {}));
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(waitExit(**p), 0);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(micros.begin(), micros.end());
  std::printf("[ bench    ] launch+reap /bin/true x%d: min %.0f us, median %.0f us, p90 %.0f us\n",
              kRuns, micros.front(), micros[kRuns / 2], micros[kRuns * 9 / 10]);
}

}  // namespace
}  // namespace nimbus::sandbox
