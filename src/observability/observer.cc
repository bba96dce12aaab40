// Observer: metrics updates, log chunking, the two batch writers and the housekeeping
// thread (stale chunks, retention).
#include "observability/observer.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"
#include "base/time.h"

namespace nimbus::observability {

namespace {
// Writers yield the CPU to invocations (see BatchWriterOptions::nice).
constexpr int kWriterNice = 10;

std::string chunkKey(const std::string& function, const std::string& request_id) {
  std::string key = function;
  key += '\0';
  key += request_id;
  return key;
}
}  // namespace

Observer::Observer(store::Store& store, ObserverOptions options)
    : store_(store), options_(std::move(options)) {
  if (options_.span_exporter) {
    tracer_ = std::make_unique<Tracer>(options_.span_exporter, options_.tracer,
                                       metrics_.traceSpansDropped());
  }
  if (!options_.records) return;
  records_ = std::make_unique<BatchWriter<model::InvocationRecord>>(
      BatchWriterOptions{"invocation_records", options_.record_queue, 1024, options_.flush_interval,
                         kWriterNice},
      [this](const std::vector<model::InvocationRecord>& batch) {
        return store_.appendInvocationRecords(batch);
      });
  logs_ = std::make_unique<BatchWriter<model::LogChunk>>(
      BatchWriterOptions{"log_chunks", options_.log_queue, 512, options_.flush_interval,
                         kWriterNice},
      [this](const std::vector<model::LogChunk>& batch) { return store_.appendLogChunks(batch); });
  housekeeper_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "obs-housekeep");
    (void)::setpriority(PRIO_PROCESS, ::gettid(), kWriterNice);
    housekeepingLoop();
  });
}

Observer::~Observer() { stop(); }

void Observer::invocationStarted(const std::string& function, const std::string& version) {
  metrics_.started(function, version);
}

void Observer::invocationFinished(model::InvocationRecord record) {
  metrics_.finished(record);
  if (!records_) return;
  // Its REPORT line is written: the invocation's log chunk is complete.
  closeChunk(record.function_name, record.request_id);
  if (!records_->push(std::move(record))) metrics_.recordsDropped().inc();
}

void Observer::logLine(const std::string& function, const std::string& request_id,
                       int64_t timestamp_ms, std::string message) {
  if (!logs_) return;
  if (message.size() > options_.max_line_bytes) {
    message.resize(options_.max_line_bytes);
    message += kLineTruncatedMarker;
    metrics_.logLinesTruncated().inc();
  }
  std::optional<model::LogChunk> full;
  {
    std::lock_guard lock(chunk_mutex_);
    auto [it, fresh] = open_chunks_.try_emplace(chunkKey(function, request_id));
    OpenChunk& open = it->second;
    if (fresh) {
      open.chunk = model::LogChunk{0, timestamp_ms, function, request_id, std::move(message), 1};
      open.opened_steady_ms = steadyNowMillis();
    } else {
      open.chunk.text += '\n';
      open.chunk.text += message;
      ++open.chunk.line_count;
    }
    if (open.chunk.text.size() >= options_.max_chunk_bytes ||
        open.chunk.line_count >= model::kMaxLinesPerChunk) {
      full = std::move(open.chunk);
      open_chunks_.erase(it);
    }
  }
  if (full) pushChunk(std::move(*full));
}

void Observer::pushChunk(model::LogChunk chunk) {
  if (!logs_->push(std::move(chunk))) metrics_.logLinesDropped().inc();
}

void Observer::closeChunk(const std::string& function, const std::string& request_id) {
  std::optional<model::LogChunk> done;
  {
    std::lock_guard lock(chunk_mutex_);
    auto it = open_chunks_.find(chunkKey(function, request_id));
    if (it == open_chunks_.end()) return;
    done = std::move(it->second.chunk);
    open_chunks_.erase(it);
  }
  pushChunk(std::move(*done));
}

void Observer::closeChunksOpenedBefore(int64_t cutoff_steady_ms) {
  std::vector<model::LogChunk> stale;
  {
    std::lock_guard lock(chunk_mutex_);
    for (auto it = open_chunks_.begin(); it != open_chunks_.end();) {
      if (it->second.opened_steady_ms < cutoff_steady_ms) {
        stale.push_back(std::move(it->second.chunk));
        it = open_chunks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Oldest first, so that a follower sees them in order.
  std::sort(stale.begin(), stale.end(),
            [](const auto& a, const auto& b) { return a.timestamp_ms < b.timestamp_ms; });
  for (auto& c : stale) pushChunk(std::move(c));
}

void Observer::functionDeleted(const std::string& function) { metrics_.forget(function); }

void Observer::drain() {
  if (tracer_) tracer_->drain();
  if (!logs_) return;
  closeChunksOpenedBefore(INT64_MAX);
  records_->drain();
  logs_->drain();
}

void Observer::stop() {
  {
    std::lock_guard lock(sweep_mutex_);
    stopping_ = true;
  }
  sweep_wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  if (logs_) closeChunksOpenedBefore(INT64_MAX);
  if (records_) records_->stop();
  if (logs_) logs_->stop();
  if (tracer_) tracer_->stop();
}

void Observer::housekeepingLoop() {
  int64_t next_sweep = steadyNowMillis() + options_.sweep_interval.count();
  std::unique_lock lock(sweep_mutex_);
  while (!stopping_) {
    sweep_wake_.wait_for(lock, options_.flush_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const int64_t now = steadyNowMillis();
    // A long invocation's lines reach the store (and `nimbus logs -f`) within about
    // two flush intervals, not only when it ends.
    closeChunksOpenedBefore(now - options_.flush_interval.count());
    if (now >= next_sweep) {
      next_sweep = now + options_.sweep_interval.count();
      auto swept = sweepOnce(store_, options_.retention, systemNowMillis());
      if (!swept) {
        log::warn("observability", "retention sweep failed", {{"error", swept.error().message}});
      } else if (swept->records_deleted > 0 || swept->log_chunks_deleted > 0) {
        log::info("observability", "retention sweep",
                  {{"records_deleted", std::to_string(swept->records_deleted)},
                   {"log_chunks_deleted", std::to_string(swept->log_chunks_deleted)}});
      }
    }
    lock.lock();
  }
}

}  // namespace nimbus::observability
