// Starting one child from a large multi-threaded parent without fork(): clone with
// CLONE_VM|CLONE_VFORK|CLONE_PIDFD, a checklist of async-signal-safe steps, then execve.
// A failure before exec travels back over a CLOEXEC pipe as (step, errno).
#pragma once

#include <sys/types.h>

#include "base/error.h"
#include "sandbox/process.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox {

struct SpawnedChild {
  pid_t pid = -1;
  UniqueFd pidfd;   // CLOEXEC; readable once the child exits
  UniqueFd output;  // read end of the child's stdout+stderr pipe; CLOEXEC, non-blocking
};

// Starts spec.executable in a new session (pgid == sid == pid) with the parent-death
// signal SIGKILL, cwd spec.cwd (unchanged if empty), stdin /dev/null, stdout and stderr
// one pipe, no other fds, default signal dispositions, an empty signal mask and exactly
// spec.env. Returns once the child has exec'd. Errors: kInvalidParameter for an unusable
// spec; kInternal with errno for a failed syscall, e.g. "exec /x: No such file or
// directory" (ENOENT). On error no child is left behind: it has been reaped.
//
// Threading: callable from any thread, but PR_SET_PDEATHSIG is tied to the calling
// *thread*: if that thread exits, the child gets SIGKILL. Call from a thread that lives
// as long as the children should (the server's io threads), never from a short-lived one.
Result<SpawnedChild> spawnChild(const ProcessSpec& spec);

}  // namespace nimbus::sandbox
