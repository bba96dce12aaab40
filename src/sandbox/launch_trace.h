// Timestamps of one sandbox launch, parent and child side, for profiling the cold-start
// path: off unless NIMBUS_SANDBOX_TRACE is set in nimbus's environment, then one log line
// per launch ("sandbox launch trace") with the microseconds between the steps.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

#include "sandbox/child_syscall.h"

namespace nimbus::sandbox {

// The steps, in the order they are expected to happen. The child writes its own
// (kChild*) into the shared memory of the CLONE_VM child with a raw clock_gettime.
enum LaunchMark : int {
  kStart = 0,
  kHooksMade,  // cgroups made, /tmp volume taken
  kPlanned,    // mount plan, fds
  kCloned,     // clone returned in the parent
  kIdMapsWritten,
  kAttached,   // cgroups
  kListening,  // Runtime API listener open inside the instance's network
  kReleased,   // "go" sent
  kExecSeen,   // the error pipe's EOF: the child exec'd
  kChildStart,
  kChildRootBuilt,
  kChildGoSeen,
  kChildExec,
  kMarkCount,
};

struct LaunchTrace {
  int64_t ns[kMarkCount] = {};

  static bool enabled();  // NIMBUS_SANDBOX_TRACE set (read once)

  NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] static int64_t nowNs() {
    timespec ts{};
    child::sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }
  NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] static void mark(LaunchTrace* t, LaunchMark m) {
    if (t != nullptr) t->ns[m] = nowNs();
  }
  // "hooks_us=120 plan_fds_us=40 ...": microseconds since the previous parent step; the
  // child's steps from the clone call on.
  std::string describe() const;
};

}  // namespace nimbus::sandbox
