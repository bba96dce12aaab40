// Helpers the launcher tests share: reading a child's output pipe with a deadline and
// waiting for its exit through the pidfd.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "sandbox/process.h"

namespace nimbus::sandbox::process_test_util {

inline constexpr int kTimeoutMs = 20'000;

inline bool readable(int fd, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  int n;
  do {
    n = ::poll(&pfd, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// Reads the non-blocking fd until `done(text)`, EOF or the timeout.
template <typename Done>
std::string readOutput(int fd, Done done) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (!done(text) && std::chrono::steady_clock::now() < deadline) {
    if (!readable(fd, 100)) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n > 0) text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

inline std::string readAll(int fd) {
  return readOutput(fd, [](const std::string&) { return false; });
}

inline std::string readLine(int fd) {
  return readOutput(fd, [](const std::string& s) { return s.find('\n') != std::string::npos; });
}

// Waits for the pidfd, then reaps; returns the wait status or -1 on timeout.
inline int waitExit(Process& p) {
  if (!readable(p.pidfd(), kTimeoutMs)) return -1;
  int status = -1;
  return p.tryReap(&status) ? status : -1;
}

}  // namespace nimbus::sandbox::process_test_util
