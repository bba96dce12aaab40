// The native /v1 queue API (docs/queues.md): built-in named queues used as async
// destinations and dead-letter queues, their messages, replay, and
// GET /v1/functions/{name}/async-events (a function's async queue figures).
#pragma once

#include "base/blocking_worker.h"
#include "base/time.h"
#include "http/router.h"
#include "model/function_ref.h"
#include "queue/replayer.h"
#include "store/queue_store.h"
#include "store/store.h"

namespace nimbus::control {

struct QueuesApiDeps {
  store::Store& store;
  store::QueueStore& queues;
  queue::Replayer& replayer;
  BlockingWorker& worker;
  const Clock& clock;
  model::ArnContext arn;
};

void addQueueRoutes(http::Router& router, QueuesApiDeps deps);

}  // namespace nimbus::control
