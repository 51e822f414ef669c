// status.h: Status and Result<T>, the error type of the data plane (any thread).
// GCC 12 has no std::expected, so this is a small stand-in: a code, a message, and for
// Result<T> either a value or the error.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace meshcache {

enum class Code {
  ok,
  not_found,         // a miss
  invalid_argument,  // bad input from a client: maps to 400
  too_large,         // maps to 413
  digest_mismatch,   // a body does not hash to what it claims: 400 (Bazel CAS) / 422
  unavailable,       // retry later: 503
  conflict,          // 409
  io_error,          // the store failed: 500
  corruption,        // stored bytes failed a check: never served, 500
  internal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::ok;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit by design, like expected
  Result(Status error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  Status status() const { return ok() ? Status{} : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace meshcache
