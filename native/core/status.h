// Status: how the native core reports failure. No exceptions cross the core's API, nothing calls
// exit() or abort(); the binding turns a failed Status into a JS error carrying its message.
#pragma once
#include <string>
#include <utility>

namespace nasnet {

enum class StatusCode { kOk = 0, kInvalidArgument, kOutOfRange, kNotFound, kResourceExhausted, kInternal, kUnavailable };

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  static Status Invalid(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
  static Status OutOfRange(std::string m) { return Status(StatusCode::kOutOfRange, std::move(m)); }
  static Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
  static Status Exhausted(std::string m) { return Status(StatusCode::kResourceExhausted, std::move(m)); }
  static Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace nasnet

// Propagate a failed Status to the caller.
#define NASNET_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::nasnet::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)
