// The native observability API: GET /v1/invocations (invocation records, filtered and
// paged) and GET /v1/logs (persisted function log lines, tail or follow).
#pragma once

#include "base/blocking_worker.h"
#include "http/router.h"
#include "model/function_ref.h"
#include "store/store.h"

namespace nimbus::control {

struct ObservabilityApiDeps {
  store::Store& store;
  BlockingWorker& worker;       // the queries run here, off the I/O threads
  bool records_enabled = true;  // false: --records off, nothing is kept
};

void addObservabilityRoutes(http::Router& router, ObservabilityApiDeps deps);

// The opaque paging token of GET /v1/invocations and back; nullopt if not one of ours.
std::string encodePageToken(int64_t before_id);
std::optional<int64_t> decodePageToken(const std::string& token);

}  // namespace nimbus::control
