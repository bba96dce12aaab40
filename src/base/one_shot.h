// OneShot<T>: a value handed from any thread to one coroutine awaiting it. The first
// set() wins; later ones are ignored. Waiters resume on their own executor.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <optional>

namespace nimbus {

template <typename T>
class OneShot {
 public:
  // Returns false if a value was already set.
  bool set(T value) {
    std::unique_lock lock(mutex_);
    if (has_been_set_) return false;
    has_been_set_ = true;
    if (handler_) {
      auto handler = std::move(*handler_);
      handler_.reset();
      auto ex = *executor_;
      lock.unlock();
      complete(ex, std::move(handler), std::move(value));
    } else {
      value_ = std::move(value);
    }
    return true;
  }

  bool isSet() const {
    std::lock_guard lock(mutex_);
    return has_been_set_;
  }

  // At most one waiter. The object must outlive the wait (hold it by shared_ptr).
  boost::asio::awaitable<T> wait() {
    boost::asio::any_io_executor ex = co_await boost::asio::this_coro::executor;
    co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
        [this, ex](auto handler) {
          std::unique_lock lock(mutex_);
          if (value_) {
            T v = std::move(*value_);
            value_.reset();
            lock.unlock();
            complete(ex, std::move(handler), std::move(v));
          } else {
            handler_.emplace(std::move(handler));
            executor_ = ex;
          }
        },
        boost::asio::use_awaitable);
  }

 private:
  // Resumes the waiter through its own executor (its strand), never inline on the
  // setter's thread.
  template <typename Handler>
  static void complete(const boost::asio::any_io_executor& ex, Handler handler, T value) {
    boost::asio::post(ex, [h = std::move(handler), v = std::move(value)]() mutable {
      std::move(h)(std::move(v));
    });
  }

  mutable std::mutex mutex_;
  bool has_been_set_ = false;
  std::optional<T> value_;
  std::optional<boost::asio::any_completion_handler<void(T)>> handler_;
  std::optional<boost::asio::any_io_executor> executor_;
};

}  // namespace nimbus
