// A purpose-built program for sandbox tests: each sub-command tries one thing and prints
// one line saying what happened ("OK ..." or "ERRNO <n> <NAME>"), so tests assert on
// exact outcomes. Built by the tests at run time with g++ (no CMake target); see README.md.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* errnoName(int e) {
  switch (e) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EACCES:
      return "EACCES";
    case EROFS:
      return "EROFS";
    case ENOSYS:
      return "ENOSYS";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EINVAL:
      return "EINVAL";
    case ENOSPC:
      return "ENOSPC";
    case EAGAIN:
      return "EAGAIN";
    case ENOTDIR:
      return "ENOTDIR";
    case EEXIST:
      return "EEXIST";
    case ESRCH:
      return "ESRCH";
    case EBADF:
      return "EBADF";
    default:
      return "OTHER";
  }
}

int fail(int e) {
  std::printf("ERRNO %d %s\n", e, errnoName(e));
  return 1;
}

int readFile(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  char buf[4096];
  size_t total = 0;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) total += static_cast<size_t>(n);
  int e = errno;
  ::close(fd);
  if (n < 0) return fail(e);
  std::printf("OK %zu\n", total);
  return 0;
}

int writeFile(const char* path, size_t bytes) {
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(errno);
  std::vector<char> block(1 << 20, 'x');
  size_t done = 0;
  while (done < bytes) {
    size_t chunk = std::min(block.size(), bytes - done);
    ssize_t n = ::write(fd, block.data(), chunk);
    if (n < 0) {
      int e = errno;
      ::close(fd);
      std::printf("WROTE %zu\n", done);
      return fail(e);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) < 0) return fail(errno);
  std::printf("OK %zu\n", done);
  return 0;
}

int allocMb(long mb) {
  size_t bytes = static_cast<size_t>(mb) << 20;
  char* p = static_cast<char*>(
      ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return fail(errno);
  for (size_t i = 0; i < bytes; i += 4096) p[i] = 1;  // touch every page
  std::printf("OK %ld\n", mb);
  return 0;
}

// Forks n children that sleep, prints their pids, then sleeps itself until killed.
int forkAndSleep(long n) {
  std::string pids;
  for (long i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid < 0) return fail(errno);
    if (pid == 0) {
      for (;;) ::pause();
    }
    pids += " " + std::to_string(pid);
  }
  std::printf("FORKED%s\n", pids.c_str());
  std::fflush(stdout);
  for (;;) ::pause();
}

// Connects to host:port, sends "ping\n" and prints the first line of the reply.
int connectTo(const char* host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host, &addr.sin_addr) != 1) return fail(EINVAL);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return fail(errno);
  if (::write(fd, "ping\n", 5) != 5) return fail(errno);
  std::string reply;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
  std::printf("OK %s\n", reply.c_str());
  return 0;
}

int listDir(const char* path) {
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return fail(errno);
  std::string names;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names += " ";
    names += e->d_name;
  }
  ::closedir(dir);
  std::printf("OK%s\n", names.c_str());
  return 0;
}

std::string statusField(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

int whoami() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  gid_t groups[64];
  int ngroups = ::getgroups(64, groups);
  std::printf(
      "OK uid=%d euid=%d gid=%d egid=%d groups=%d pid=%d ppid=%d host=%s CapEff=%s "
      "CapPrm=%s CapBnd=%s CapAmb=%s NoNewPrivs=%s Seccomp=%s\n",
      ::getuid(), ::geteuid(), ::getgid(), ::getegid(), ngroups, ::getpid(), ::getppid(), host,
      statusField("CapEff").c_str(), statusField("CapPrm").c_str(), statusField("CapBnd").c_str(),
      statusField("CapAmb").c_str(), statusField("NoNewPrivs").c_str(),
      statusField("Seccomp").c_str());
  return 0;
}

// Tries one system call that the sandbox should refuse and prints its errno.
int trySyscall(const std::string& name) {
  long r;
  if (name == "mount") {
    r = ::mount("none", "/tmp", "tmpfs", 0, nullptr);
  } else if (name == "umount") {
    r = ::umount2("/proc", MNT_DETACH);
  } else if (name == "unshare") {
    r = ::unshare(CLONE_NEWUSER);
  } else if (name == "setns") {
    int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    r = ::setns(fd, CLONE_NEWNET);
  } else if (name == "ptrace") {
    r = ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
  } else if (name == "bpf") {
    r = ::syscall(SYS_bpf, 0, nullptr, 0);
  } else if (name == "clone3") {
    r = ::syscall(SYS_clone3, nullptr, 0);
  } else if (name == "clone-newuser") {
    // A raw clone with a namespace flag; on success the child exits at once.
    r = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (r == 0) ::_exit(0);
    if (r > 0) ::waitpid(static_cast<pid_t>(r), nullptr, 0);
  } else if (name == "io_uring_setup") {
    r = ::syscall(SYS_io_uring_setup, 1, nullptr);
  } else if (name == "keyctl") {
    r = ::syscall(SYS_keyctl, 0, 0, 0, 0, 0);
  } else if (name == "perf_event_open") {
    r = ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0);
  } else if (name == "userfaultfd") {
    r = ::syscall(SYS_userfaultfd, 0);
  } else if (name == "pivot_root") {
    r = ::syscall(SYS_pivot_root, "/tmp", "/tmp");
  } else if (name == "getpid") {
    r = ::getpid();
  } else {
    std::printf("unknown syscall %s\n", name.c_str());
    return 2;
  }
  if (r < 0) return fail(errno);
  std::printf("OK %ld\n", r);
  return 0;
}

int startThread() {
  int value = 0;
  std::thread t([&] { value = 42; });
  t.join();
  std::printf("OK %d\n", value);
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: payload read-file PATH | write-file PATH [BYTES] | alloc MB | fork N | "
               "connect HOST PORT | list-dir PATH | whoami | syscall NAME | thread | "
               "sleep SECONDS | echo TEXT | exit N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered output even into a pipe, so a test sees each line as it is printed.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  auto need = [&](int n) { return argc >= 2 + n; };
  if (cmd == "read-file" && need(1)) return readFile(argv[2]);
  if (cmd == "write-file" && need(1)) {
    return writeFile(argv[2], need(2) ? std::strtoull(argv[3], nullptr, 10) : 6);
  }
  if (cmd == "alloc" && need(1)) return allocMb(std::atol(argv[2]));
  if (cmd == "fork" && need(1)) return forkAndSleep(std::atol(argv[2]));
  if (cmd == "connect" && need(2)) return connectTo(argv[2], std::atoi(argv[3]));
  if (cmd == "list-dir" && need(1)) return listDir(argv[2]);
  if (cmd == "whoami") return whoami();
  if (cmd == "syscall" && need(1)) return trySyscall(argv[2]);
  if (cmd == "thread") return startThread();
  if (cmd == "sleep" && need(1)) {
    ::sleep(static_cast<unsigned>(std::atoi(argv[2])));
    std::printf("OK\n");
    return 0;
  }
  if (cmd == "echo" && need(1)) {
    std::printf("%s\n", argv[2]);
    return 0;
  }
  if (cmd == "exit" && need(1)) return std::atoi(argv[2]);
  return usage();
}
