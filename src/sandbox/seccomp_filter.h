// The instance's seccomp filter: a deny list, written as classic BPF by hand (no
// libseccomp), that refuses the system calls a function never needs and that widen the
// kernel's attack surface; everything else is allowed.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "sandbox/child_syscall.h"

namespace nimbus::sandbox {

// The default filter:
//  - a foreign architecture (e.g. i386 system calls through int 0x80, which bypass an
//    x86_64 number check) kills the process; so do x32 numbers on x86_64;
//  - mount and the new mount API, pivot_root, ptrace and process_vm_*, kexec, bpf,
//    perf_event_open, keyrings, unshare/setns, module loading, swapon/off, reboot,
//    open_by_handle_at, userfaultfd, io_uring, syslog, acct, quotactl and a few more
//    fail with EPERM;
//  - clone with any namespace flag fails with EPERM (clone can make namespaces as
//    unshare can);
//  - clone3 fails with ENOSYS, not EPERM: its flags live in memory BPF cannot read, and
//    glibc falls back to clone only on ENOSYS; with EPERM no thread could start.
std::vector<sock_filter> buildDefaultSeccompFilter();

// The names of the system calls the default filter refuses with EPERM (for tests and docs).
std::vector<std::string> deniedSyscallNames();

// Child side: installs the filter for this process and everything it starts. Needs
// PR_SET_NO_NEW_PRIVS first (or CAP_SYS_ADMIN).
NIMBUS_SANDBOX_CHILD ChildStatus childInstallSeccomp(const sock_fprog& prog);

}  // namespace nimbus::sandbox
