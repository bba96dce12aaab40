// The sweep loop.
#include "queue/sweeper.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.h"

namespace nimbus::queue {

namespace asio = boost::asio;

void Sweeper::start() { asio::co_spawn(ioc_, loop(), asio::detached); }

asio::awaitable<void> Sweeper::loop() {
  asio::steady_timer timer(ioc_);
  while (!stopped_) {
    auto sweep = [this] {
      int64_t now = clock_.nowMillis();
      return store_.sweep(now, now - retention_.count());
    };
    auto deleted = co_await worker_.run(std::move(sweep));
    if (!deleted) {
      log::error("queue", "retention sweep failed", {{"error", deleted.error().message}});
    } else if (*deleted > 0) {
      log::info("queue", "retention sweep", {{"deleted", std::to_string(*deleted)}});
    }
    // Short steps, so that stop() is noticed soon.
    for (auto waited = std::chrono::milliseconds(0); waited < interval_ && !stopped_;
         waited += std::chrono::milliseconds(500)) {
      timer.expires_after(std::chrono::milliseconds(500));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
}

}  // namespace nimbus::queue
