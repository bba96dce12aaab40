// Starting one child from a large multi-threaded parent without fork(): clone with
// CLONE_VM|CLONE_VFORK|CLONE_PIDFD, a checklist of async-signal-safe steps, then execve.
// A failure before exec travels back over a CLOEXEC pipe as (step, errno).
#include "sandbox/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

namespace nimbus::sandbox {
namespace {

// Which step of childSetup failed; sent to the parent with the errno.
enum class ChildStep : int { kSetsid, kPdeathsig, kParentGone, kChdir, kFds, kCloseFds, kExec };

struct ChildFailure {
  ChildStep step;
  int err;
};

// Everything the child needs, prepared by the parent: in a CLONE_VM child there is no
// allocation, no locks and no C++ beyond plain loads and stores.
struct ChildArgs {
  const char* executable;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep the parent's
  pid_t parent_pid;
  int stdin_fd;
  int output_fd;
  int error_fd;
};

// The child runs on a stack of its own inside the parent's address space; it only needs
// a few frames of libc syscall wrappers.
constexpr size_t kChildStackBytes = 64 * 1024;

// Code on the child's side is built without sanitizers, as glibc's posix_spawn child is:
// their runtime is not async-signal-safe, and the redzones a sanitized frame leaves on
// the child stack (the child never returns) break the next child that reuses the memory.
#define NIMBUS_CHILD_SIDE [[gnu::no_sanitize("address", "undefined")]]

// Runs in the child. Only async-signal-safe calls: the address space is the parent's,
// and another parent thread may have held any libc lock at the time of clone.
NIMBUS_CHILD_SIDE [[noreturn]] void childFail(const ChildArgs& a, ChildStep step, int err) {
  ChildFailure f{step, err};
  // One write of 8 bytes into an empty pipe is atomic and cannot block.
  [[maybe_unused]] ssize_t n = ::write(a.error_fd, &f, sizeof f);
  ::_exit(127);
}

// Runs in the child: moves fd above 2 if it sits on a standard slot, so that the dup2
// calls below cannot overwrite a source before it is used.
NIMBUS_CHILD_SIDE int childLiftFd(int fd) { return fd > 2 ? fd : ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

// Runs in the child, one step per line, each failing loudly.
NIMBUS_CHILD_SIDE int childSetup(void* raw) {
  ChildArgs& a = *static_cast<ChildArgs*>(raw);

  // The parent blocked every signal around clone, so no parent handler can run here on
  // shared memory. Reset handlers (and SIG_IGN, which exec would keep) before unblocking.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    ::sigaction(sig, &sa, nullptr);  // fails harmlessly for SIGKILL, SIGSTOP and libc's own
  }

  // Own session and process group, and no controlling tty (TIOCSTI is live on our hosts).
  if (::setsid() < 0) childFail(a, ChildStep::kSetsid, errno);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) childFail(a, ChildStep::kPdeathsig, errno);
  // If nimbus died before the line above, the signal will never come: check by hand.
  if (::getppid() != a.parent_pid) childFail(a, ChildStep::kParentGone, ESRCH);
  if (a.cwd != nullptr && ::chdir(a.cwd) < 0) childFail(a, ChildStep::kChdir, errno);

  // The error pipe too may sit on 0..2 if the server runs with stdio closed.
  int error_fd = childLiftFd(a.error_fd);
  if (error_fd < 0) childFail(a, ChildStep::kFds, errno);
  a.error_fd = error_fd;  // the parent no longer reads this field
  int in = childLiftFd(a.stdin_fd);
  int out = childLiftFd(a.output_fd);
  if (in < 0 || out < 0) childFail(a, ChildStep::kFds, errno);
  // dup2 clears CLOEXEC on the target, so these three survive exec.
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
    childFail(a, ChildStep::kFds, errno);
  }
  // Everything above 2 closes at exec, including the error pipe, whose EOF then tells
  // the parent that exec succeeded. Closing outright would lose the error pipe.
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    // Kernels before 5.11: close all but the error pipe (which is CLOEXEC already).
    if ((a.error_fd > 3 && ::close_range(3, a.error_fd - 1, 0) < 0) ||
        ::close_range(a.error_fd + 1, ~0U, 0) < 0) {
      childFail(a, ChildStep::kCloseFds, errno);
    }
  }

  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(a.executable, a.argv, a.envp);
  childFail(a, ChildStep::kExec, errno);
}

std::string stepName(ChildStep step, const ProcessSpec& spec) {
  switch (step) {
    case ChildStep::kSetsid:
      return "setsid";
    case ChildStep::kPdeathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case ChildStep::kParentGone:
      return "parent exited during spawn";
    case ChildStep::kChdir:
      return "chdir " + spec.cwd;
    case ChildStep::kFds:
      return "set up stdio";
    case ChildStep::kCloseFds:
      return "close_range";
    case ChildStep::kExec:
      return "exec " + spec.executable;
  }
  return "spawn";
}

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::system_category().message(err), err);
}

// Pointers into the spec's strings, null-terminated, as execve wants them. The spec
// outlives the child's use of them: the parent is suspended until exec.
std::vector<char*> cArray(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Blocks every signal in the calling thread for its lifetime, so that no handler of the
// server runs inside the CLONE_VM child before that child has reset its dispositions.
class ScopedBlockAllSignals {
 public:
  ScopedBlockAllSignals() {
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
  }
  ~ScopedBlockAllSignals() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  ScopedBlockAllSignals(const ScopedBlockAllSignals&) = delete;
  ScopedBlockAllSignals& operator=(const ScopedBlockAllSignals&) = delete;

 private:
  sigset_t saved_;
};

// Parent side: clones and returns once the child has exec'd or exited (CLONE_VFORK).
Result<pid_t> parentClone(ChildArgs& args, int* pidfd) {
  void* stack = ::mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) return sysError("mmap child stack", errno);
  pid_t pid;
  int clone_errno = 0;
  {
    ScopedBlockAllSignals blocked;
    // CLONE_VM|CLONE_VFORK: no page tables are copied however big the server is, and
    // this thread sleeps until exec. SIGCHLD keeps the child waitable by wait4.
    pid = ::clone(childSetup, static_cast<char*>(stack) + kChildStackBytes,
                  CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args, pidfd);
    if (pid < 0) clone_errno = errno;
  }
  ::munmap(stack, kChildStackBytes);
  if (pid < 0) return sysError("clone", clone_errno);
  return pid;
}

// Parent side: reaps a child that reported failure; it has called _exit already.
void parentReapFailed(pid_t pid) {
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<SpawnedChild> spawnChild(const ProcessSpec& spec) {
  if (spec.executable.empty() || spec.executable.front() != '/') {
    return makeError(ErrorCode::kInvalidParameter,
                     "executable must be an absolute path: '" + spec.executable + "'");
  }
  if (spec.argv.empty()) return makeError(ErrorCode::kInvalidParameter, "argv is empty");

  // Every fd is CLOEXEC from birth: other server threads may spawn at the same time.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return sysError("pipe2 (error pipe)", errno);
  UniqueFd error_read(fds[0]), error_write(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) < 0) return sysError("pipe2 (output pipe)", errno);
  UniqueFd output_read(fds[0]), output_write(fds[1]);
  // Only the parent's end is non-blocking: a child with non-blocking stdout would see
  // EAGAIN on a full pipe and lose output.
  if (::fcntl(output_read.get(), F_SETFL, O_NONBLOCK) < 0) return sysError("fcntl", errno);
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return sysError("open /dev/null", errno);

  std::vector<char*> argv = cArray(spec.argv);
  std::vector<char*> envp = cArray(spec.env);
  ChildArgs args{spec.executable.c_str(),
                 argv.data(),
                 envp.data(),
                 spec.cwd.empty() ? nullptr : spec.cwd.c_str(),
                 ::getpid(),
                 dev_null.get(),
                 output_write.get(),
                 error_write.get()};

  int pidfd = -1;
  Result<pid_t> pid = parentClone(args, &pidfd);
  if (!pid) return pid.error();
  SpawnedChild child{*pid, UniqueFd(pidfd), std::move(output_read)};

  // The child has exec'd (its copy of the error pipe closed) or written a failure and
  // exited; either way nothing more will come, so a non-blocking read is exact.
  error_write.reset();
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(error_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof failure) {
    parentReapFailed(child.pid);
    return sysError(stepName(failure.step, spec), failure.err);
  }
  return child;
}

}  // namespace nimbus::sandbox
