// Starting and ending instance processes. This is the one seam where the sandbox
// (namespaces, cgroups, seccomp) plugs in; the plain launcher starts an ordinary child
// in its own session and process group. Knows nothing of functions or HTTP.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace nimbus::sandbox {

enum class NetworkMode {
  kIsolated,  // loopback only: the instance reaches its Runtime API and nothing else
  kEgress,    // outbound connections, but never the host's loopback or other instances
};

// What an isolating launcher needs beyond the plain process description. Paths are host
// paths; `executable`, `cwd` and the env of the ProcessSpec are as seen INSIDE the
// sandbox (e.g. /var/runtime/bootstrap, /var/task). The plain launcher ignores this.
struct SandboxSpec {
  std::string instance_id;         // names the cgroup and the scratch folder
  std::string code_dir;            // mounted read-only at /var/task
  std::string runtime_dir;         // mounted read-only at /var/runtime (empty: none)
  std::string scratch_dir;         // host folder for this instance's /tmp backing
  int memory_mb = 128;             // memory limit, no swap; CPU share derives from it
  int ephemeral_storage_mb = 512;  // size of /tmp
  int max_pids = 1024;
  NetworkMode network = NetworkMode::kIsolated;
  // Where the Runtime API must be reachable inside the sandbox (AWS_LAMBDA_RUNTIME_API).
  std::string runtime_api_host = "127.0.0.1";
  int runtime_api_port = 9001;
};

struct ProcessSpec {
  std::string executable;         // absolute path, exec'd directly (no shell, no PATH search)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "KEY=VALUE"; the child's whole environment
  std::string cwd;
  int memory_mb = 128;  // for the sandbox's limits; the plain launcher ignores it
  SandboxSpec sandbox;  // ignored by the plain launcher
};

// A running (or exited) child. Owns its pidfd and the read end of its output pipe.
class Process {
 public:
  virtual ~Process() = default;
  virtual pid_t pid() const = 0;
  // A pidfd (readable once the child exits), for async waiting without pid reuse.
  virtual int pidfd() const = 0;
  // Read end of a non-blocking pipe carrying the child's stdout and stderr, merged.
  // Ownership stays with the Process unless releaseOutputFd() is called.
  virtual int outputFd() const = 0;
  virtual int releaseOutputFd() = 0;
  // SIGKILLs the whole process group (the child made its own). Safe to call repeatedly.
  virtual void kill() = 0;
  // Reaps the child if it has exited; returns true and fills the status once reaped.
  // Non-blocking.
  virtual bool tryReap(int* wait_status) = 0;
  // Max RSS in bytes, or peak cgroup memory in the sandbox; 0 if unknown.
  virtual int64_t maxMemoryBytes() const = 0;
  // A listening TCP socket bound to runtime_api_host:runtime_api_port INSIDE the
  // instance's network namespace, for the Runtime API endpoint to accept on; the caller
  // takes ownership. -1 when the process shares the host's network (plain launcher):
  // then the endpoint listens on host loopback itself.
  virtual int takeRuntimeApiListener() { return -1; }
  // True once the process is known to have been killed by its memory limit.
  virtual bool oomKilled() const { return false; }
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // Starts the process. Errors carry errno (e.g. exec of a missing file reports ENOENT
  // from the child, not a silent exit).
  virtual Result<std::unique_ptr<Process>> launch(const ProcessSpec& spec) = 0;
};

// The launcher without isolation: a child in its own session, with the parent-death
// signal set so that no child outlives nimbus.
// Its processes are not thread-safe: one owner (e.g. one strand) calls them. The
// launching thread must outlive the children (see spawn.h on PR_SET_PDEATHSIG).
std::unique_ptr<ProcessLauncher> makePlainLauncher();
// The same, reading /proc/<pid>/status under proc_root (a fake tree in tests).
std::unique_ptr<ProcessLauncher> makePlainLauncher(std::string proc_root);

}  // namespace nimbus::sandbox
