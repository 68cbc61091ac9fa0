// Errors a handler or the framework raises, each carrying the gRPC status the
// coordinator will see.
#pragma once

#include <grpcpp/support/status.h>

#include <stdexcept>
#include <string>

namespace angzarr {

/// A failure with the gRPC status code the caller receives. Everything
/// `Aggregate::execute` and `Aggregate::replay` throw is an `Error`.
class Error : public std::runtime_error {
 public:
  Error(grpc::StatusCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

  grpc::StatusCode code() const noexcept { return code_; }
  std::string message() const { return what(); }
  grpc::Status status() const { return grpc::Status(code_, what()); }

 private:
  grpc::StatusCode code_;
};

/// A command refused by business rules: gRPC FAILED_PRECONDITION with the
/// reason as the message; nothing is written.
class CommandRejected : public Error {
 public:
  explicit CommandRejected(const std::string& reason) : Error(grpc::StatusCode::FAILED_PRECONDITION, reason) {}
  std::string reason() const { return what(); }
};

/// Throws CommandRejected(reason) unless cond holds:
///
///     angzarr::ensure(amount > 0, "amount must be positive");
inline void ensure(bool cond, const std::string& reason) {
  if (!cond) throw CommandRejected(reason);
}

/// INVALID_ARGUMENT: a malformed request (unknown command type, bad payload).
inline Error invalid_argument(const std::string& message) {
  return Error(grpc::StatusCode::INVALID_ARGUMENT, message);
}

/// INTERNAL: a bug in the business logic.
inline Error internal_error(const std::string& message) { return Error(grpc::StatusCode::INTERNAL, message); }

/// The name of a gRPC status code, e.g. "FAILED_PRECONDITION".
inline const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

}  // namespace angzarr
