// Tests of the isolating launcher against real instances: a purpose-built payload
// (tests/sandbox/payload.cc, compiled here with g++) tries to escape and reports exactly
// what happened. Needs root and user namespaces; skipped otherwise.
#include "sandbox/sandbox_launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sandbox/process_test_util.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace process_test_util;  // NOLINT: the shared helpers

std::string nsInode(pid_t pid, const char* ns) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + ns, ec).string();
}

// Host pids whose pid namespace is `ns` (e.g. "pid:[4026532]").
std::vector<pid_t> pidsInNamespace(const std::string& ns) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (nsInode(std::stoi(name), "pid") == ns) out.push_back(std::stoi(name));
  }
  return out;
}

struct RunResult {
  int status = -1;
  std::string output;
  int exitCode() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

class SandboxLauncherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_reason_ = "needs root";
      return;
    }
    std::ifstream max_userns("/proc/sys/user/max_user_namespaces");
    int max = 0;
    if (!(max_userns >> max) || max <= 0) {
      skip_reason_ = "user namespaces unavailable";
      return;
    }
    char tmpl[] = "/tmp/nimbus-sbx-test-XXXXXX";
    tmp_ = ::mkdtemp(tmpl);
    code_dir_ = tmp_ + "/code";
    fs::create_directories(code_dir_);
    fs::permissions(code_dir_, fs::perms(0755));
    std::string cmd = "g++ -std=c++20 -O1 -pthread -o " + code_dir_ + "/payload " +
                      NIMBUS_SOURCE_DIR "/tests/sandbox/payload.cc 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ofstream(code_dir_ + "/data.txt") << "function code\n";
    fs::permissions(code_dir_ + "/data.txt", fs::perms(0644));

    SandboxLauncherConfig config;
    config.root_dir = tmp_ + "/root";
    Result<std::unique_ptr<ProcessLauncher>> launcher = makeSandboxLauncher(config);
    ASSERT_TRUE(launcher.ok()) << launcher.error().message;
    launcher_ = std::move(*launcher).release();
  }

  static void TearDownTestSuite() {
    delete launcher_;
    launcher_ = nullptr;
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_NE(launcher_, nullptr);
  }

  static ProcessSpec spec(std::vector<std::string> argv) {
    ProcessSpec s;
    s.executable = argv.front();
    s.argv = std::move(argv);
    s.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", "TZ=UTC"};
    s.cwd = "/var/task";
    s.sandbox.code_dir = code_dir_;
    s.sandbox.ephemeral_storage_mb = 64;
    return s;
  }

  static ProcessSpec payload(std::vector<std::string> args) {
    args.insert(args.begin(), "/var/task/payload");
    return spec(std::move(args));
  }

  static std::unique_ptr<Process> launch(const ProcessSpec& s) {
    Result<std::unique_ptr<Process>> p = launcher_->launch(s);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p.ok() ? std::move(*p) : nullptr;
  }

  static RunResult run(const ProcessSpec& s) {
    RunResult r;
    std::unique_ptr<Process> p = launch(s);
    if (!p) return r;
    r.output = readAll(p->outputFd());
    r.status = waitExit(*p);
    return r;
  }

  static RunResult runPayload(std::vector<std::string> args) { return run(payload(args)); }

  static inline std::string skip_reason_;
  static inline std::string tmp_;
  static inline std::string code_dir_;
  static inline ProcessLauncher* launcher_ = nullptr;
};

TEST_F(SandboxLauncherTest, RunsAsUnprivilegedUserWithNoCapabilities) {
  RunResult r = runPayload({"whoami"});
  EXPECT_EQ(r.exitCode(), 0) << r.output;
  EXPECT_NE(r.output.find("uid=993 euid=993 gid=990 egid=990 groups=0 "), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("pid=1 ppid=0 host=localhost "), std::string::npos) << r.output;
  for (const char* cap : {"CapEff", "CapPrm", "CapBnd", "CapAmb"}) {
    EXPECT_NE(r.output.find(std::string(cap) + "=0000000000000000"), std::string::npos)
        << cap << ": " << r.output;
  }
  EXPECT_NE(r.output.find("NoNewPrivs=1 Seccomp=2"), std::string::npos) << r.output;
}

TEST_F(SandboxLauncherTest, HostSeesAnUnprivilegedUid) {
  std::unique_ptr<Process> p = launch(payload({"sleep", "30"}));
  ASSERT_TRUE(p);
  // The uid switch happens just before exec; poll until the status shows it.
  std::string uid_line;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    std::ifstream status("/proc/" + std::to_string(p->pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Uid:", 0) == 0) uid_line = line;
    }
    if (uid_line.find("\t0\t") == std::string::npos && !uid_line.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  unsigned long uid = std::stoul(uid_line.substr(5));
  EXPECT_GE(uid, 0x70000000ul) << uid_line;
  p->kill();
  waitExit(*p);
}

TEST_F(SandboxLauncherTest, HostFilesAreInvisible) {
  for (const char* path : {"/root", "/home", "/work", "/var/lib", "/var/log", "/etc/shadow", "/run",
                           "/sys/fs/cgroup", "/mnt", "/old_root"}) {
    RunResult r = runPayload({"list-dir", path});
    EXPECT_EQ(r.output, "ERRNO 2 ENOENT\n") << path;
  }
  // The skeleton's folder on the host is not reachable either.
  RunResult r = runPayload({"list-dir", tmp_});
  EXPECT_EQ(r.output, "ERRNO 2 ENOENT\n");
  r = runPayload({"list-dir", "/var"});
  EXPECT_EQ(r.output, "OK runtime task\n") << r.output;
  r = runPayload({"list-dir", "/"});
  EXPECT_EQ(r.output.find(" root"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(" home"), std::string::npos) << r.output;
}

TEST_F(SandboxLauncherTest, CodeIsReadOnlyAtVarTask) {
  RunResult r = runPayload({"read-file", "/var/task/data.txt"});
  EXPECT_EQ(r.output, "OK 14\n");
  r = runPayload({"write-file", "/var/task/new.txt"});
  EXPECT_EQ(r.output, "ERRNO 30 EROFS\n");
  r = runPayload({"write-file", "/var/task/data.txt"});
  EXPECT_EQ(r.output, "ERRNO 30 EROFS\n");
  EXPECT_FALSE(fs::exists(code_dir_ + "/new.txt"));
  for (const char* path : {"/etc/passwd", "/usr/bin/new", "/new", "/dev/new"}) {
    r = runPayload({"write-file", path});
    EXPECT_EQ(r.output, "ERRNO 30 EROFS\n") << path;
  }
}

TEST_F(SandboxLauncherTest, TmpIsWritableAndSized) {
  RunResult r = runPayload({"write-file", "/tmp/x", "1048576"});
  EXPECT_EQ(r.output, "OK 1048576\n");
  // The tmpfs fallback is capped at ephemeral_storage_mb (64 MB here).
  r = runPayload({"write-file", "/tmp/big", std::to_string(80 << 20)});
  EXPECT_NE(r.output.find("ERRNO 28 ENOSPC"), std::string::npos) << r.output;
}

TEST_F(SandboxLauncherTest, ScratchFolderIsBoundAtTmp) {
  std::string scratch = tmp_ + "/scratch";
  fs::create_directories(scratch);
  ProcessSpec s = payload({"write-file", "/tmp/from-inside"});
  s.sandbox.scratch_dir = scratch;
  // The instance's host uid is only known inside the launch: let everybody write here.
  fs::permissions(scratch, fs::perms(01777));
  RunResult r = run(s);
  EXPECT_EQ(r.output, "OK 6\n");
  EXPECT_TRUE(fs::exists(scratch + "/from-inside"));
}

TEST_F(SandboxLauncherTest, ProcShowsOnlyTheInstance) {
  RunResult r = runPayload({"list-dir", "/proc"});
  ASSERT_EQ(r.exitCode(), 0);
  std::vector<std::string> pids;
  std::string name;
  std::istringstream in(r.output.substr(3));
  while (in >> name) {
    if (std::all_of(name.begin(), name.end(), ::isdigit)) pids.push_back(name);
  }
  EXPECT_EQ(pids, std::vector<std::string>{"1"}) << r.output;
}

TEST_F(SandboxLauncherTest, SeccompRefusesDangerousCalls) {
  for (const char* call :
       {"mount", "umount", "unshare", "setns", "ptrace", "bpf", "keyctl", "io_uring_setup",
        "perf_event_open", "userfaultfd", "pivot_root", "clone-newuser"}) {
    RunResult r = runPayload({"syscall", call});
    EXPECT_EQ(r.output, "ERRNO 1 EPERM\n") << call;
  }
  RunResult r = runPayload({"syscall", "clone3"});
  EXPECT_EQ(r.output, "ERRNO 38 ENOSYS\n");
  r = runPayload({"syscall", "getpid"});
  EXPECT_EQ(r.output, "OK 1\n");
}

TEST_F(SandboxLauncherTest, ThreadsAndForkWork) {
  RunResult r = runPayload({"thread"});
  EXPECT_EQ(r.output, "OK 42\n");
  EXPECT_EQ(r.exitCode(), 0);
}

TEST_F(SandboxLauncherTest, HostLoopbackIsUnreachable) {
  UniqueFd server(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(server.get(), 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(server.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  RunResult r = runPayload({"connect", "127.0.0.1", port});
  EXPECT_EQ(r.output, "ERRNO 111 ECONNREFUSED\n");
  r = runPayload({"connect", "10.255.255.53", "53"});
  EXPECT_EQ(r.output, "ERRNO 101 ENETUNREACH\n");
}

TEST_F(SandboxLauncherTest, RuntimeApiListenerAcceptsFromInside) {
  std::unique_ptr<Process> p = launch(payload({"connect", "127.0.0.1", "9001"}));
  ASSERT_TRUE(p);
  UniqueFd listener(p->takeRuntimeApiListener());
  ASSERT_TRUE(listener.valid());
  EXPECT_EQ(p->takeRuntimeApiListener(), -1);  // handed over once
  ASSERT_TRUE(readable(listener.get(), kTimeoutMs));
  UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  char buf[5];
  ASSERT_EQ(::read(conn.get(), buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "ping\n");
  ASSERT_EQ(::write(conn.get(), "pong\n", 5), 5);
  EXPECT_EQ(readAll(p->outputFd()), "OK pong\n");
  EXPECT_EQ(waitExit(*p), 0);
}

TEST_F(SandboxLauncherTest, PythonAndNodeRun) {
  RunResult r = run(spec({"/usr/bin/python3", "-S", "-c",
                          "import os, ssl, json; print(1, os.getuid(), os.getcwd())"}));
  EXPECT_EQ(r.output, "1 993 /var/task\n");
  EXPECT_EQ(r.exitCode(), 0);
  if (!fs::exists("/usr/bin/node")) GTEST_SKIP() << "no /usr/bin/node";
  r = run(spec({"/usr/bin/node", "-e",
                "console.log(1, process.getuid(), require('os').tmpdir(), "
                "require('crypto').randomBytes(4).length)"}));
  EXPECT_EQ(r.output, "1 993 /tmp 4\n");
  EXPECT_EQ(r.exitCode(), 0);
}

TEST_F(SandboxLauncherTest, ManagedRuntimesReachTheRuntimeApi) {
  // nimbus's own bootstraps at /var/runtime, a handler at /var/task: each runtime's first
  // request must arrive on the listener (GET next once the handler imported).
  std::ofstream(code_dir_ + "/handler.py") << "def handler(event, context):\n    return 1\n";
  std::ofstream(code_dir_ + "/index.js") << "exports.handler = async () => 1;\n";
  fs::permissions(code_dir_ + "/handler.py", fs::perms(0644));
  fs::permissions(code_dir_ + "/index.js", fs::perms(0644));
  for (const char* runtime : {"python3.11", "nodejs20.x"}) {
    std::string runtime_dir = NIMBUS_SOURCE_DIR "/runtimes/" + std::string(runtime);
    if (!fs::exists(runtime_dir + "/bootstrap")) continue;
    ProcessSpec s = spec({"/var/runtime/bootstrap"});
    s.sandbox.runtime_dir = runtime_dir;
    s.env.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001");
    s.env.push_back("LAMBDA_TASK_ROOT=/var/task");
    s.env.push_back("LAMBDA_RUNTIME_DIR=/var/runtime");
    s.env.push_back(std::string("_HANDLER=") +
                    (runtime == std::string("python3.11") ? "handler.handler" : "index.handler"));
    std::unique_ptr<Process> p = launch(s);
    ASSERT_TRUE(p) << runtime;
    UniqueFd listener(p->takeRuntimeApiListener());
    ASSERT_TRUE(readable(listener.get(), kTimeoutMs)) << runtime << ": " << readAll(p->outputFd());
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(conn.valid());
    std::string request = readOutput(
        conn.get(), [](const std::string& t) { return t.find("\r\n") != std::string::npos; });
    EXPECT_EQ(request.rfind("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n", 0), 0u)
        << runtime << ": " << request;
    p->kill();
    waitExit(*p);
  }
}

TEST_F(SandboxLauncherTest, MissingExecutableReportsEnoent) {
  Result<std::unique_ptr<Process>> p = launcher_->launch(payload({}));
  ASSERT_TRUE(p.ok());
  p = launcher_->launch(spec({"/var/task/missing"}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInternal);
  EXPECT_EQ(p.error().sys_errno, ENOENT);
  EXPECT_EQ(p.error().message, "exec /var/task/missing: No such file or directory");
}

TEST_F(SandboxLauncherTest, SetupFailuresNameTheStep) {
  ProcessSpec s = payload({"exit", "0"});
  s.cwd = "/nonexistent";
  Result<std::unique_ptr<Process>> p = launcher_->launch(s);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().sys_errno, ENOENT);
  EXPECT_EQ(p.error().message.rfind("sandbox: chdir /nonexistent: ", 0), 0u) << p.error().message;

  s = payload({"exit", "0"});
  s.sandbox.code_dir = tmp_ + "/no-such-code";
  p = launcher_->launch(s);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidParameter);

  // This launcher has no egress network: an egress instance is refused, never isolated.
  s = payload({"exit", "0"});
  s.sandbox.network = NetworkMode::kEgress;
  p = launcher_->launch(s);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(p.error().message.find("network mode is egress, which this host cannot provide"),
            std::string::npos)
      << p.error().message;
  EXPECT_NE(p.error().message.find("egress networking was not set up"), std::string::npos)
      << p.error().message;
}

TEST_F(SandboxLauncherTest, ExitCodeAndOutputArePassedThrough) {
  RunResult r = runPayload({"exit", "7"});
  EXPECT_EQ(r.exitCode(), 7);
  r = runPayload({"echo", "hello from inside"});
  EXPECT_EQ(r.output, "hello from inside\n");
}

TEST_F(SandboxLauncherTest, KillEndsEveryProcessOfTheInstance) {
  std::unique_ptr<Process> p = launch(payload({"fork", "5"}));
  ASSERT_TRUE(p);
  std::string line = readLine(p->outputFd());
  ASSERT_EQ(line.rfind("FORKED ", 0), 0u) << line;
  std::string ns = nsInode(p->pid(), "pid");
  ASSERT_FALSE(ns.empty());
  EXPECT_EQ(pidsInNamespace(ns).size(), 6u);
  p->kill();
  int status = waitExit(*p);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_TRUE(pidsInNamespace(ns).empty());
}

TEST_F(SandboxLauncherTest, InitExitEndsTheInstance) {
  // The payload's children outlive it only until init (the payload) exits.
  std::unique_ptr<Process> p = launch(spec({"/bin/sh", "-c", "sleep 100 & sleep 100 & echo go"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readLine(p->outputFd()), "go\n");
  std::string ns = nsInode(p->pid(), "pid");
  EXPECT_EQ(waitExit(*p), 0);
  EXPECT_TRUE(pidsInNamespace(ns).empty());
}

TEST_F(SandboxLauncherTest, DestructorKillsAndReaps) {
  pid_t pid;
  {
    std::unique_ptr<Process> p = launch(payload({"sleep", "100"}));
    ASSERT_TRUE(p);
    pid = p->pid();
  }
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST_F(SandboxLauncherTest, InstanceDiesWithTheThreadThatLaunchedIt) {
  // What keeps instances from outliving a killed server: the parent-death signal,
  // which the kernel clears when the child drops to the sandbox user, so it must be
  // set again after that.
  std::promise<std::unique_ptr<Process>> launched;
  std::promise<void> may_exit;
  std::thread helper([&] {
    launched.set_value(launch(payload({"sleep", "100"})));
    may_exit.get_future().wait();
  });
  std::unique_ptr<Process> p = launched.get_future().get();
  ASSERT_TRUE(p);
  EXPECT_FALSE(readable(p->pidfd(), 0));
  may_exit.set_value();
  helper.join();
  int status = waitExit(*p);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_F(SandboxLauncherTest, ReportsMaxMemory) {
  std::unique_ptr<Process> p = launch(payload({"alloc", "32"}));
  ASSERT_TRUE(p);
  EXPECT_EQ(readAll(p->outputFd()), "OK 32\n");
  EXPECT_EQ(waitExit(*p), 0);
  EXPECT_GE(p->maxMemoryBytes(), 32 << 20);
}

class FakeHooks : public InstanceHooks {
 public:
  FakeHooks(std::vector<pid_t>* attached, bool* destroyed)
      : attached_(attached), destroyed_(destroyed) {}
  ~FakeHooks() override { *destroyed_ = true; }
  Result<void> attach(pid_t pid) override {
    attached_->push_back(pid);
    return {};
  }
  int64_t peakMemoryBytes() const override { return 12345; }
  int64_t usedMemoryBytes() const override { return 678; }
  bool oomKilled() const override { return oom_killed; }
  bool oom_killed = true;

 private:
  std::vector<pid_t>* attached_;
  bool* destroyed_;
};

TEST_F(SandboxLauncherTest, HooksAttachBeforeExecAndOutliveTheInstance) {
  std::vector<pid_t> attached;
  bool destroyed = false;
  FakeHooks* hooks = nullptr;  // owned by the instance
  InstanceIdentity seen;
  SandboxLauncherConfig config;
  config.root_dir = tmp_ + "/root";
  config.hooks = [&](const ProcessSpec&,
                     const InstanceIdentity& id) -> Result<std::unique_ptr<InstanceHooks>> {
    seen = id;
    auto made = std::make_unique<FakeHooks>(&attached, &destroyed);
    hooks = made.get();
    return std::unique_ptr<InstanceHooks>(std::move(made));
  };
  auto launcher = makeSandboxLauncher(config);
  ASSERT_TRUE(launcher.ok()) << launcher.error().message;
  {
    Result<std::unique_ptr<Process>> p = (*launcher)->launch(payload({"exit", "0"}));
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(attached, std::vector<pid_t>{(*p)->pid()});
    EXPECT_EQ(seen.sandbox_uid, 993u);
    EXPECT_GE(seen.host_uid, 0x70000000u);
    EXPECT_EQ(waitExit(**p), 0);
    // Killed by OOM: the group's peak (the limit was reached); else its own memory.
    EXPECT_EQ((*p)->maxMemoryBytes(), 12345);
    EXPECT_TRUE((*p)->oomKilled());
    hooks->oom_killed = false;
    EXPECT_EQ((*p)->maxMemoryBytes(), 678);
    EXPECT_FALSE(destroyed);
  }
  EXPECT_TRUE(destroyed);

  // A failing attach aborts the launch and leaves no child.
  config.hooks = [&](const ProcessSpec&,
                     const InstanceIdentity&) -> Result<std::unique_ptr<InstanceHooks>> {
    struct Failing : InstanceHooks {
      Result<void> attach(pid_t) override {
        return makeError(ErrorCode::kInternal, "no cgroup", EACCES);
      }
    };
    return std::unique_ptr<InstanceHooks>(std::make_unique<Failing>());
  };
  launcher = makeSandboxLauncher(config);
  ASSERT_TRUE(launcher.ok());
  Result<std::unique_ptr<Process>> p = (*launcher)->launch(payload({"exit", "0"}));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("no cgroup"), std::string::npos) << p.error().message;
  int status;
  EXPECT_TRUE(::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

TEST_F(SandboxLauncherTest, LiveInstancesGetDistinctHostUidsThatAreReused) {
  std::vector<InstanceIdentity> seen;
  SandboxLauncherConfig config;
  config.root_dir = tmp_ + "/root";
  config.max_instances = 3;
  config.hooks = [&](const ProcessSpec&,
                     const InstanceIdentity& id) -> Result<std::unique_ptr<InstanceHooks>> {
    seen.push_back(id);
    return std::unique_ptr<InstanceHooks>(std::make_unique<InstanceHooks>());
  };
  auto launcher = makeSandboxLauncher(config);
  ASSERT_TRUE(launcher.ok()) << launcher.error().message;
  std::vector<std::unique_ptr<Process>> live;
  for (int i = 0; i < 3; ++i) {
    Result<std::unique_ptr<Process>> p = (*launcher)->launch(payload({"sleep", "100"}));
    ASSERT_TRUE(p.ok()) << p.error().message;
    live.push_back(std::move(*p));
  }
  std::set<uid_t> uids;
  for (const InstanceIdentity& id : seen) uids.insert(id.host_uid);
  EXPECT_EQ(uids.size(), 3u);
  // All slots taken: a clear refusal, not a shared uid.
  Result<std::unique_ptr<Process>> refused = (*launcher)->launch(payload({"exit", "0"}));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  // Ending one frees its uid for the next instance.
  uid_t freed = seen[1].host_uid;
  live[1].reset();
  Result<std::unique_ptr<Process>> next = (*launcher)->launch(payload({"exit", "0"}));
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(seen.back().host_uid, freed);
}

TEST_F(SandboxLauncherTest, ConcurrentLaunchesFromThreadsLeakNoFds) {
  // A careless library's fd without CLOEXEC, and launches racing on other threads: the
  // instance must see exactly stdin, stdout, stderr (and list-dir's own fd 3).
  UniqueFd leaky(::open("/dev/null", O_RDONLY));
  ASSERT_TRUE(leaky.valid());
  std::atomic<int> good{0};
  std::vector<std::string> bad;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 8; ++i) {
        RunResult r = runPayload({"list-dir", "/proc/self/fd"});
        if (r.output == "OK 0 1 2 3\n" && r.exitCode() == 0) {
          ++good;
        } else {
          std::lock_guard lock(mu);
          bad.push_back(r.output);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 32);
  for (const std::string& b : bad) ADD_FAILURE() << b;
}

TEST_F(SandboxLauncherTest, ProcessCountIsLimited) {
  ProcessSpec s = payload({"fork", "20"});
  s.sandbox.max_pids = 8;
  RunResult r = run(s);
  EXPECT_EQ(r.output, "ERRNO 11 EAGAIN\n");
  EXPECT_EQ(r.exitCode(), 1);
}

TEST_F(SandboxLauncherTest, ChildSideMountFailureNamesTheMount) {
  // Not under /tmp, which the instance's own /tmp would hide.
  char extra_tmpl[] = "/run/nimbus-sbx-extra-XXXXXX";
  std::string extra = ::mkdtemp(extra_tmpl);
  SandboxLauncherConfig config;
  config.root_dir = tmp_ + "/root-extra";
  config.extra_readonly_paths = {extra};
  auto launcher = makeSandboxLauncher(config);
  ASSERT_TRUE(launcher.ok()) << launcher.error().message;
  fs::remove(extra);  // gone after start: the bind in the child fails
  Result<std::unique_ptr<Process>> p = (*launcher)->launch(payload({"exit", "0"}));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().sys_errno, ENOENT);
  EXPECT_EQ(p.error().message,
            "sandbox: bind " + extra + " read-only at " + extra + ": No such file or directory");
  int status;
  EXPECT_TRUE(::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD);
}

TEST_F(SandboxLauncherTest, MeasureSpawnToExit) {
  std::vector<double> ms;
  for (int i = 0; i < 30; ++i) {
    auto start = Clock::now();
    std::unique_ptr<Process> p = launch(spec({"/bin/true"}));
    ASSERT_TRUE(p);
    ASSERT_EQ(waitExit(*p), 0);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "[ sandbox ] /bin/true spawn-to-exit over 30 runs: median %.2f ms, min %.2f ms, "
      "max %.2f ms\n",
      ms[ms.size() / 2], ms.front(), ms.back());
}

}  // namespace
}  // namespace nimbus::sandbox
