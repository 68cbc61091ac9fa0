// Sending commands to the gateway (angzarr.CommandHandlerCoordinatorService).
//
// Why a client at all: a command sent over a network can fail *after* it was
// committed, and a blind retry would run it twice. The gateway's answer is an
// idempotency key: every call carries `angzarr-request-id` metadata, and
// within the configured window the partition owner answers a repeated id
// with the original outcome and writes nothing twice. So Gateway::send always
// sends an id (a fresh UUIDv4 unless the caller picks one), failures say what
// to do next (Rejected: don't retry; OutcomeUnknown: retry with the same id),
// and Gateway::send_with_retry does the retrying.
//
//     auto gateway = angzarr::Gateway::connect("127.0.0.1:1313");
//     angzarr::CommandResponse response = gateway.send_with_retry(request);
//
// (Rejected is what a *caller* receives; CommandRejected in errors.hpp is what
// a *handler* throws to refuse a command.)
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "angzarr/command_handler.grpc.pb.h"
#include "angzarr/errors.hpp"

namespace angzarr {

/// Request metadata key of the idempotency key.
inline constexpr const char* kRequestIdHeader = "angzarr-request-id";
/// Response metadata key the gateway sets to "unknown" when it cannot tell
/// whether a command committed.
inline constexpr const char* kOutcomeHeader = "angzarr-outcome";
/// The longest request id the gateway accepts.
inline constexpr std::size_t kMaxRequestIdLength = 128;

/// A call that failed: its gRPC code, message and the request id it was sent with.
class GatewayError : public std::runtime_error {
 public:
  GatewayError(grpc::StatusCode code, const std::string& message, const std::string& request_id)
      : std::runtime_error(std::string(code_name(code)) + ": " + message + " (request id " + request_id + ")"),
        code_(code),
        message_(message),
        request_id_(request_id) {}

  grpc::StatusCode code() const noexcept { return code_; }
  /// The status message (the gateway's words).
  const std::string& message() const noexcept { return message_; }
  /// The id to retry with.
  const std::string& request_id() const noexcept { return request_id_; }
  /// Whether retrying with the same request id is safe and may succeed.
  virtual bool retryable() const noexcept { return false; }

 private:
  grpc::StatusCode code_;
  std::string message_;
  std::string request_id_;
};

/// The command was refused (business rule, bad request, sequence mismatch...):
/// nothing was written; never retry.
class Rejected : public GatewayError {
 public:
  using GatewayError::GatewayError;
};

/// The gateway could not learn whether the command committed
/// (DEADLINE_EXCEEDED, with or without `angzarr-outcome: unknown`). Not a
/// rejection: retry with request_id().
class OutcomeUnknown : public GatewayError {
 public:
  using GatewayError::GatewayError;
  bool retryable() const noexcept override { return true; }
};

/// Anything else (unreachable gateway, INTERNAL...); retryable for UNAVAILABLE.
class TransportError : public GatewayError {
 public:
  using GatewayError::GatewayError;
  bool retryable() const noexcept override { return code() == grpc::StatusCode::UNAVAILABLE; }
};

/// Bounds of Gateway::send_with_retry: attempts in all, the first pause,
/// doubled after each retry up to max_backoff.
struct RetryPolicy {
  int attempts = 5;
  std::chrono::milliseconds backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

/// A fresh idempotency key (a random UUIDv4). All 122 random bits come from
/// std::random_device (the OS), not a seeded PRNG: two processes must never
/// draw the same id, or the second would be answered with the first's outcome.
inline std::string new_request_id() {
  static thread_local std::random_device rd;
  unsigned char b[16];
  for (int i = 0; i < 16; i += 4) {
    std::uint32_t v = rd();
    for (int j = 0; j < 4; ++j) b[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

/// Sends commands to angzarr.CommandHandlerCoordinatorService. Copies share
/// the channel; a Gateway is safe to use from several threads.
class Gateway {
 public:
  /// A gateway over an existing channel.
  explicit Gateway(std::shared_ptr<grpc::ChannelInterface> channel)
      : stub_(CommandHandlerCoordinatorService::NewStub(std::move(channel))) {}

  /// A gateway over a new plaintext channel to target ("host:port").
  static Gateway connect(const std::string& target) {
    return Gateway(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  }

  /// The same gateway with a deadline on each attempt (expiry = OutcomeUnknown).
  Gateway with_timeout(std::chrono::milliseconds per_attempt) const {
    Gateway copy = *this;
    copy.timeout_ = per_attempt;
    return copy;
  }

  /// Sends one command with `angzarr-request-id: request_id` (a new UUIDv4
  /// when absent). Throws Rejected, OutcomeUnknown or TransportError when
  /// the call fails, std::invalid_argument for a request id that is empty,
  /// longer than 128 characters or not printable ASCII.
  CommandResponse send(const CommandRequest& request, std::optional<std::string> request_id = std::nullopt) const {
    const std::string id = request_id ? check_request_id(*request_id) : new_request_id();
    grpc::ClientContext ctx;
    ctx.AddMetadata(kRequestIdHeader, id);
    if (timeout_) ctx.set_deadline(std::chrono::system_clock::now() + *timeout_);
    CommandResponse response;
    grpc::Status status = stub_->HandleCommand(&ctx, request, &response);
    if (!status.ok()) throw_failure(status, ctx, id);
    return response;
  }

  /// send(), repeated with the same request id after an unknown outcome or
  /// UNAVAILABLE. Rejections and other errors are thrown at once; when
  /// attempts run out the last error is thrown (its request_id() still lets
  /// a later retry find the original outcome).
  CommandResponse send_with_retry(const CommandRequest& request, std::optional<std::string> request_id = std::nullopt,
                                  RetryPolicy retry = RetryPolicy()) const {
    const std::string id = request_id ? *request_id : new_request_id();
    auto delay = retry.backoff;
    for (int attempt = 1;; ++attempt) {
      try {
        return send(request, id);
      } catch (const GatewayError& e) {
        if (!e.retryable() || attempt >= retry.attempts) throw;
      }
      std::this_thread::sleep_for(delay);
      delay = std::min(delay * 2, retry.max_backoff);
    }
  }

 private:
  /// Codes meaning the command was decided (or refused before it was
  /// logged): nothing was written and the same request gets the same answer.
  static bool is_rejection(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::FAILED_PRECONDITION:
      case grpc::StatusCode::OUT_OF_RANGE:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::ALREADY_EXISTS:
      case grpc::StatusCode::PERMISSION_DENIED:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::ABORTED:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
      case grpc::StatusCode::UNIMPLEMENTED:
        return true;
      default:
        return false;
    }
  }

  [[noreturn]] static void throw_failure(const grpc::Status& status, const grpc::ClientContext& ctx,
                                         const std::string& id) {
    bool unknown = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    auto range = ctx.GetServerTrailingMetadata().equal_range(kOutcomeHeader);
    for (auto it = range.first; it != range.second; ++it) {
      unknown = unknown || std::string(it->second.data(), it->second.size()) == "unknown";
    }
    if (unknown) throw OutcomeUnknown(status.error_code(), status.error_message(), id);
    if (is_rejection(status.error_code())) throw Rejected(status.error_code(), status.error_message(), id);
    throw TransportError(status.error_code(), status.error_message(), id);
  }

  static const std::string& check_request_id(const std::string& id) {
    bool ok = !id.empty() && id.size() <= kMaxRequestIdLength;
    for (char c : id) ok = ok && c >= ' ' && c <= '~';
    if (!ok) {
      throw std::invalid_argument("request id must be 1.." + std::to_string(kMaxRequestIdLength) +
                                  " printable ASCII characters: " + id);
    }
    return id;
  }

  std::shared_ptr<CommandHandlerCoordinatorService::Stub> stub_;
  std::optional<std::chrono::milliseconds> timeout_;
};

}  // namespace angzarr
