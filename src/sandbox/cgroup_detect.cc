// Finding the cgroup hierarchies: parsing mountinfo for cgroup (v1) and cgroup2 mounts,
// and placing each controller nimbus uses on the hierarchy that carries it.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/cgroup_hierarchy.h"

namespace nimbus::sandbox::cgroup_internal {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find(sep, at);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return parts;
}

bool isOctal(char c) { return c >= '0' && c <= '7'; }

// mountinfo escapes space, tab, newline and backslash in paths as \ooo (octal).
std::string unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && isOctal(field[i + 1]) &&
        isOctal(field[i + 2]) && isOctal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

}  // namespace

std::string withoutController(CgroupController c) {
  switch (c) {
    case CgroupController::kMemory:
      return "no memory limit, no Max Memory Used from the cgroup and no OOM detection";
    case CgroupController::kCpu:
      return "no CPU quota (every instance may use every core)";
    case CgroupController::kPids:
      return "no pids limit (a fork bomb is contained only by RLIMIT_NPROC)";
  }
  return "";
}

std::vector<CgroupMount> parseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (std::string_view line : split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional...] - fstype source super
    std::vector<std::string_view> f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) continue;
    std::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.version = fstype == "cgroup2" ? CgroupVersion::kV2 : CgroupVersion::kV1;
    m.root = unescape(f[3]);
    m.mount_point = unescape(f[4]);
    if (m.version == CgroupVersion::kV1) {
      // Super options: rw, the controllers, and name=/release_agent=/noprefix-type flags.
      for (std::string_view opt : split(dash[3], ',')) {
        if (opt.empty() || opt == "rw" || opt == "ro" || opt.find('=') != std::string_view::npos) {
          continue;
        }
        m.controllers.emplace_back(opt);
      }
    }
    mounts.push_back(std::move(m));
  }
  return mounts;
}

Placement placeControllers(const std::vector<CgroupMount>& mounts,
                           std::string_view v2_controllers) {
  Placement placement;
  const CgroupMount* v2 = nullptr;
  for (const CgroupMount& m : mounts) {
    if (m.version == CgroupVersion::kV2) {
      v2 = &m;
      break;
    }
  }
  auto add = [&](const CgroupMount& m, CgroupController c) {
    for (HierarchySpec& h : placement.hierarchies) {
      if (h.mount_point == m.mount_point) {
        h.controllers.push_back(c);
        return;
      }
    }
    placement.hierarchies.push_back({m.version, m.mount_point, m.root, {c}});
  };
  for (CgroupController c :
       {CgroupController::kMemory, CgroupController::kCpu, CgroupController::kPids}) {
    const std::string_view name = controllerName(c);
    const CgroupMount* v1 = nullptr;
    for (const CgroupMount& m : mounts) {
      if (m.version == CgroupVersion::kV1 &&
          std::find(m.controllers.begin(), m.controllers.end(), name) != m.controllers.end()) {
        v1 = &m;  // the same hierarchy may be mounted twice: the first mount will do
        break;
      }
    }
    if (v1 != nullptr) {
      add(*v1, c);
    } else if (v2 != nullptr && listHas(v2_controllers, name)) {
      add(*v2, c);
    } else {
      placement.limitations.push_back(std::string(name) +
                                      ": no cgroup hierarchy offers this controller, so " +
                                      withoutController(c));
    }
  }
  return placement;
}

}  // namespace nimbus::sandbox::cgroup_internal
