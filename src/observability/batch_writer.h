// Moves items (invocation records, log lines) off the invoke path: push() appends to a
// bounded in-memory queue and never blocks on I/O; a writer thread hands the queue to
// `flush` in batches, every `interval` or as soon as `batch` items wait. When the queue
// is full, push() drops the item and counts it: a slow disk costs records, never
// invocations. Thread-safe.
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/log.h"

namespace nimbus::observability {

struct BatchWriterOptions {
  std::string name;         // for log lines
  size_t capacity = 65536;  // items waiting at most; beyond, push() drops
  size_t batch = 1024;      // items per flush call at most; this many waiting wake it
  std::chrono::milliseconds interval{200};
  // Niceness of the writer thread: above 0, invocations get the CPU first when it is
  // scarce, and a writer that falls behind drops (and counts) instead.
  int nice = 0;
};

template <typename T>
class BatchWriter {
 public:
  using Flush = std::function<Result<void>(const std::vector<T>&)>;

  BatchWriter(BatchWriterOptions options, Flush flush)
      : options_(std::move(options)), flush_(std::move(flush)) {
    queue_.reserve(std::min<size_t>(options_.capacity, 1024));
    thread_ = std::thread([this] {
      const std::string thread_name = ("obs-" + options_.name).substr(0, 15);
      ::pthread_setname_np(::pthread_self(), thread_name.c_str());
      if (options_.nice != 0) (void)::setpriority(PRIO_PROCESS, ::gettid(), options_.nice);
      run();
    });
  }
  ~BatchWriter() { stop(); }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // false when the queue was full (the item is dropped and counted) or stopped.
  bool push(T item) {
    std::unique_lock lock(mutex_);
    if (stopping_ || queue_.size() >= options_.capacity) {
      lock.unlock();
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(item));
    const bool wake = queue_.size() == options_.batch;
    lock.unlock();
    if (wake) wake_.notify_one();
    return true;
  }

  // Blocks until everything pushed before the call has been handed to flush.
  void drain() {
    std::unique_lock lock(mutex_);
    const uint64_t target = pushed_generation_ + 1;
    ++pushed_generation_;
    wake_.notify_one();
    done_.wait(lock, [&] { return flushed_generation_ >= target || thread_exited_; });
  }

  // Writes what is queued and ends the thread. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait_for(lock, options_.interval, [&] {
        return stopping_ || queue_.size() >= options_.batch ||
               pushed_generation_ > flushed_generation_;
      });
      const uint64_t generation = pushed_generation_;
      std::vector<T> items;
      items.swap(queue_);
      const bool last = stopping_;
      lock.unlock();
      for (size_t start = 0; start < items.size(); start += options_.batch) {
        const size_t end = std::min(items.size(), start + options_.batch);
        std::vector<T> batch(std::make_move_iterator(items.begin() + static_cast<long>(start)),
                             std::make_move_iterator(items.begin() + static_cast<long>(end)));
        Result<void> r = flush_(batch);
        if (r) {
          written_.fetch_add(batch.size(), std::memory_order_relaxed);
        } else {
          failed_.fetch_add(batch.size(), std::memory_order_relaxed);
          log::warn("observability", "batch write failed",
                    {{"writer", options_.name},
                     {"items", std::to_string(batch.size())},
                     {"error", r.error().message}});
        }
      }
      lock.lock();
      flushed_generation_ = generation;
      done_.notify_all();
      if (last && queue_.empty()) break;
    }
    thread_exited_ = true;
    done_.notify_all();
  }

  const BatchWriterOptions options_;
  const Flush flush_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<T> queue_;
  bool stopping_ = false;
  bool thread_exited_ = false;
  uint64_t pushed_generation_ = 0;   // drain() requests
  uint64_t flushed_generation_ = 0;  // drain() requests served
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace nimbus::observability
