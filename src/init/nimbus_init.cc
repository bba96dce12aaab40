// nimbus-init: pid 1 of a sandboxed instance. Starts the runtime as its child, reaps
// every orphan (zombies of double-forked processes would otherwise pile up under a
// runtime that never waits), and exits as the runtime did. Signals the runtime sends
// itself then work as on Lambda, where the runtime is not pid 1 either: the kernel
// ignores SIGKILL/SIGTERM a namespace's init sends itself.
//
// Usage: nimbus-init PROGRAM [ARGS...]   (environment passed through)
// Exit: the runtime's exit status, or 128 + signal number when a signal ended it;
// 127 when PROGRAM cannot be executed (the reason goes to stderr, the function log).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nimbus-init PROGRAM [ARGS...]\n");
    return 127;
  }
  pid_t runtime = fork();
  if (runtime < 0) {
    std::fprintf(stderr, "nimbus-init: fork: %s\n", strerror(errno));
    return 127;
  }
  if (runtime == 0) {
    execve(argv[1], argv + 1, environ);
    std::fprintf(stderr, "nimbus-init: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  for (;;) {
    int status = 0;
    pid_t pid = wait(&status);
    if (pid < 0) {
      if (errno == EINTR) continue;
      return 127;  // ECHILD: cannot happen while the runtime lives
    }
    if (pid != runtime) continue;  // an orphan, reaped
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  }
}
