// Claiming, completing and releasing idempotency keys.
#include "queue/idempotency.h"

#include <algorithm>

namespace nimbus::queue {

namespace asio = boost::asio;

namespace {
constexpr const char* kSync = "sync";
}  // namespace

Result<void> validateIdempotencyKey(const std::string& key) {
  bool printable =
      std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (key.empty() || key.size() > 256 || !printable) {
    return makeError(
        ErrorCode::kInvalidParameter,
        std::string(kIdempotencyHeader) + " must be 1 to 256 printable ASCII characters");
  }
  return {};
}

asio::awaitable<Result<SyncClaim>> IdempotencyKeys::claimSync(const std::string& function,
                                                              const std::string& key,
                                                              const std::string& request_id) {
  store::IdempotencyRecord claim;
  claim.function_name = function;
  claim.kind = kSync;
  claim.key = key;
  claim.request_id = request_id;
  claim.status = "running";
  claim.created_ms = clock_.nowMillis();
  claim.expires_ms = claim.created_ms + ttl_.count() * 1000;
  auto fn = [this, &claim] { return store_.claimIdempotencyKey(claim); };
  Result<store::IdempotencyRecord> holder = co_await worker_.run(std::move(fn));
  if (!holder) co_return holder.error();
  SyncClaim out;
  out.request_id = holder->request_id;
  if (holder->request_id == request_id) {
    out.state = SyncClaim::State::kOurs;
  } else if (holder->status == "done") {
    out.state = SyncClaim::State::kDone;
    out.response = std::move(holder->response);
  } else {
    out.state = SyncClaim::State::kInProgress;
  }
  co_return out;
}

asio::awaitable<Result<void>> IdempotencyKeys::completeSync(const std::string& function,
                                                            const std::string& key,
                                                            const std::string& response) {
  auto fn = [&] { return store_.completeIdempotencyKey(function, kSync, key, response); };
  co_return co_await worker_.run(std::move(fn));
}

asio::awaitable<Result<void>> IdempotencyKeys::releaseSync(const std::string& function,
                                                           const std::string& key,
                                                           const std::string& request_id) {
  auto fn = [&] { return store_.releaseIdempotencyKey(function, kSync, key, request_id); };
  co_return co_await worker_.run(std::move(fn));
}

void IdempotencyKeys::stampAsync(store::AsyncEvent& event, const std::string& key) const {
  event.idempotency_key = key;
  event.idempotency_expires_ms = clock_.nowMillis() + ttl_.count() * 1000;
}

}  // namespace nimbus::queue
