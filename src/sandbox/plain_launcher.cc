// The plain launcher: an ordinary child in its own session and process group, ended
// with its whole group. No namespaces, cgroups or seccomp; that is the sandbox's job.
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "base/log.h"
#include "sandbox/proc_status.h"
#include "sandbox/process.h"
#include "sandbox/spawn.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {
namespace {

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so its wrapper cannot be linked from C++.
int pidfdSendSignal(int pidfd, int sig) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
}

class PlainProcess final : public Process {
 public:
  PlainProcess(SpawnedChild child, std::string proc_root)
      : pid_(child.pid),
        pidfd_(std::move(child.pidfd)),
        output_(std::move(child.output)),
        proc_root_(std::move(proc_root)) {}

  // Leaves neither a zombie nor a stray group member behind. Blocking is fine: after
  // SIGKILL the wait is short unless the child sits in uninterruptible sleep.
  ~PlainProcess() override {
    if (reaped_) return;
    kill();
    reap(0);
  }

  PlainProcess(const PlainProcess&) = delete;
  PlainProcess& operator=(const PlainProcess&) = delete;

  pid_t pid() const override { return pid_; }
  int pidfd() const override { return pidfd_.get(); }
  int outputFd() const override { return output_.get(); }
  int releaseOutputFd() override { return output_.release(); }

  void kill() override {
    // Once reaped, the pid and pgid may belong to someone else: never signal them then.
    // Until then the leader (even as a zombie) pins both numbers, so this is safe.
    if (reaped_) return;
    pidfdSendSignal(pidfd_.get(), SIGKILL);
    ::kill(-pid_, SIGKILL);  // the group: whatever the leader started
  }

  bool tryReap(int* wait_status) override {
    if (!reaped_) {
      // Peek first (WNOWAIT): the leader's zombie keeps the pgid from reuse, so the rest
      // of its group can be ended safely before the zombie is released.
      siginfo_t info{};
      if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno != ECHILD) return false;
        // Someone else reaped our child (a waitpid(-1) elsewhere in the server). The
        // status is lost; report a failure rather than waiting forever.
        log::error("sandbox", "child reaped elsewhere", {{"pid", std::to_string(pid_)}});
        reaped_ = true;
        status_ = 255 << 8;
      } else if (info.si_pid == 0) {
        return false;  // still running
      } else {
        // TODO(security): a member that left the group (setsid) escapes this; the pid
        // namespace of the sandbox launcher covers that case.
        ::kill(-pid_, SIGKILL);
        if (!reap(WNOHANG)) return false;
      }
    }
    if (wait_status != nullptr) *wait_status = status_;
    return true;
  }

  int64_t maxMemoryBytes() const override {
    if (reaped_) return max_rss_bytes_;
    return readVmHwmBytes(proc_root_, pid_);
  }

 private:
  // wait4 rather than waitid: it hands back the child's rusage, whose ru_maxrss outlives
  // the child's /proc entry.
  bool reap(int options) {
    int status = 0;
    rusage usage{};
    pid_t r;
    do {
      r = ::wait4(pid_, &status, options, &usage);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    reaped_ = true;
    status_ = status;
    max_rss_bytes_ = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is KiB
    // The pidfd stays open until destruction: an async wait may still be registered on it.
    return true;
  }

  const pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd output_;
  const std::string proc_root_;
  bool reaped_ = false;
  int status_ = 0;
  int64_t max_rss_bytes_ = 0;
};

class PlainLauncher final : public ProcessLauncher {
 public:
  explicit PlainLauncher(std::string proc_root) : proc_root_(std::move(proc_root)) {}

  Result<std::unique_ptr<Process>> launch(const ProcessSpec& spec) override {
    Result<SpawnedChild> child = spawnChild(spec);
    if (!child) return child.error();  // already names the step and the path
    return std::unique_ptr<Process>(std::make_unique<PlainProcess>(std::move(*child), proc_root_));
  }

 private:
  const std::string proc_root_;
};

}  // namespace

std::unique_ptr<ProcessLauncher> makePlainLauncher() { return makePlainLauncher("/proc"); }

std::unique_ptr<ProcessLauncher> makePlainLauncher(std::string proc_root) {
  return std::make_unique<PlainLauncher>(std::move(proc_root));
}

}  // namespace nimbus::sandbox
