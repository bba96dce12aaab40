// echo-provided-cpp: a custom runtime (`provided` / `provided.al2023`) in C++17
// with no dependencies beyond the standard library and POSIX sockets. It speaks
// the Lambda Runtime API over plain HTTP/1.1 (one kept-alive TCP connection)
// and answers every event with {"echo": <event>}.
//
// _HANDLER selects a behaviour, so the failure paths can be exercised too:
//   (anything else)  echo the event
//   error            report every invocation as a function error
//   init-error       report an initialisation error and exit
//
// Build: ./build.sh   (g++ -std=c++17 -O2 -static-libstdc++ -static-libgcc)
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

namespace {

constexpr const char* kPrefix = "/2018-06-01/runtime";

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Thrown when the connection broke before any byte of the answer arrived, so
// the request may be retried on a fresh connection.
struct StaleConnection : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string lower(std::string s) {
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return std::string();
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class RuntimeClient {
 public:
  explicit RuntimeClient(const std::string& address) : address_(address) {
    size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon + 1 == address.size()) {
      throw std::runtime_error("bad AWS_LAMBDA_RUNTIME_API '" + address + "' (want host:port)");
    }
    host_ = address.substr(0, colon);
    port_ = address.substr(colon + 1);
    if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') {
      host_ = host_.substr(1, host_.size() - 2);
    }
    if (host_.empty()) host_ = "127.0.0.1";
  }
  ~RuntimeClient() { close(); }
  RuntimeClient(const RuntimeClient&) = delete;
  RuntimeClient& operator=(const RuntimeClient&) = delete;

  Response request(const std::string& method, const std::string& path, const std::string& body,
                   const std::map<std::string, std::string>& headers) {
    std::string msg = method + " " + path + " HTTP/1.1\r\nHost: " + address_ +
                      "\r\nUser-Agent: echo-provided-cpp/1.0\r\n";
    for (const auto& [name, value] : headers) msg += name + ": " + value + "\r\n";
    if (method != "GET" || !body.empty())
      msg += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    msg += "\r\n";
    msg += body;
    for (int attempt = 0;; ++attempt) {
      bool fresh = fd_ < 0;
      try {
        if (fresh) connect();
        sendAll(msg);
        return readResponse(method);
      } catch (const StaleConnection&) {
        close();
        if (fresh || attempt > 0) throw std::runtime_error("connection to the Runtime API lost");
      }
    }
  }

 private:
  void connect() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res);
    if (rc != 0) throw std::runtime_error("cannot resolve " + host_ + ": " + gai_strerror(rc));
    std::string last_error = "no address";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fd_ = fd;
        break;
      }
      last_error = std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(res);
    if (fd_ < 0) throw std::runtime_error("cannot connect to " + address_ + ": " + last_error);
    buf_.clear();
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

  void sendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw StaleConnection(std::strerror(errno));
      }
      off += static_cast<size_t>(n);
    }
  }

  // Reads more bytes into buf_; false on EOF.
  bool fill() {
    char tmp[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw std::runtime_error(std::string("read from the Runtime API: ") + std::strerror(errno));
      if (n == 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }

  std::string readLine(bool first) {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (buf_.size() > 65536) throw std::runtime_error("header line too long");
      bool got;
      try {
        got = fill();
      } catch (const std::runtime_error& e) {
        if (first && buf_.empty()) throw StaleConnection(e.what());
        throw;
      }
      if (!got) {
        if (first && buf_.empty()) throw StaleConnection("connection closed");
        throw std::runtime_error("connection closed in the middle of a response");
      }
    }
  }

  std::string readExactly(size_t n) {
    while (buf_.size() < n) {
      if (!fill()) throw std::runtime_error("connection closed in the middle of a body");
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  Response readResponse(const std::string& method) {
    Response r;
    bool first = true;
    std::string version;
    for (;;) {
      std::string status_line = readLine(first);
      first = false;
      // "HTTP/1.1 200 OK"
      size_t sp = status_line.find(' ');
      if (status_line.compare(0, 5, "HTTP/") != 0 || sp == std::string::npos) {
        throw std::runtime_error("bad status line from the Runtime API: " +
                                 status_line.substr(0, 100));
      }
      version = status_line.substr(0, sp);
      r.status = std::atoi(status_line.c_str() + sp + 1);
      r.headers.clear();
      for (;;) {
        std::string line = readLine(false);
        if (line.empty()) break;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = lower(trim(line.substr(0, colon)));
        std::string value = trim(line.substr(colon + 1));
        auto [it, inserted] = r.headers.emplace(name, value);
        if (!inserted) it->second += ", " + value;
      }
      if (r.status >= 100 && r.status < 200) continue;  // 100 Continue and friends
      break;
    }
    bool keep =
        version != "HTTP/1.0" && lower(r.header("connection")).find("close") == std::string::npos;
    if (method == "HEAD" || r.status == 204 || r.status == 304) {
      // no body
    } else if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
      for (;;) {
        size_t size = std::strtoul(readLine(false).c_str(), nullptr, 16);
        if (size == 0) {
          while (!readLine(false).empty()) {
          }
          break;
        }
        r.body += readExactly(size);
        readLine(false);
      }
    } else if (!r.header("content-length").empty()) {
      r.body = readExactly(std::strtoul(r.header("content-length").c_str(), nullptr, 10));
    } else {
      while (fill()) {
      }
      r.body.swap(buf_);
      keep = false;
    }
    if (!keep) close();
    return r;
  }

  std::string address_, host_, port_;
  int fd_ = -1;
  std::string buf_;
};

[[noreturn]] void fatal(const std::string& message) {
  std::fprintf(stderr, "echo-provided-cpp: fatal: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(1);
}

// A JSON string literal for `s`.
std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string errorBody(const std::string& type, const std::string& message) {
  return "{\"errorMessage\":" + jsonString(message) + ",\"errorType\":" + jsonString(type) +
         ",\"stackTrace\":[]}";
}

void checkPost(const char* what, const Response& r) {
  if (r.status >= 200 && r.status < 300) return;
  if (r.status >= 500)
    fatal(std::string(what) + " answered " + std::to_string(r.status) + ": " + r.body);
  std::fprintf(stderr, "echo-provided-cpp: %s answered %d: %s\n", what, r.status, r.body.c_str());
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr || *api == '\0') fatal("AWS_LAMBDA_RUNTIME_API is not set");
  const char* handler_env = std::getenv("_HANDLER");
  const std::string handler = handler_env ? handler_env : "";
  const std::map<std::string, std::string> json_headers = {{"Content-Type", "application/json"}};

  try {
    RuntimeClient client(api);

    if (handler == "init-error") {
      auto headers = json_headers;
      headers["Lambda-Runtime-Function-Error-Type"] = "Runtime.EchoInitError";
      std::fprintf(stderr, "echo-provided-cpp: failing init as asked (_HANDLER=init-error)\n");
      checkPost("POST /init/error",
                client.request("POST", std::string(kPrefix) + "/init/error",
                               errorBody("Runtime.EchoInitError",
                                         "init failed as asked by _HANDLER=init-error"),
                               headers));
      return 1;
    }

    for (;;) {
      Response next = client.request("GET", std::string(kPrefix) + "/invocation/next", "", {});
      if (next.status != 200) {
        fatal("GET /invocation/next answered " + std::to_string(next.status) + ": " + next.body);
      }
      std::string id = next.header("lambda-runtime-aws-request-id");
      if (id.empty()) fatal("GET /invocation/next answered without Lambda-Runtime-Aws-Request-Id");
      std::string trace = next.header("lambda-runtime-trace-id");
      if (!trace.empty()) {
        setenv("_X_AMZN_TRACE_ID", trace.c_str(), 1);
      } else {
        unsetenv("_X_AMZN_TRACE_ID");
      }
      std::printf("echo-provided-cpp: request %s (%zu bytes)\n", id.c_str(), next.body.size());
      std::fflush(stdout);

      const std::string base = std::string(kPrefix) + "/invocation/" + id;
      if (handler == "error") {
        auto headers = json_headers;
        headers["Lambda-Runtime-Function-Error-Type"] = "Unhandled";
        checkPost(
            "POST /invocation/error",
            client.request("POST", base + "/error",
                           errorBody("EchoError", "failed as asked by _HANDLER=error"), headers));
        continue;
      }
      std::string event = trim(next.body);
      std::string response = "{\"echo\": " + (event.empty() ? std::string("{}") : event) + "}";
      checkPost("POST /invocation/response",
                client.request("POST", base + "/response", response, json_headers));
    }
  } catch (const std::exception& e) {
    fatal(e.what());
  }
}
