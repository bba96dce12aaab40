// The committer thread: wait for a first event, let a batch gather, write it, answer all.
#include "queue/group_committer.h"

namespace nimbus::queue {

GroupCommitter::GroupCommitter(Sink sink, std::chrono::microseconds window, size_t max_batch)
    : sink_(std::move(sink)), window_(window), max_batch_(max_batch) {
  thread_ = std::thread([this] { run(); });
}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& p : pending_) {
    p.done->set(makeError(ErrorCode::kUnavailable, "the async queue is shutting down"));
  }
}

boost::asio::awaitable<Result<std::string>> GroupCommitter::submit(store::AsyncEvent event) {
  auto done = std::make_shared<OneShot<Result<std::string>>>();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) co_return makeError(ErrorCode::kUnavailable, "the async queue is shutting down");
    pending_.push_back({std::move(event), done});
  }
  wake_.notify_one();
  co_return co_await done->wait();
}

uint64_t GroupCommitter::batches() const {
  std::lock_guard lock(mutex_);
  return batches_;
}

uint64_t GroupCommitter::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

void GroupCommitter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    // The window costs each event at most that much latency and saves an fsync for
    // every event that arrives within it; under load, the commit time itself batches.
    wake_.wait_for(lock, window_, [this] { return stopping_ || pending_.size() >= max_batch_; });
    std::vector<Pending> batch;
    if (pending_.size() <= max_batch_) {
      batch.swap(pending_);
    } else {
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + max_batch_));
      pending_.erase(pending_.begin(), pending_.begin() + max_batch_);
    }
    lock.unlock();
    std::vector<store::AsyncEvent> events;
    events.reserve(batch.size());
    for (const auto& p : batch) events.push_back(p.event);
    Result<std::vector<std::string>> written = sink_(events);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!written.ok()) {
        batch[i].done->set(written.error());
      } else if (i < written->size()) {
        batch[i].done->set((*written)[i]);
      } else {
        batch[i].done->set(makeError(ErrorCode::kInternal, "the store answered too few events"));
      }
    }
    lock.lock();
    ++batches_;
    events_ += batch.size();
  }
}

}  // namespace nimbus::queue
