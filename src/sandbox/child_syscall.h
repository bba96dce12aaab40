// Raw system calls and the step codes of the sandbox child. The child shares the
// server's memory (CLONE_VM) while the launching thread keeps running, so it must not
// touch errno (thread-local storage it shares with that thread): these return -errno.
#pragma once

#include <sys/syscall.h>

#include <cstdint>
#include <type_traits>

// Code that runs in the child is built without sanitizers, as glibc's posix_spawn child
// is: their runtime is not async-signal-safe and expects its own thread's state.
#define NIMBUS_SANDBOX_CHILD [[gnu::no_sanitize("address", "undefined")]]

namespace nimbus::sandbox {

// Every step of the child's checklist, for the (step, errno, index) report it sends the
// parent over the error pipe when one fails. sandbox_launcher.cc names them.
enum class ChildStep : int32_t {
  kOk = 0,
  kCloseFds,
  kSetsid,
  kPdeathsig,
  kMakePrivate,  // mount("/", MS_REC|MS_PRIVATE)
  kBindRoot,     // the skeleton bound onto itself, so that it can be the new root
  kMount,        // index: which entry of the mount plan
  kRemount,      // index: which entry of the mount plan
  kPivotRoot,
  kDetachOldRoot,
  kRemountRootReadOnly,
  kHostname,
  kWaitForParent,
  kDropBoundingSet,
  kSetgroups,
  kSetgid,
  kSetuid,
  kDropCaps,
  kClearAmbientCaps,
  kRlimit,  // index: the resource
  kChdir,
  kStdio,
  kNoNewPrivs,
  kSeccomp,
  kExec,
};

// What a child-side step reports: err is a positive errno, 0 for success.
struct ChildStatus {
  ChildStep step = ChildStep::kOk;
  int32_t err = 0;
  int32_t index = 0;
  NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] bool ok() const { return err == 0; }
};

namespace child {

template <typename T>
NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] inline long arg(T v) {
  if constexpr (std::is_null_pointer_v<T>) {
    return 0;
  } else if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(v);
  } else {
    return static_cast<long>(v);
  }
}

// Returns the kernel's result: >= 0 on success, -errno on failure.
NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] inline long raw6(long nr, long a, long b, long c,
                                                             long d, long e, long f) {
#if defined(__x86_64__)
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = nr;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  register long x4 asm("x4") = e;
  register long x5 asm("x5") = f;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory");
  return x0;
#else
#error "the sandbox child needs raw system calls for this architecture"
#endif
}

template <typename... Args>
NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] inline long sys(long nr, Args... args) {
  static_assert(sizeof...(Args) <= 6);
  long v[6] = {arg(args)...};
  return raw6(nr, v[0], v[1], v[2], v[3], v[4], v[5]);
}

// The errno of a failed call (positive), 0 on success.
NIMBUS_SANDBOX_CHILD [[gnu::always_inline]] inline int32_t errOf(long r) {
  return r < 0 && r > -4096 ? static_cast<int32_t>(-r) : 0;
}

}  // namespace child
}  // namespace nimbus::sandbox
