// The CLI's API client: bearer authentication over the shared http::Client. Connects
// with a timeout (an unreachable host should not hang the terminal for minutes), then
// reads without one, because a synchronous invoke legitimately lasts as long as the
// function's timeout.
#include "cli/api_client.h"

#include <cctype>

namespace nimbus::cli {
namespace {

http::ClientOptions apiClientOptions() {
  http::ClientOptions o;
  o.connect_timeout = std::chrono::seconds(10);
  o.user_agent = "nimbus-cli/0.1";
  // Above Lambda's 6 MB sync response limit with room for list pages and logs.
  o.max_response_bytes = 64ull << 20;
  o.what = "nimbus";
  return o;
}

}  // namespace

std::string percentEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ApiClient::ApiClient(Endpoint endpoint, Credentials credentials)
    : credentials_(std::move(credentials)), client_(std::move(endpoint), apiClientOptions()) {}

ApiClient::~ApiClient() = default;
ApiClient::ApiClient(ApiClient&&) noexcept = default;
ApiClient& ApiClient::operator=(ApiClient&&) noexcept = default;

Result<ApiResponse> ApiClient::send(std::string_view method, std::string_view target,
                                    std::string body, const Headers& headers) {
  Headers all = headers;
  all.emplace(all.begin(), "Authorization", bearerAuthorization(credentials_));
  return client_.send(method, target, body, all);
}

}  // namespace nimbus::cli
