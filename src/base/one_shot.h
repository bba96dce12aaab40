// OneShot<T>: a value handed from any thread to one coroutine awaiting it. The first
// set() wins; later ones are ignored. Waiters resume on their own executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
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
      auto handler = std::move(handler_);
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
  // Not a coroutine itself, and no `co_await this_coro::executor`: GCC 12 destroys the
  // temporaries of such co_await expressions twice, which over-releases the executor.
  boost::asio::awaitable<T> wait() {
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(T)>(
        [this](auto handler) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          std::unique_lock lock(mutex_);
          if (value_) {
            T v = std::move(*value_);
            value_.reset();
            lock.unlock();
            complete(ex, std::move(handler), std::move(v));
          } else {
            handler_ = std::make_unique<HandlerImpl<decltype(handler)>>(std::move(handler));
            executor_ = ex;
          }
        },
        boost::asio::use_awaitable);
  }

 private:
  // Resumes the waiter through its own executor (its strand), never inline on the
  // setter's thread.
  // Boost 1.81's any_completion_handler mishandles awaitable handlers (their frame
  // allocator), so the handler is type-erased here with plain new/delete.
  struct HandlerBase {
    virtual ~HandlerBase() = default;
    virtual void call(T value) = 0;
  };
  template <typename Handler>
  struct HandlerImpl : HandlerBase {
    explicit HandlerImpl(Handler h) : handler(std::move(h)) {}
    void call(T value) override { std::move(handler)(std::move(value)); }
    Handler handler;
  };

  template <typename Handler>
  static void complete(const boost::asio::any_io_executor& ex, Handler handler, T value) {
    boost::asio::post(ex, [h = std::move(handler), v = std::move(value)]() mutable {
      std::move(h)(std::move(v));
    });
  }
  static void complete(const boost::asio::any_io_executor& ex, std::unique_ptr<HandlerBase> handler,
                       T value) {
    boost::asio::post(
        ex, [h = std::move(handler), v = std::move(value)]() mutable { h->call(std::move(v)); });
  }

  mutable std::mutex mutex_;
  bool has_been_set_ = false;
  std::optional<T> value_;
  std::unique_ptr<HandlerBase> handler_;
  std::optional<boost::asio::any_io_executor> executor_;
};

}  // namespace nimbus
