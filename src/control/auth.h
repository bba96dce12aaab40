// Authentication of API requests: AWS Signature V4 as the AWS clients sign, or
// "Authorization: Bearer <access-key-id>:<secret>" for curl. Secrets are compared in
// constant time and never logged.
#pragma once

#include <string>

#include "base/error.h"
#include "control/root_credentials.h"
#include "http/types.h"

namespace nimbus::control {

struct Principal {
  std::string access_key_id;
};

class Authenticator {
 public:
  explicit Authenticator(RootCredentials root) : root_(std::move(root)) {}
  Result<Principal> authenticate(const http::Request& req, int64_t now_ms) const;

 private:
  RootCredentials root_;
};

}  // namespace nimbus::control
