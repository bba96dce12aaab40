// The instance's seccomp deny list as hand-written classic BPF: check the architecture,
// then compare the system call number against each refused call in turn.
#include "sandbox/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstddef>

namespace nimbus::sandbox {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "no seccomp architecture for this target"
#endif

struct Denied {
  long nr;
  const char* name;
};

#define NIMBUS_DENY(name) \
  Denied { SYS_##name, #name }

// Refused with EPERM. Most need capabilities the instance lacks anyway; refusing them
// here also shuts the kernel code behind them, where privilege checks have had bugs.
constexpr Denied kDenied[] = {
    NIMBUS_DENY(mount),
    NIMBUS_DENY(umount2),
    NIMBUS_DENY(pivot_root),
    NIMBUS_DENY(fsopen),
    NIMBUS_DENY(fsconfig),
    NIMBUS_DENY(fsmount),
    NIMBUS_DENY(fspick),
    NIMBUS_DENY(move_mount),
    NIMBUS_DENY(open_tree),
    NIMBUS_DENY(mount_setattr),
    NIMBUS_DENY(ptrace),
    NIMBUS_DENY(process_vm_readv),
    NIMBUS_DENY(process_vm_writev),
    NIMBUS_DENY(pidfd_getfd),
    NIMBUS_DENY(kcmp),
    NIMBUS_DENY(kexec_load),
    NIMBUS_DENY(kexec_file_load),
    NIMBUS_DENY(bpf),
    NIMBUS_DENY(perf_event_open),
    NIMBUS_DENY(keyctl),
    NIMBUS_DENY(add_key),
    NIMBUS_DENY(request_key),
    NIMBUS_DENY(unshare),
    NIMBUS_DENY(setns),
    NIMBUS_DENY(init_module),
    NIMBUS_DENY(finit_module),
    NIMBUS_DENY(delete_module),
    NIMBUS_DENY(swapon),
    NIMBUS_DENY(swapoff),
    NIMBUS_DENY(reboot),
    NIMBUS_DENY(open_by_handle_at),
    NIMBUS_DENY(userfaultfd),
    NIMBUS_DENY(io_uring_setup),
    NIMBUS_DENY(io_uring_enter),
    NIMBUS_DENY(io_uring_register),
    NIMBUS_DENY(syslog),
    NIMBUS_DENY(acct),
    NIMBUS_DENY(quotactl),
    NIMBUS_DENY(vhangup),
    NIMBUS_DENY(lookup_dcookie),
#if defined(__x86_64__)
    NIMBUS_DENY(iopl),
    NIMBUS_DENY(ioperm),
    NIMBUS_DENY(uselib),
#endif
};

#undef NIMBUS_DENY

// Namespace flags in clone's first argument. CLONE_NEWTIME (0x80) is left out: in clone
// those bits are the exit signal, and only clone3/unshare can make a time namespace.
constexpr uint32_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                          CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET;

constexpr uint32_t argLowOffset(int i) {
  // The low 32 bits of argument i (little-endian on both supported architectures).
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i);
}

sock_filter stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return BPF_JUMP(code, k, jt, jf);
}

}  // namespace

std::vector<sock_filter> buildDefaultSeccompFilter() {
  const uint32_t eperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  const uint32_t enosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
  std::vector<sock_filter> f;
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
#if defined(__x86_64__)
  // x32 numbers reach the same kernel code under other numbers: refuse the whole ABI.
  f.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
  for (const Denied& d : kDenied) {
    f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(d.nr), 0, 1));
    f.push_back(stmt(BPF_RET | BPF_K, eperm));
  }
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, enosys));
  // clone: refuse namespace flags, allow the rest (fork, threads).
  f.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4));
  f.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, argLowOffset(0)));
  f.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kCloneNamespaceFlags, 0, 1));
  f.push_back(stmt(BPF_RET | BPF_K, eperm));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  f.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return f;
}

std::vector<std::string> deniedSyscallNames() {
  std::vector<std::string> names;
  for (const Denied& d : kDenied) names.emplace_back(d.name);
  return names;
}

NIMBUS_SANDBOX_CHILD ChildStatus childInstallSeccomp(const sock_fprog& prog) {
  long r = child::sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
  if (r == -ENOSYS) r = child::sys(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  return {ChildStep::kSeccomp, child::errOf(r), 0};
}

}  // namespace nimbus::sandbox
