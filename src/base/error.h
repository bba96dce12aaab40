// The one error type that crosses module boundaries: a code, a message and the errno
// where there is one. Result<T> carries either a value or an Error.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace nimbus {

// Error codes are platform-wide; gateway/error_mapping.cc is the one table that turns
// them into HTTP statuses and Lambda error types.
enum class ErrorCode {
  kInvalidParameter,       // 400 InvalidParameterValueException
  kInvalidRequestContent,  // 400 InvalidRequestContentException
  kUnsupportedMediaType,   // 415 UnsupportedMediaTypeException
  kMissingAuthentication,  // 403 MissingAuthenticationTokenException
  kUnrecognizedClient,     // 403 UnrecognizedClientException
  kInvalidSignature,       // 403 InvalidSignatureException
  kNotFound,               // 404 ResourceNotFoundException
  kUnknownOperation,       // 404 UnknownOperationException
  kConflict,               // 409 ResourceConflictException
  kPreconditionFailed,     // 412 PreconditionFailedException (RevisionId mismatch)
  kTooLarge,               // 413 RequestTooLargeException
  kTooManyRequests,        // 429 TooManyRequestsException
  kInternal,               // 500 ServiceException
  kUnavailable,            // 503 ServiceException (shutting down, out of capacity)
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int sys_errno = 0;
  std::string reason;  // Lambda's Reason field (throttling), when there is one

  // Returns a copy with "context: " put before the message, for crossing a layer.
  Error withContext(const std::string& context) const {
    Error e = *this;
    e.message = context + ": " + message;
    return e;
  }
};

inline Error makeError(ErrorCode code, std::string message, int sys_errno = 0) {
  return Error{code, std::move(message), sys_errno, {}};
}

// Result<T> holds a T or an Error. Result<void> holds nothing or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace nimbus
