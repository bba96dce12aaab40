// Tests of the Runtime API listener opened inside another network namespace: reachable
// from inside, not from the host's loopback, and the caller's thread never moves.
#include "sandbox/netns_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace nimbus::sandbox {
namespace {

// A fresh network namespace, made on a helper thread (unshare moves only that thread).
UniqueFd newNetns() {
  UniqueFd fd;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) == 0) {
      fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    }
  });
  t.join();
  return fd;
}

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

class NetnsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    netns_ = newNetns();
    if (!netns_.valid()) GTEST_SKIP() << "cannot make a network namespace";
  }
  UniqueFd netns_;
};

TEST_F(NetnsListenerTest, ListensInsideOnly) {
  std::string before = std::filesystem::read_symlink("/proc/thread-self/ns/net");
  Result<UniqueFd> listener = openListenerInNetns(netns_.get(), "127.0.0.1", 0);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  EXPECT_EQ(std::filesystem::read_symlink("/proc/thread-self/ns/net").string(), before);
  int port = boundPort(listener->get());
  ASSERT_GT(port, 0);

  // From the host's loopback: nothing listens on that port.
  int host_conn = connectTo(port);
  if (host_conn >= 0) ::close(host_conn);
  EXPECT_EQ(host_conn, -ECONNREFUSED);

  // From inside (lo was brought up): accepted by our fd.
  int inside = -1;
  std::thread t([&] {
    if (::setns(netns_.get(), CLONE_NEWNET) == 0) inside = connectTo(port);
  });
  t.join();
  ASSERT_GE(inside, 0) << -inside;
  UniqueFd client(inside);
  pollfd pfd{listener->get(), POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
  UniqueFd conn(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(conn.valid());
}

TEST_F(NetnsListenerTest, RejectsNamesAndReportsBindErrors) {
  Result<UniqueFd> r = openListenerInNetns(netns_.get(), "localhost", 9001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidParameter);

  // Only loopback exists inside.
  r = openListenerInNetns(netns_.get(), "10.1.2.3", 9001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno, EADDRNOTAVAIL);
  EXPECT_NE(r.error().message.find("bind 10.1.2.3:9001"), std::string::npos) << r.error().message;

  r = openListenerInNetns(-1, "127.0.0.1", 9001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno, EBADF);
}

TEST_F(NetnsListenerTest, SamePortInTwoNamespaces) {
  UniqueFd other = newNetns();
  ASSERT_TRUE(other.valid());
  Result<UniqueFd> a = openListenerInNetns(netns_.get(), "127.0.0.1", 9001);
  Result<UniqueFd> b = openListenerInNetns(other.get(), "127.0.0.1", 9001);
  EXPECT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(b.ok()) << b.error().message;
}

}  // namespace
}  // namespace nimbus::sandbox
