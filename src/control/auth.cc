// Bearer and SigV4 authentication against the root credentials.
#include "control/auth.h"

#include "base/encoding.h"
#include "control/sigv4.h"

namespace nimbus::control {

Result<Principal> Authenticator::authenticate(const http::Request& req, int64_t now_ms) const {
  std::string_view authz = req[http::bhttp::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (authz.size() > kBearer.size() && authz.substr(0, kBearer.size()) == kBearer) {
    std::string_view token = authz.substr(kBearer.size());
    size_t colon = token.find(':');
    if (colon == std::string_view::npos) {
      return makeError(ErrorCode::kInvalidSignature,
                       "Bearer token must be <access-key-id>:<secret-access-key>");
    }
    std::string_view id = token.substr(0, colon);
    std::string_view secret = token.substr(colon + 1);
    if (!constantTimeEquals(id, root_.access_key_id)) {
      return makeError(ErrorCode::kUnrecognizedClient,
                       "The security token included in the request is invalid.");
    }
    if (!constantTimeEquals(secret, root_.secret_access_key)) {
      return makeError(ErrorCode::kInvalidSignature, "The secret access key does not match.");
    }
    return Principal{std::string(id)};
  }

  SigV4Request sreq;
  sreq.method = std::string(req.method_string());
  sreq.target = std::string(req.target());
  for (const auto& field : req.base()) {
    sreq.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  sreq.body = req.body();
  auto lookup = [this](const std::string& id) -> std::optional<std::string> {
    if (constantTimeEquals(id, root_.access_key_id)) return root_.secret_access_key;
    return std::nullopt;
  };
  auto verified = verifySigV4(sreq, lookup, now_ms);
  if (!verified) return verified.error();
  return Principal{verified->access_key_id};
}

}  // namespace nimbus::control
