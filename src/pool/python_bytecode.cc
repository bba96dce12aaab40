// compileall run as a child of the server (spawned without forking it) and waited for.
#include "pool/python_bytecode.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "sandbox/spawn.h"

namespace nimbus::pool {

Result<void> compilePythonTree(const std::filesystem::path& dir,
                               const std::filesystem::path& python,
                               std::chrono::milliseconds timeout) {
  if (::access(python.c_str(), X_OK) != 0) {
    return makeError(ErrorCode::kUnavailable, python.string() + " is missing", errno);
  }
  sandbox::ProcessSpec spec;
  spec.executable = python.string();
  // -S: no site hooks (the host's .pth files import certifi); -j 1: one process.
  spec.argv = {python.string(), "-S", "-m", "compileall", "-q", "-j", "1", dir.string()};
  spec.env = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8"};
  spec.cwd = "/";
  Result<sandbox::SpawnedChild> child = sandbox::spawnChild(spec);
  if (!child) return child.error().withContext("compileall " + dir.string());
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool exited = false;
  bool output_open = true;
  while (!exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // A negative fd is skipped by poll: after EOF only the exit is waited for.
    pollfd fds[2] = {{child->pidfd.get(), POLLIN, 0},
                     {output_open ? child->output.get() : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    char buf[4096];
    ssize_t n;
    while (output_open && (n = ::read(child->output.get(), buf, sizeof buf)) != 0) {
      if (n < 0) break;  // EAGAIN: nothing more for now
      if (output.size() < 4096) output.append(buf, static_cast<size_t>(n));
    }
    if (output_open && n == 0) output_open = false;
    exited = (fds[0].revents & POLLIN) != 0;
  }
  if (!exited) ::syscall(SYS_pidfd_send_signal, child->pidfd.get(), SIGKILL, nullptr, 0);
  int status = 0;
  while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!exited) {
    return makeError(ErrorCode::kInternal, "compileall " + dir.string() + " timed out after " +
                                               std::to_string(timeout.count()) + " ms");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(ErrorCode::kInternal, "compileall " + dir.string() + " failed (status " +
                                               std::to_string(status) + "): " + output);
  }
  return {};
}

void BytecodeCompiler::ensureCompiled(const std::filesystem::path& dir) {
  {
    std::lock_guard lock(mutex_);
    if (done_.count(dir.string())) return;
  }
  auto started = std::chrono::steady_clock::now();
  Result<void> r = compilePythonTree(dir, python_);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started);
  if (r) {
    log::info("pool", "python bytecode compiled",
              {{"dir", dir.string()}, {"ms", std::to_string(ms.count())}});
  } else {
    log::warn("pool",
              "cannot precompile python bytecode: sandboxed instances compile it "
              "at every cold start",
              {{"dir", dir.string()}, {"error", r.error().message}});
  }
  std::lock_guard lock(mutex_);
  done_.insert(dir.string());
}

bool isPythonRuntime(const std::string& runtime) { return runtime.rfind("python", 0) == 0; }

}  // namespace nimbus::pool
