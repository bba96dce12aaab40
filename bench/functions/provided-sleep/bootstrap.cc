// Benchmark custom runtime (`provided`) for the scale-out figure: for each event it
// records when the invocation reached it (epoch seconds), sleeps `sleep_ms` from the
// event (0 when absent) and answers {"start": ..., "instance": ...}, `instance` being
// random per process (a pid would not do: in nimbus's sandbox every instance is alone in
// its pid namespace). The echo figures use examples/echo-provided-cpp instead; this file
// only adds the sleep.
//
// Deliberately small: one kept-alive connection to $AWS_LAMBDA_RUNTIME_API, and
// answers with Content-Length bodies only (what nimbus's Runtime API sends).
// Build: g++ -O2 -std=c++20 -static-libstdc++ -static-libgcc -o bootstrap bootstrap.cc
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "provided-sleep: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int fd = -1;
std::string buf;
std::string host_port;

void sendAll(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("send");
    off += static_cast<size_t>(n);
  }
}

void fill() {
  char tmp[65536];
  for (;;) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("recv");
    buf.append(tmp, static_cast<size_t>(n));
    return;
  }
}

// Reads one response; returns its status, the request id header and the body.
int readResponse(std::string& request_id, std::string& body) {
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) fill();
  std::string head = buf.substr(0, end + 2);
  buf.erase(0, end + 4);
  int status = std::atoi(head.c_str() + head.find(' ') + 1);
  size_t length = 0;
  for (size_t pos = head.find("\r\n") + 2; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = line.find_first_not_of(' ', colon + 1);
    std::string value = v == std::string::npos ? "" : line.substr(v);
    if (name == "content-length") length = std::strtoul(value.c_str(), nullptr, 10);
    if (name == "lambda-runtime-aws-request-id") request_id = value;
  }
  while (buf.size() < length) fill();
  body = buf.substr(0, length);
  buf.erase(0, length);
  return status;
}

std::string request(const std::string& method, const std::string& path, const std::string& body,
                    std::string& request_id, int& status) {
  std::string msg = method + " " + path + " HTTP/1.1\r\nHost: " + host_port + "\r\n";
  if (method == "POST") {
    msg += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  }
  msg += "\r\n" + body;
  sendAll(msg);
  std::string out;
  status = readResponse(request_id, out);
  return out;
}

}  // namespace

int main() {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api) {
    std::fprintf(stderr, "provided-sleep: AWS_LAMBDA_RUNTIME_API is not set\n");
    return 1;
  }
  host_port = api;
  size_t colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "provided-sleep: want an IPv4 AWS_LAMBDA_RUNTIME_API, got %s\n", api);
    return 1;
  }
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  char instance[17];
  {
    std::random_device rd;
    std::snprintf(instance, sizeof instance, "%08x%08x", rd(), rd());
  }

  for (;;) {
    std::string id;
    int status = 0;
    std::string event = request("GET", "/2018-06-01/runtime/invocation/next", "", id, status);
    const double start =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (status != 200 || id.empty()) {
      std::fprintf(stderr, "provided-sleep: /next answered %d\n", status);
      return 1;
    }
    long sleep_ms = 0;
    if (size_t k = event.find("\"sleep_ms\""); k != std::string::npos) {
      size_t c = event.find(':', k);
      if (c != std::string::npos) sleep_ms = std::strtol(event.c_str() + c + 1, nullptr, 10);
    }
    if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    char answer[128];
    std::snprintf(answer, sizeof answer, "{\"start\": %.6f, \"instance\": \"%s\"}", start,
                  instance);
    std::string ignored;
    request("POST", "/2018-06-01/runtime/invocation/" + id + "/response", answer, ignored,
            status);
    if (status >= 300) std::fprintf(stderr, "provided-sleep: /response answered %d\n", status);
  }
}
