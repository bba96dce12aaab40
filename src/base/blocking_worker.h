// BlockingWorker: runs blocking calls (SQLite, file I/O) on its own threads so that
// coroutines on the I/O threads await them instead of stalling every connection that
// thread serves.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <type_traits>
#include <utility>

#include "base/one_shot.h"

namespace nimbus {

class BlockingWorker {
 public:
  explicit BlockingWorker(int threads = 1) : pool_(static_cast<size_t>(threads)) {}
  ~BlockingWorker() { pool_.join(); }
  BlockingWorker(const BlockingWorker&) = delete;
  BlockingWorker& operator=(const BlockingWorker&) = delete;

  // Runs fn() on a worker thread; the awaiting coroutine resumes on its own executor.
  template <typename Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> run(Fn fn) {
    using R = std::invoke_result_t<Fn>;
    auto done = std::make_shared<OneShot<R>>();
    boost::asio::post(pool_, [done, fn = std::move(fn)]() mutable { done->set(fn()); });
    co_return co_await done->wait();
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace nimbus
