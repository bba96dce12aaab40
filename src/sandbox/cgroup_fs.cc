// Talking to cgroupfs: reading and writing its one-line files, parsing what it returns,
// and the paths of our groups in one hierarchy (the parts common to v1 and v2).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>

#include "sandbox/cgroup_hierarchy.h"
#include "sandbox/unique_fd.h"

namespace nimbus::sandbox::cgroup_internal {
namespace {

std::string_view trimmed(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\n");
  return s.substr(b, e - b + 1);
}

std::optional<int64_t> toInt(std::string_view s) {
  s = trimmed(s);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

Error sysError(const std::string& what, int err) {
  return makeError(ErrorCode::kInternal, what + ": " + std::strerror(err), err);
}

}  // namespace

Result<void> writeCgroupFile(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return sysError("open " + path, errno);
  // cgroupfs takes a value in one write(); a short write would be a different value.
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return sysError("write \"" + std::string(value) + "\" to " + path, errno);
  if (static_cast<size_t>(n) != value.size()) {
    return sysError("short write to " + path, EIO);
  }
  return {};
}

Result<std::string> readCgroupFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sysError("open " + path, errno);
  std::string text;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysError("read " + path, errno);
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

bool pathExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Result<void> makeGroupDir(const std::string& path, bool exist_ok) {
  if (::mkdir(path.c_str(), 0755) == 0) return {};
  int err = errno;
  struct stat st {};
  if (err == EEXIST && exist_ok && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return {};
  }
  return sysError("mkdir " + path, err);
}

std::vector<pid_t> parsePids(std::string_view text) {
  std::vector<pid_t> pids;
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::optional<int64_t> v = toInt(text.substr(at, eol - at));
    if (v && *v > 0) pids.push_back(static_cast<pid_t>(*v));
    at = eol + 1;
  }
  return pids;
}

std::optional<int64_t> parseCgroupInt(std::string_view text) {
  text = trimmed(text);
  return toInt(text.substr(0, text.find_first_of(" \t\n")));
}

std::optional<int64_t> parseKeyedValue(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    at = eol + 1;
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      return toInt(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

bool listHas(std::string_view list, std::string_view name) {
  size_t at = 0;
  while (at < list.size()) {
    size_t end = list.find_first_of(" \t\n", at);
    if (end == std::string_view::npos) end = list.size();
    std::string_view entry = list.substr(at, end - at);
    if (entry.starts_with('+')) entry.remove_prefix(1);
    if (entry == name) return true;
    at = end + 1;
  }
  return false;
}

Hierarchy::Hierarchy(HierarchySpec spec, std::string parent_name)
    : spec_(std::move(spec)), parent_name_(std::move(parent_name)) {}

bool Hierarchy::has(CgroupController c) const {
  return std::find(spec_.controllers.begin(), spec_.controllers.end(), c) !=
         spec_.controllers.end();
}

void Hierarchy::drop(CgroupController c) { std::erase(spec_.controllers, c); }

std::string Hierarchy::parentDir() const { return spec_.mount_point + "/" + parent_name_; }

std::string Hierarchy::groupDir(const std::string& name) const { return parentDir() + "/" + name; }

std::string Hierarchy::procCgroupPath(const std::string& name) const {
  std::string root = spec_.root;
  while (!root.empty() && root.back() == '/') root.pop_back();
  return root + "/" + parent_name_ + "/" + name;
}

bool Hierarchy::procCgroupMatches(std::string_view text, const std::string& name) const {
  // Lines are "hierarchy-id:controller,list:/path"; v2's is "0::/path". The path may
  // itself hold ':' so split at the first two only.
  const std::string want = procCgroupPath(name);
  size_t at = 0;
  while (at < text.size()) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    at = eol + 1;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view id = line.substr(0, c1);
    std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string_view path = line.substr(c2 + 1);
    bool ours;
    if (version() == CgroupVersion::kV2) {
      ours = id == "0" && ctrls.empty();
    } else {
      ours = false;
      for (CgroupController c : spec_.controllers) {
        size_t p = 0;
        while (p <= ctrls.size() && !ours) {
          size_t e = ctrls.find(',', p);
          if (e == std::string_view::npos) e = ctrls.size();
          ours = ctrls.substr(p, e - p) == controllerName(c);
          p = e + 1;
        }
      }
    }
    if (ours) return path == want;
  }
  return false;
}

}  // namespace nimbus::sandbox::cgroup_internal
