// The launch trace's switch and its log fields.
#include "sandbox/launch_trace.h"

#include <cstdlib>

namespace nimbus::sandbox {

bool LaunchTrace::enabled() {
  static const bool on = [] {
    const char* v = std::getenv("NIMBUS_SANDBOX_TRACE");
    return v != nullptr && *v != '\0' && std::string(v) != "0";
  }();
  return on;
}

std::string LaunchTrace::describe() const {
  static constexpr const char* kNames[kMarkCount] = {
      "start",         "hooks_us",    "plan_fds_us",  "clone_us",      "id_maps_us",
      "attach_us",     "listener_us", "release_us",   "await_exec_us", "child_start_us",
      "child_root_us", "child_go_us", "child_exec_us"};
  std::string out;
  auto add = [&out](const char* name, const std::string& value) {
    out += (out.empty() ? "" : " ") + std::string(name) + "=" + value;
  };
  auto us = [](int64_t from, int64_t to) {
    return from == 0 || to == 0 ? std::string("-") : std::to_string((to - from) / 1000);
  };
  for (int m = kHooksMade; m <= kExecSeen; ++m) add(kNames[m], us(ns[m - 1], ns[m]));
  // The child's steps from the clone call on (it runs while the parent works on).
  add(kNames[kChildStart], us(ns[kPlanned], ns[kChildStart]));
  for (int m = kChildRootBuilt; m <= kChildExec; ++m) {
    add(kNames[m], us(ns[m - 1], ns[m]));
  }
  add("total_us", us(ns[kStart], ns[kExecSeen]));
  return out;
}

}  // namespace nimbus::sandbox
