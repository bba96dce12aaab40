// The SQLite schema history (kMigrations) and its runner. To change the schema, append
// a step; a released file must be able to reach the newest schema from any older one.
#include "store/sqlite_migrations.h"

#include <array>
#include <string>

#include "base/log.h"
#include "base/time.h"

namespace nimbus::store::sqlite {
namespace {

// STRICT tables make SQLite enforce the declared column types instead of storing
// whatever a bug hands it.
constexpr std::string_view kFunctionsV1 = R"sql(
-- One row per function name. Per-function state that is not per version (aliases,
-- tags, concurrency, URL config) will hang off this row in later steps.
CREATE TABLE functions (
  name          TEXT    NOT NULL PRIMARY KEY,
  created_at_ms INTEGER NOT NULL
) STRICT;

-- One row per version of a function: "$LATEST" now, published versions "1", "2", ...
-- later, which is why version is TEXT and part of the key.
CREATE TABLE function_versions (
  function_name        TEXT    NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  version              TEXT    NOT NULL,
  runtime              TEXT    NOT NULL,
  handler              TEXT    NOT NULL DEFAULT '',
  role                 TEXT    NOT NULL DEFAULT '',
  description          TEXT    NOT NULL DEFAULT '',
  memory_mb            INTEGER NOT NULL,
  timeout_s            INTEGER NOT NULL,
  ephemeral_storage_mb INTEGER NOT NULL,
  environment_json     TEXT    NOT NULL DEFAULT '{}',
  code_sha256_b64      TEXT    NOT NULL DEFAULT '',
  code_digest_hex      TEXT    NOT NULL DEFAULT '',
  code_size            INTEGER NOT NULL DEFAULT 0,
  last_modified_ms     INTEGER NOT NULL,
  revision_id          TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (function_name, version)
) STRICT;

-- Code garbage collection asks which digests are still referenced.
CREATE INDEX function_versions_by_code_digest ON function_versions(code_digest_hex);
)sql";

// Reserved concurrency belongs to the function, not to a version. NULL: none.
constexpr std::string_view kReservedConcurrencyV2 = R"sql(
ALTER TABLE functions ADD COLUMN reserved_concurrency INTEGER;
)sql";

// The durable async queue (issue 5) and the per-function retry/destination settings.
// payload is TEXT: the gateway only accepts JSON, which is valid UTF-8.
constexpr std::string_view kAsyncQueueV3 = R"sql(
CREATE TABLE async_events (
  request_id      TEXT    NOT NULL PRIMARY KEY,
  function_name   TEXT    NOT NULL,
  qualifier       TEXT    NOT NULL DEFAULT '',
  payload         TEXT    NOT NULL,
  client_context  TEXT    NOT NULL DEFAULT '',
  trace_id        TEXT    NOT NULL DEFAULT '',
  attempts        INTEGER NOT NULL DEFAULT 0,
  received_ms     INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  status          TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead')),
  last_error      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- The dispatcher's question: which queued events are due?
CREATE INDEX async_events_due ON async_events(status, next_attempt_ms);

CREATE TABLE event_invoke_configs (
  function_name             TEXT    NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  qualifier                 TEXT    NOT NULL,
  maximum_retry_attempts    INTEGER NOT NULL,
  maximum_event_age_seconds INTEGER NOT NULL,
  on_success                TEXT    NOT NULL DEFAULT '',
  on_failure                TEXT    NOT NULL DEFAULT '',
  last_modified_ms          INTEGER NOT NULL,
  PRIMARY KEY (function_name, qualifier)
) STRICT;
)sql";

// Built-in named queues (destinations and DLQs), idempotency keys, and what replay and
// retention need on async events.
constexpr std::string_view kQueuesV4 = R"sql(
CREATE TABLE queues (
  name       TEXT    NOT NULL PRIMARY KEY,
  created_ms INTEGER NOT NULL
) STRICT;

-- seq orders messages (oldest first) and makes paging by message id cheap.
CREATE TABLE queue_messages (
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  queue_name       TEXT    NOT NULL REFERENCES queues(name) ON DELETE CASCADE,
  message_id       TEXT    NOT NULL UNIQUE,
  body             TEXT    NOT NULL,
  attributes       TEXT    NOT NULL DEFAULT '{}',
  sent_ms          INTEGER NOT NULL,
  visible_after_ms INTEGER NOT NULL DEFAULT 0,
  receive_count    INTEGER NOT NULL DEFAULT 0,
  receipt_handle   TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX queue_messages_by_queue ON queue_messages(queue_name, seq);

CREATE TABLE idempotency_keys (
  function_name TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('sync', 'async')),
  key           TEXT    NOT NULL,
  request_id    TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('running', 'done')),
  response      TEXT    NOT NULL DEFAULT '',
  created_ms    INTEGER NOT NULL,
  expires_ms    INTEGER NOT NULL,
  PRIMARY KEY (function_name, kind, key)
) STRICT;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys(expires_ms);

ALTER TABLE async_events ADD COLUMN replay_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE async_events ADD COLUMN finished_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX async_events_by_function ON async_events(function_name, status);
)sql";

// nimbus's own per-function settings (issue 3): the network mode ('isolated' or
// 'egress') and the idle keep-alive in seconds (0: the host-wide default).
constexpr std::string_view kFunctionSettingsV5 = R"sql(
ALTER TABLE function_versions ADD COLUMN network_mode TEXT NOT NULL DEFAULT 'isolated'
  CHECK (network_mode IN ('isolated', 'egress'));
ALTER TABLE function_versions ADD COLUMN keep_alive_s INTEGER NOT NULL DEFAULT 0;
)sql";

// Provisioned concurrency per function qualifier: what was asked for, so that a restart
// provisions again. Allocation state is the pool's, not stored.
constexpr std::string_view kProvisionedConcurrencyV6 = R"sql(
CREATE TABLE provisioned_concurrency (
  function_name    TEXT    NOT NULL REFERENCES functions(name) ON DELETE CASCADE,
  qualifier        TEXT    NOT NULL,
  requested        INTEGER NOT NULL CHECK (requested > 0),
  last_modified_ms INTEGER NOT NULL,
  PRIMARY KEY (function_name, qualifier)
) STRICT;
)sql";

// Observability (issue 6): one row per invocation (retries included) and one per chunk
// of function output. Both are pruned by age and count/size, so ids only grow and are
// the paging and follow cursors.
constexpr std::string_view kObservabilityV7 = R"sql(
CREATE TABLE invocation_records (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id     TEXT    NOT NULL,
  function_name  TEXT    NOT NULL,
  version        TEXT    NOT NULL,
  qualifier      TEXT    NOT NULL DEFAULT '',
  trigger_kind   TEXT    NOT NULL,
  start_ms       INTEGER NOT NULL,
  duration_ms    REAL    NOT NULL,
  billed_ms      INTEGER NOT NULL,
  init_ms        REAL    NOT NULL,
  cold_start     INTEGER NOT NULL,
  instance_id    TEXT    NOT NULL DEFAULT '',
  max_memory_mb  INTEGER NOT NULL,
  memory_size_mb INTEGER NOT NULL,
  outcome        TEXT    NOT NULL,
  error_type     TEXT    NOT NULL DEFAULT '',
  attempt        INTEGER NOT NULL,
  trace_id       TEXT    NOT NULL DEFAULT '',
  correlation_id TEXT    NOT NULL DEFAULT '',
  request_key    INTEGER NOT NULL
) STRICT;
-- Two indexes only: every index costs each invocation a B-tree insert. Request ids are
-- found through request_key (a 64-bit hash of the id: a small integer key instead of a
-- random 36-byte one); age pruning walks from the oldest id instead of a time index.
CREATE INDEX invocation_records_by_function ON invocation_records(function_name, id);
CREATE INDEX invocation_records_by_request ON invocation_records(request_key);

-- Function output: one row per run of consecutive lines of one invocation (usually
-- the whole invocation: START, output, END, REPORT), text joined by newlines.
CREATE TABLE log_chunks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp_ms  INTEGER NOT NULL,
  function_name TEXT    NOT NULL,
  request_id    TEXT    NOT NULL DEFAULT '',
  text          TEXT    NOT NULL,
  line_count    INTEGER NOT NULL,
  bytes         INTEGER NOT NULL,
  request_key   INTEGER NOT NULL
) STRICT;
CREATE INDEX log_chunks_by_function ON log_chunks(function_name, id);
CREATE INDEX log_chunks_by_request ON log_chunks(request_key);
)sql";

// The rest of an async event's trace context and its correlation id, so that retries
// and runs after a restart carry what the caller sent (issue 6).
constexpr std::string_view kAsyncTraceContextV8 = R"sql(
ALTER TABLE async_events ADD COLUMN tracestate TEXT NOT NULL DEFAULT '';
ALTER TABLE async_events ADD COLUMN correlation_id TEXT NOT NULL DEFAULT '';
)sql";

// Lambda's DeadLetterConfig per function version: the TargetArn of a nimbus queue
// (either ARN form), '' when none.
constexpr std::string_view kDeadLetterTargetV9 = R"sql(
ALTER TABLE function_versions ADD COLUMN dead_letter_target TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::array kMigrations = {
    Migration{1, "create functions and function_versions", kFunctionsV1},
    Migration{2, "reserved concurrency per function", kReservedConcurrencyV2},
    Migration{3, "async event queue and event invoke configs", kAsyncQueueV3},
    Migration{4, "named queues, idempotency keys, event replay and retention", kQueuesV4},
    Migration{5, "network mode and keep-alive per function version", kFunctionSettingsV5},
    Migration{6, "provisioned concurrency configs", kProvisionedConcurrencyV6},
    Migration{7, "invocation records and function log lines", kObservabilityV7},
    Migration{8, "tracestate and correlation id of async events", kAsyncTraceContextV8},
    Migration{9, "dead-letter target per function version", kDeadLetterTargetV9},
};

constexpr std::string_view kCreateMigrationsTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version       INTEGER NOT NULL PRIMARY KEY,
  name          TEXT    NOT NULL,
  applied_at_ms INTEGER NOT NULL
) STRICT;
)sql";

Result<void> checkNumbering(std::span<const Migration> steps) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != static_cast<int>(i) + 1) {
      return makeError(ErrorCode::kInternal,
                       "sqlite: migration step " + std::to_string(i) + " has version " +
                           std::to_string(steps[i].version) + ", want " + std::to_string(i + 1));
    }
  }
  return {};
}

// Runs one step and records it, in one transaction. The version is read again under
// the write lock: another process opening the same file may have applied it meanwhile.
Result<bool> applyStep(Database& db, const Migration& step) {
  Result<Transaction> tx = Transaction::begin(db);
  if (!tx.ok()) return tx.error();
  Result<int> current = schemaVersion(db);
  if (!current.ok()) return current.error();
  if (*current >= step.version) return false;

  std::string what =
      "migration " + std::to_string(step.version) + " (" + std::string(step.name) + ")";
  if (Result<void> r = db.exec(step.sql, what); !r.ok()) return r.error();
  Result<Statement> insert = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)");
  if (!insert.ok()) return insert.error();
  insert->bind(1, step.version).bind(2, step.name).bind(3, systemNowMillis());
  if (Result<void> r = insert->run(); !r.ok()) return r.error();
  if (Result<void> r = tx->commit(); !r.ok()) return r.error();
  return true;
}

}  // namespace

std::span<const Migration> schemaMigrations() { return kMigrations; }

Result<int> schemaVersion(Database& db) {
  Result<Statement> query = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!query.ok()) return query.error();
  Result<bool> row = query->step();
  if (!row.ok()) return row.error();
  return query->columnInt(0);
}

Result<int> migrate(Database& db, std::span<const Migration> steps) {
  if (Result<void> r = checkNumbering(steps); !r.ok()) return r.error();
  if (Result<void> r = db.exec(kCreateMigrationsTable, "create schema_migrations"); !r.ok()) {
    return r.error();
  }
  Result<int> current = schemaVersion(db);
  if (!current.ok()) return current.error();
  const int known = static_cast<int>(steps.size());
  if (*current > known) {
    return makeError(ErrorCode::kInternal,
                     "sqlite: database schema version " + std::to_string(*current) +
                         " is newer than this nimbus supports (" + std::to_string(known) +
                         "); run a newer nimbus or restore a backup");
  }

  int applied = 0;
  for (const Migration& step : steps) {
    if (step.version <= *current) continue;
    Result<bool> ran = applyStep(db, step);
    if (!ran.ok()) return ran.error();
    if (*ran) {
      ++applied;
      log::info("store", "applied schema migration",
                {{"version", std::to_string(step.version)}, {"name", std::string(step.name)}});
    }
  }
  return applied;
}

}  // namespace nimbus::store::sqlite
