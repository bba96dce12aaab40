// The isolating launcher: the parent's launch sequence, the child's containment checklist
// (in the spirit of nsjail's containProc), and the Process that ends a whole instance.
//
// How the child is made, and why. The server is large and multi-threaded, so it is never
// forked: copying its page tables costs tens of milliseconds. The plain launcher uses
// clone(CLONE_VM|CLONE_VFORK), but a vfork parent sleeps until exec, and here the parent
// has work to do between clone and exec (write the uid/gid maps, attach cgroups where the
// child was not born in them, open the Runtime API listener in the child's network). So:
// clone(CLONE_VM) without CLONE_VFORK, on a stack of its own that the parent keeps (with
// the arguments and the mount plan) until the CLOEXEC error pipe reports exec or failure. The child
// runs alongside the launching thread in the same memory, so it touches nothing of ours but its
// stack and uses raw system calls only (child_syscall.h: no errno, which is that thread's TLS). It
// builds its root while the parent works, then blocks on a sync socket until the parent
// says "go". A separate spawner process (sandbox-facts.md) would need a wire protocol
// and fd passing for the same result; the CLONE_VM child costs one clone.
#include "sandbox/sandbox_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>
#include <utility>

#include "base/log.h"
#include "sandbox/child_syscall.h"
#include "sandbox/launch_trace.h"
#include "sandbox/mounts.h"
#include "sandbox/namespaces.h"
#include "sandbox/netns_listener.h"
#include "sandbox/proc_status.h"
#include "sandbox/seccomp_filter.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {
namespace {

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::system_category().message(err), err);
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrapper cannot be linked from C++.
int pidfdSendSignal(int pidfd, int sig) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
}

// ---------------------------------------------------------------------------------------
// The child. Everything it reads is prepared by the parent and stays put until exec.

struct RlimitSetting {
  int resource;
  uint64_t soft;
  uint64_t hard;
};

struct ChildArgs {
  ChildMountView mounts;
  ChildCredentials creds;
  sock_fprog seccomp;
  RlimitSetting rlimits[3];
  int rlimit_count;
  const char* executable;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: stay at /
  int error_fd;     // all four are >= 3 and CLOEXEC
  int sync_fd;
  int stdin_fd;
  int output_fd;
  int keep_fds[4];     // the four above, ascending
  int max_fd;          // for closing fds one by one where close_range is missing
  LaunchTrace* trace;  // null unless NIMBUS_SANDBOX_TRACE: the child's timestamps go here
};

// The kernel's struct sigaction (x86_64 and arm64 share this layout).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

NIMBUS_SANDBOX_CHILD [[noreturn]] void childFail(const ChildArgs& a, ChildStatus s) {
  // One write of 12 bytes into an empty pipe is atomic and cannot block.
  child::sys(SYS_write, a.error_fd, &s, sizeof s);
  child::sys(SYS_exit_group, 127);
  __builtin_unreachable();
}

NIMBUS_SANDBOX_CHILD int32_t childCloseRange(unsigned first, unsigned last, int max_fd) {
  if (first > last) return 0;
  long r = child::sys(SYS_close_range, first, last, 0);
  if (r != -ENOSYS) return child::errOf(r);
  // Before Linux 5.9: one by one, up to the server's fd limit.
  for (long fd = first; fd <= static_cast<long>(last) && fd <= max_fd; ++fd) {
    child::sys(SYS_close, fd);
  }
  return 0;
}

// Closes every fd but the four the child needs, at once: the fd table is a copy of the
// server's, including other launches' pipes, which must not wait for our exec to close.
NIMBUS_SANDBOX_CHILD int32_t childCloseOtherFds(const ChildArgs& a) {
  unsigned first = 0;
  for (int fd : a.keep_fds) {
    if (int32_t e = childCloseRange(first, static_cast<unsigned>(fd) - 1, a.max_fd)) return e;
    first = static_cast<unsigned>(fd) + 1;
  }
  return childCloseRange(first, ~0U, a.max_fd);
}

// The containment checklist. Each step fails loudly: (step, errno, index) to the parent.
NIMBUS_SANDBOX_CHILD int childMain(void* raw) {
  using child::errOf;
  using child::sys;
  const ChildArgs& a = *static_cast<const ChildArgs*>(raw);
  LaunchTrace::mark(a.trace, kChildStart);

  // The parent blocked every signal around clone, so none of its handlers can have run
  // here. Reset them all before anything can unblock (SIG_IGN would survive exec too).
  KernelSigaction dfl{};
  for (long sig = 1; sig <= 64; ++sig) {
    sys(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof dfl.mask);  // SIGKILL/SIGSTOP refuse
  }
  if (int32_t e = childCloseOtherFds(a)) childFail(a, {ChildStep::kCloseFds, e, 0});
  // Own session, no controlling tty (TIOCSTI is live on our hosts).
  if (int32_t e = errOf(sys(SYS_setsid))) childFail(a, {ChildStep::kSetsid, e, 0});
  // If the server dies, so does the instance. (getppid() is 0 in a new pid namespace, so
  // a server that died before this line shows instead as EOF on the sync socket below.)
  long r = sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (int32_t e = errOf(r)) childFail(a, {ChildStep::kPdeathsig, e, 0});

  if (ChildStatus s = childBuildRoot(a.mounts); !s.ok()) childFail(a, s);
  if (ChildStatus s = childSetHostname(a.creds); !s.ok()) childFail(a, s);
  LaunchTrace::mark(a.trace, kChildRootBuilt);

  // The parent writes the id maps, attaches cgroups and opens the listener meanwhile.
  char go = 0;
  do {
    r = sys(SYS_read, a.sync_fd, &go, 1);
  } while (r == -EINTR);
  if (r != 1) childFail(a, {ChildStep::kWaitForParent, r == 0 ? EPIPE : errOf(r), 0});
  LaunchTrace::mark(a.trace, kChildGoSeen);

  if (ChildStatus s = childDropToSandboxUser(a.creds); !s.ok()) childFail(a, s);
  // The kernel clears the parent-death signal when credentials change: set it again,
  // or instances outlive a killed server.
  r = sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (int32_t e = errOf(r)) childFail(a, {ChildStep::kPdeathsig, e, 1});
  for (int i = 0; i < a.rlimit_count; ++i) {
    const RlimitSetting& rl = a.rlimits[i];
    uint64_t lim[2] = {rl.soft, rl.hard};
    if (int32_t e = errOf(sys(SYS_prlimit64, 0, rl.resource, lim, nullptr))) {
      childFail(a, {ChildStep::kRlimit, e, rl.resource});
    }
  }
  // As the sandbox user, so that an unreadable cwd fails here with its name.
  if (a.cwd != nullptr) {
    if (int32_t e = errOf(sys(SYS_chdir, a.cwd))) childFail(a, {ChildStep::kChdir, e, 0});
  }
  // dup3 clears CLOEXEC on the target only: the originals close at exec, and so does the
  // error pipe, whose EOF tells the parent that exec succeeded.
  const int stdio_sources[3] = {a.stdin_fd, a.output_fd, a.output_fd};
  for (int target = 0; target < 3; ++target) {
    if (int32_t e = errOf(sys(SYS_dup3, stdio_sources[target], target, 0))) {
      childFail(a, {ChildStep::kStdio, e, target});
    }
  }
  r = sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (int32_t e = errOf(r)) childFail(a, {ChildStep::kNoNewPrivs, e, 0});
  // Last, so that nothing above runs under the filter.
  if (ChildStatus s = childInstallSeccomp(a.seccomp); !s.ok()) childFail(a, s);

  uint64_t none = 0;
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  LaunchTrace::mark(a.trace, kChildExec);
  r = sys(SYS_execve, a.executable, a.argv, a.envp);
  childFail(a, {ChildStep::kExec, errOf(r), 0});
}

// ---------------------------------------------------------------------------------------
// The parent.

std::string rlimitName(int resource) {
  switch (resource) {
    case RLIMIT_NOFILE:
      return "RLIMIT_NOFILE";
    case RLIMIT_CORE:
      return "RLIMIT_CORE";
    case RLIMIT_NPROC:
      return "RLIMIT_NPROC";
  }
  return "rlimit " + std::to_string(resource);
}

// Names the failed step for the error message, e.g. "bind /x read-only at /var/task".
std::string describeStep(const ChildStatus& s, const MountPlan& plan, const ProcessSpec& spec) {
  auto op = [&](const char* suffix) {
    size_t i = static_cast<size_t>(s.index);
    return (i < plan.ops.size() ? plan.ops[i].what : "mount #" + std::to_string(i)) + suffix;
  };
  switch (s.step) {
    case ChildStep::kOk:
      return "sandbox setup";
    case ChildStep::kCloseFds:
      return "close inherited fds";
    case ChildStep::kSetsid:
      return "setsid";
    case ChildStep::kPdeathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case ChildStep::kMakePrivate:
      return "make mounts private";
    case ChildStep::kBindRoot:
      return "bind the root skeleton " + plan.root_dir;
    case ChildStep::kMount:
      return op("");
    case ChildStep::kRemount:
      return op(" (remount)");
    case ChildStep::kPivotRoot:
      return "pivot_root into " + plan.root_dir;
    case ChildStep::kDetachOldRoot:
      return "detach the old root";
    case ChildStep::kRemountRootReadOnly:
      return "remount the root read-only";
    case ChildStep::kHostname:
      return "sethostname";
    case ChildStep::kWaitForParent:
      return "wait for the parent";
    case ChildStep::kDropBoundingSet:
      return "drop capability " + std::to_string(s.index) + " from the bounding set";
    case ChildStep::kSetgroups:
      return "setgroups";
    case ChildStep::kSetgid:
      return "setresgid " + std::to_string(s.index);
    case ChildStep::kSetuid:
      return "setresuid " + std::to_string(s.index);
    case ChildStep::kDropCaps:
      return "capset (drop all)";
    case ChildStep::kClearAmbientCaps:
      return "clear ambient capabilities";
    case ChildStep::kRlimit:
      return "setrlimit " + rlimitName(s.index);
    case ChildStep::kChdir:
      return "chdir " + spec.cwd;
    case ChildStep::kStdio:
      return "set up stdio";
    case ChildStep::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case ChildStep::kSeccomp:
      return "install the seccomp filter";
    case ChildStep::kExec:
      return "exec " + spec.executable;
  }
  return "sandbox setup";
}

std::vector<char*> cArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Moves fd above the standard slots (a server run with stdio closed may hand out 0..2),
// so that the child's dup3 onto 0..2 cannot overwrite a source before using it.
Result<void> liftFd(UniqueFd& fd) {
  if (fd.get() > 2) return {};
  int lifted = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (lifted < 0) return sysError("fcntl(F_DUPFD_CLOEXEC)", errno);
  fd.reset(lifted);
  return {};
}

// The child's stack, with a guard page below it, in the server's address space.
class ChildStack {
 public:
  static constexpr size_t kBytes = 64 * 1024;
  static constexpr size_t kGuard = 4096;
  ChildStack() {
    void* p = ::mmap(nullptr, kBytes + kGuard, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    ::mprotect(base_, kGuard, PROT_NONE);
  }
  ~ChildStack() {
    if (base_ != nullptr) ::munmap(base_, kBytes + kGuard);
  }
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool valid() const { return base_ != nullptr; }
  void* top() const { return base_ + kGuard + kBytes; }

 private:
  char* base_ = nullptr;
};

class SandboxProcess final : public Process {
 public:
  SandboxProcess(pid_t pid, UniqueFd pidfd, UniqueFd output, UniqueFd listener,
                 std::unique_ptr<InstanceHooks> hooks, HostIdSlots::Lease lease,
                 std::unique_ptr<EgressLease> egress, std::string proc_root)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        output_(std::move(output)),
        listener_(std::move(listener)),
        hooks_(std::move(hooks)),
        lease_(std::move(lease)),
        egress_(std::move(egress)),
        proc_root_(std::move(proc_root)) {}

  // Kills and reaps the instance, then lets the hooks clean up (cgroups, scratch),
  // removes its veth pair and frees the host uid: nothing of the instance runs by then.
  ~SandboxProcess() override {
    if (!reaped_) {
      kill();
      reap(0);
    }
    hooks_.reset();
    egress_.reset();
  }

  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  pid_t pid() const override { return pid_; }
  int pidfd() const override { return pidfd_.get(); }
  int outputFd() const override { return output_.get(); }
  int releaseOutputFd() override { return output_.release(); }
  int takeRuntimeApiListener() override { return listener_.release(); }

  // The child is init of the instance's pid namespace: when it dies the kernel kills
  // every other process in it, and it becomes reapable only once they are all gone.
  void kill() override {
    if (reaped_) return;
    pidfdSendSignal(pidfd_.get(), SIGKILL);
  }

  bool tryReap(int* wait_status) override {
    if (!reaped_ && !reap(WNOHANG)) return false;
    if (wait_status != nullptr) *wait_status = status_;
    return true;
  }

  // Max Memory Used: the instance's own memory (anonymous, shmem, kernel, the processes'
  // peak RSS), not page cache: a function that fills its disk-backed /tmp did not use
  // that memory. After an OOM kill the group's peak is the truth (the limit was hit).
  int64_t maxMemoryBytes() const override {
    if (hooks_) {
      const int64_t peak = hooks_->peakMemoryBytes();
      if (peak > 0 && hooks_->oomKilled()) return peak;
      if (int64_t used = hooks_->usedMemoryBytes(); used > 0) return used;
      if (reaped_ && max_rss_bytes_ > 0) return max_rss_bytes_;
      if (peak > 0) return peak;
    }
    if (reaped_) return max_rss_bytes_;
    return readVmHwmBytes(proc_root_, pid_);
  }

  bool oomKilled() const override { return hooks_ && hooks_->oomKilled(); }

 private:
  bool reap(int options) {
    int status = 0;
    rusage usage{};
    pid_t r;
    do {
      r = ::wait4(pid_, &status, options, &usage);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno == ECHILD) {
      // Someone else reaped our child (a waitpid(-1) elsewhere in the server).
      log::error("sandbox", "instance reaped elsewhere", {{"pid", std::to_string(pid_)}});
      reaped_ = true;
      status_ = 255 << 8;
      return true;
    }
    if (r != pid_) return false;
    reaped_ = true;
    status_ = status;
    max_rss_bytes_ = static_cast<int64_t>(usage.ru_maxrss) * 1024;
    return true;
  }

  const pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd output_;
  UniqueFd listener_;
  std::unique_ptr<InstanceHooks> hooks_;
  HostIdSlots::Lease lease_;             // released after hooks_ (see the destructor)
  std::unique_ptr<EgressLease> egress_;  // null in isolated mode
  const std::string proc_root_;
  bool reaped_ = false;
  int status_ = 0;
  int64_t max_rss_bytes_ = 0;
};

// The fds of one launch. All CLOEXEC from birth: other server threads may spawn at the
// same time, and the child closes everything but its four anyway.
struct LaunchFds {
  UniqueFd error_read, error_write;  // EOF: the child exec'd; a record: the step that failed
  UniqueFd sync_read, sync_write;    // "go" from parent to child
  UniqueFd output_read, output_write;
  UniqueFd dev_null;  // the child's stdin
};

Result<LaunchFds> parentMakeFds() {
  LaunchFds f;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) return sysError("pipe2 (error pipe)", errno);
  f.error_read.reset(fds[0]);
  f.error_write.reset(fds[1]);
  // A socket pair, not a pipe: if the child has died already, "go" must come back as
  // EPIPE, not as a SIGPIPE to the server (MSG_NOSIGNAL).
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
    return sysError("socketpair (sync channel)", errno);
  }
  f.sync_read.reset(fds[0]);
  f.sync_write.reset(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) < 0) return sysError("pipe2 (output pipe)", errno);
  f.output_read.reset(fds[0]);
  f.output_write.reset(fds[1]);
  // Only our end is non-blocking: a child with non-blocking stdout would lose output.
  if (::fcntl(f.output_read.get(), F_SETFL, O_NONBLOCK) < 0) return sysError("fcntl", errno);
  f.dev_null.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!f.dev_null.valid()) return sysError("open /dev/null", errno);
  for (UniqueFd* fd : {&f.error_write, &f.sync_read, &f.output_write, &f.dev_null}) {
    if (Result<void> r = liftFd(*fd); !r) return r.error();
  }
  return f;
}

void parentReap(pid_t pid) {
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Waits for the child's exec (nullopt) or its failure record, at most `timeout`.
Result<std::optional<ChildStatus>> parentAwaitExec(int error_read,
                                                   std::chrono::milliseconds timeout) {
  ChildStatus failure{};
  size_t got = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got < sizeof failure) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{error_read, POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("sandbox: poll error pipe", errno);
    if (n == 0) {
      return makeError(ErrorCode::kInternal,
                       "sandbox: setup timed out after " + std::to_string(timeout.count()) + " ms");
    }
    ssize_t r = ::read(error_read, reinterpret_cast<char*>(&failure) + got, sizeof failure - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sysError("sandbox: read error pipe", errno);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  if (got == 0) return std::optional<ChildStatus>();
  if (got != sizeof failure) return makeError(ErrorCode::kInternal, "sandbox: short error report");
  return std::optional<ChildStatus>(failure);
}

class SandboxLauncher final : public ProcessLauncher {
 public:
  SandboxLauncher(SandboxLauncherConfig config, RootTemplate root)
      : config_(std::move(config)),
        root_(std::move(root)),
        slots_(std::make_shared<HostIdSlots>(config_.max_instances)),
        seccomp_(buildDefaultSeccompFilter()) {}

  Result<std::unique_ptr<Process>> launch(const ProcessSpec& spec) override;

 private:
  Result<std::unique_ptr<Process>> launchInSlot(const ProcessSpec& spec, HostIdSlots::Lease lease);
  ChildArgs childArgs(const ProcessSpec& spec, MountPlan& plan, const LaunchFds& fds,
                      const std::vector<char*>& argv, const std::vector<char*>& envp) const;
  Result<UniqueFd> parentPrepareChild(pid_t pid, uint32_t host_id, InstanceHooks* hooks,
                                      bool born_inside, const ProcessSpec& spec,
                                      std::unique_ptr<EgressLease>* egress,
                                      LaunchTrace* trace) const;

  const SandboxLauncherConfig config_;
  const RootTemplate root_;
  std::shared_ptr<HostIdSlots> slots_;
  const std::vector<sock_filter> seccomp_;
};

Result<std::unique_ptr<Process>> SandboxLauncher::launch(const ProcessSpec& spec) {
  if (spec.sandbox.network == NetworkMode::kEgress && !config_.egress) {
    return makeError(ErrorCode::kUnavailable,
                     "the function's network mode is egress, which this host cannot provide (" +
                         config_.egress_unavailable + ")");
  }
  if (spec.executable.empty() || spec.executable.front() != '/') {
    return makeError(ErrorCode::kInvalidParameter,
                     "executable must be an absolute path: '" + spec.executable + "'");
  }
  if (spec.argv.empty()) return makeError(ErrorCode::kInvalidParameter, "argv is empty");
  std::optional<int> slot = slots_->acquire();
  if (!slot) {
    return makeError(
        ErrorCode::kUnavailable,
        "sandbox: all " + std::to_string(config_.max_instances) + " instance slots are in use");
  }
  return launchInSlot(spec, HostIdSlots::Lease(slots_, *slot));
}

ChildArgs SandboxLauncher::childArgs(const ProcessSpec& spec, MountPlan& plan, const LaunchFds& fds,
                                     const std::vector<char*>& argv,
                                     const std::vector<char*>& envp) const {
  ChildArgs args{};
  args.mounts = plan.childView();
  args.creds = {config_.sandbox_uid, config_.sandbox_gid, config_.hostname.c_str(),
                config_.hostname.size()};
  args.seccomp = {static_cast<unsigned short>(seccomp_.size()),
                  const_cast<sock_filter*>(seccomp_.data())};
  rlimit nofile_now{};
  ::getrlimit(RLIMIT_NOFILE, &nofile_now);
  // Never above our hard limit: without CAP_SYS_RESOURCE raising it would fail.
  uint64_t nofile = std::min<uint64_t>(config_.max_open_files, nofile_now.rlim_max);
  args.rlimits[args.rlimit_count++] = {RLIMIT_NOFILE, nofile, nofile};
  args.rlimits[args.rlimit_count++] = {RLIMIT_CORE, 0, 0};
  if (spec.sandbox.max_pids > 0) {
    // Counted per host uid, which is the instance's own: a fork bomb stops at its limit
    // even where no pids cgroup exists.
    rlimit nproc{};
    ::getrlimit(RLIMIT_NPROC, &nproc);
    uint64_t n = std::min<uint64_t>(spec.sandbox.max_pids, nproc.rlim_max);
    args.rlimits[args.rlimit_count++] = {RLIMIT_NPROC, n, n};
  }
  args.executable = spec.executable.c_str();
  args.argv = argv.data();
  args.envp = envp.data();
  args.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  args.error_fd = fds.error_write.get();
  args.sync_fd = fds.sync_read.get();
  args.stdin_fd = fds.dev_null.get();
  args.output_fd = fds.output_write.get();
  int keep[4] = {args.error_fd, args.sync_fd, args.stdin_fd, args.output_fd};
  std::sort(std::begin(keep), std::end(keep));
  std::copy(std::begin(keep), std::end(keep), args.keep_fds);
  args.max_fd = static_cast<int>(std::min<rlim_t>(nofile_now.rlim_cur, 1 << 20));
  return args;
}

// Between clone and "go", while the child builds its root: the id maps (before the child
// switches uid), cgroups (before it execs; unless it was born in them), the egress link if
// any, and the Runtime API listener in its network.
Result<UniqueFd> SandboxLauncher::parentPrepareChild(pid_t pid, uint32_t host_id,
                                                     InstanceHooks* hooks, bool born_inside,
                                                     const ProcessSpec& spec,
                                                     std::unique_ptr<EgressLease>* egress,
                                                     LaunchTrace* trace) const {
  if (Result<void> r = writeIdMaps(config_.proc_root, pid, {config_.sandbox_uid, host_id},
                                   {config_.sandbox_gid, host_id});
      !r) {
    return r.error().withContext("sandbox");
  }
  LaunchTrace::mark(trace, kIdMapsWritten);
  if (hooks != nullptr && !born_inside) {
    if (Result<void> r = hooks->attach(pid); !r) {
      return r.error().withContext("sandbox: attach to cgroups");
    }
  }
  LaunchTrace::mark(trace, kAttached);
  std::string ns_path = config_.proc_root + "/" + std::to_string(pid) + "/ns/net";
  UniqueFd netns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return sysError("sandbox: open " + ns_path, errno);
  std::function<Result<void>()> inside;
  if (spec.sandbox.network == NetworkMode::kEgress) {
    Result<std::unique_ptr<EgressLease>> lease = config_.egress->attach(netns.get());
    if (!lease) return lease.error().withContext("sandbox");
    *egress = std::move(*lease);
    inside = [lease = egress->get()] { return lease->configureInside(); };
  }
  Result<UniqueFd> listener = openListenerInNetns(netns.get(), spec.sandbox.runtime_api_host,
                                                  spec.sandbox.runtime_api_port, inside);
  if (!listener) return listener.error().withContext("sandbox: runtime API listener");
  return listener;
}

Result<std::unique_ptr<Process>> SandboxLauncher::launchInSlot(const ProcessSpec& spec,
                                                               HostIdSlots::Lease lease) {
  std::optional<LaunchTrace> trace_storage;
  if (LaunchTrace::enabled()) trace_storage.emplace();
  LaunchTrace* trace = trace_storage ? &*trace_storage : nullptr;
  LaunchTrace::mark(trace, kStart);
  const uint32_t host_id = config_.host_id_base + static_cast<uint32_t>(lease.slot());
  std::unique_ptr<InstanceHooks> hooks;
  if (config_.hooks) {
    InstanceIdentity identity{host_id, host_id, config_.sandbox_uid, config_.sandbox_gid};
    Result<std::unique_ptr<InstanceHooks>> made = config_.hooks(spec, identity);
    if (!made) return made.error().withContext("sandbox: instance resources");
    hooks = std::move(*made);
  }
  LaunchTrace::mark(trace, kHooksMade);
  std::string scratch = hooks ? hooks->scratchDir() : std::string();
  if (scratch.empty()) scratch = spec.sandbox.scratch_dir;
  Result<MountPlan> planned = root_.plan({spec.sandbox.code_dir, spec.sandbox.runtime_dir, scratch,
                                          spec.sandbox.ephemeral_storage_mb, config_.dev_shm_mb});
  if (!planned) return planned.error().withContext("sandbox");
  Result<LaunchFds> made_fds = parentMakeFds();
  if (!made_fds) return made_fds.error();
  LaunchFds& fds = *made_fds;
  LaunchTrace::mark(trace, kPlanned);

  // The child reads all of these (and seccomp_) in place: they stay put until it execs.
  MountPlan plan = std::move(*planned);
  std::vector<char*> argv = cArray(spec.argv);
  std::vector<char*> envp = cArray(spec.env);
  ChildArgs args = childArgs(spec, plan, fds, argv, envp);
  args.trace = trace;
  ChildStack stack;
  if (!stack.valid()) return sysError("mmap child stack", errno);
  // Born inside its cgroups, the child needs no attach after clone: that attach waited
  // for an RCU grace period (5-16 ms here), most of what the sandbox added to a start.
  const bool born_inside = hooks && hooks->enterForClone();

  int pidfd_raw = -1;
  pid_t pid;
  int clone_errno = 0;
  {
    // No handler of the server may run in the child before it has reset them all.
    sigset_t all, saved;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid = ::clone(childMain, stack.top(), CLONE_VM | CLONE_PIDFD | kSandboxNamespaces | SIGCHLD,
                  &args, &pidfd_raw);
    if (pid < 0) clone_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  }
  if (born_inside) hooks->leaveAfterClone();
  if (pid < 0) return sysError("sandbox: clone with new namespaces", clone_errno);
  LaunchTrace::mark(trace, kCloned);
  UniqueFd pidfd(pidfd_raw);
  // Our copies go: the child's error-pipe end must be the only one, for EOF to mean exec.
  fds.error_write.reset();
  fds.sync_read.reset();
  fds.output_write.reset();
  fds.dev_null.reset();
  auto childError = [&](const ChildStatus& f) {
    std::string what = describeStep(f, plan, spec);
    return sysError(f.step == ChildStep::kExec ? what : "sandbox: " + what, f.err);
  };
  // Every early return from here kills the child and waits until it is gone, i.e. no
  // longer runs on `stack` in our memory. A child that failed first also breaks our steps
  // (its /proc/<pid>/ns is gone once it exits): then its own report names the cause.
  auto abortChild = [&](const Error& error) -> Error {
    pidfdSendSignal(pidfd.get(), SIGKILL);
    parentReap(pid);
    ChildStatus f{};
    pollfd pfd{fds.error_read.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) == 1 && ::read(fds.error_read.get(), &f, sizeof f) == sizeof f) {
      return childError(f);
    }
    return error;
  };

  std::unique_ptr<EgressLease> egress;
  Result<UniqueFd> listener =
      parentPrepareChild(pid, host_id, hooks.get(), born_inside, spec, &egress, trace);
  if (!listener) return abortChild(listener.error());
  LaunchTrace::mark(trace, kListening);
  // EPIPE: the child failed before waiting for us; its report is in the error pipe.
  if (::send(fds.sync_write.get(), "g", 1, MSG_NOSIGNAL) != 1 && errno != EPIPE &&
      errno != ECONNRESET) {
    return abortChild(sysError("sandbox: release the child", errno));
  }
  fds.sync_write.reset();
  LaunchTrace::mark(trace, kReleased);

  // EOF means exec: the kernel closes CLOEXEC fds after switching to the new memory, so
  // the stack and args are free then.
  Result<std::optional<ChildStatus>> failure =
      parentAwaitExec(fds.error_read.get(), config_.setup_timeout);
  if (!failure) return abortChild(failure.error());
  if (failure->has_value()) {
    parentReap(pid);  // it has exited already
    return childError(**failure);
  }
  if (trace != nullptr) {
    LaunchTrace::mark(trace, kExecSeen);
    log::info("sandbox", "sandbox launch trace",
              {{"instance", spec.sandbox.instance_id}, {"steps", trace->describe()}});
  }
  return std::unique_ptr<Process>(std::make_unique<SandboxProcess>(
      pid, std::move(pidfd), std::move(fds.output_read), std::move(*listener), std::move(hooks),
      std::move(lease), std::move(egress), config_.proc_root));
}

}  // namespace

Result<std::unique_ptr<ProcessLauncher>> makeSandboxLauncher(SandboxLauncherConfig config) {
  if (config.max_instances <= 0 ||
      static_cast<uint64_t>(config.host_id_base) + static_cast<uint64_t>(config.max_instances) >
          0xFFFFFFFEull) {
    return makeError(ErrorCode::kInvalidParameter, "sandbox: host id range out of bounds");
  }
  if (config.host_id_base == 0) {
    return makeError(ErrorCode::kInvalidParameter, "sandbox: host ids must not start at 0");
  }
  RootSkeletonOptions skeleton{config.sandbox_uid, config.sandbox_gid, config.sandbox_user,
                               config.hostname, config.extra_readonly_paths};
  Result<RootTemplate> root = RootTemplate::prepare(config.root_dir, skeleton);
  if (!root) return root.error().withContext("sandbox root skeleton");
  return std::unique_ptr<ProcessLauncher>(
      std::make_unique<SandboxLauncher>(std::move(config), std::move(*root)));
}

}  // namespace nimbus::sandbox
