// angzarr.CommandHandlerService over grpc++, hosting one or more aggregates
// routed by the command's cover.domain.
#pragma once

#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "angzarr/aggregate.hpp"
#include "angzarr/command_handler.grpc.pb.h"

namespace angzarr {

using HandlerPtr = std::shared_ptr<const CommandHandler>;

namespace detail {
template <class T>
struct is_shared_ptr : std::false_type {};
template <class T>
struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};

// An aggregate given by value (copied or moved) or by shared_ptr.
template <class H>
HandlerPtr to_handler(H&& handler) {
  using T = std::decay_t<H>;
  if constexpr (is_shared_ptr<T>::value) {
    static_assert(std::is_base_of_v<CommandHandler, typename T::element_type>, "not a CommandHandler");
    return handler;
  } else {
    static_assert(std::is_base_of_v<CommandHandler, T>, "serve() takes aggregates (angzarr::CommandHandler)");
    return std::make_shared<T>(std::forward<H>(handler));
  }
}
}  // namespace detail

/// angzarr.CommandHandlerService: Handle routes by command.cover.domain
/// (a single-domain service also takes a cover-less command); Replay needs a
/// single-aggregate service. Nothing a handler does can crash it: every
/// failure is a gRPC status.
class HandlerService final : public CommandHandlerService::Service {
 public:
  explicit HandlerService(std::vector<HandlerPtr> handlers) {
    for (auto& h : handlers) {
      if (!h) throw std::invalid_argument("angzarr: null handler");
      std::string domain = h->domain();
      if (!by_domain_.emplace(domain, std::move(h)).second) {
        throw std::invalid_argument("angzarr: domain `" + domain + "` hosted twice");
      }
    }
  }

  /// The hosted domains, sorted.
  std::vector<std::string> domains() const {
    std::vector<std::string> out;
    for (const auto& [d, _] : by_domain_) out.push_back(d);
    return out;
  }

  /// The handler of domain, or nullptr.
  const CommandHandler* route(const std::string& domain) const {
    auto it = by_domain_.find(domain);
    if (it != by_domain_.end()) return it->second.get();
    if (domain.empty() && by_domain_.size() == 1) return by_domain_.begin()->second.get();
    return nullptr;
  }

  grpc::Status Handle(grpc::ServerContext*, const ContextualCommand* request, BusinessResponse* response) override {
    return CommandHandler::guarded("handle", [&] {
      const std::string& domain = request->command().cover().domain();
      const CommandHandler* h = route(domain);
      if (h == nullptr) throw Error(grpc::StatusCode::NOT_FOUND, "no aggregate for domain `" + domain + "` here");
      *response = h->execute(*request);
    });
  }

  grpc::Status Replay(grpc::ServerContext*, const ReplayRequest* request, ReplayResponse* response) override {
    return CommandHandler::guarded("replay", [&] {
      if (by_domain_.size() != 1) {
        throw Error(grpc::StatusCode::UNIMPLEMENTED, "replay needs a single-aggregate server");
      }
      *response = by_domain_.begin()->second->replay(*request);
    });
  }

 private:
  std::map<std::string, HandlerPtr> by_domain_;
};

/// A running gRPC server hosting aggregates.
///
///     auto server = angzarr::Server::start("127.0.0.1:0", {std::make_shared<...>(agg)});
///     std::cout << server->address() << "\n";  // the port actually bound
///     server->wait();
class Server {
 public:
  /// Binds address ("host:port"; port 0 picks a free one) and starts
  /// serving. Throws std::runtime_error when the address cannot be bound.
  static std::unique_ptr<Server> start(const std::string& address, std::vector<HandlerPtr> handlers) {
    auto server = std::unique_ptr<Server>(new Server());
    server->service_ = std::make_unique<HandlerService>(std::move(handlers));
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port is an error
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(server->service_.get());
    server->server_ = builder.BuildAndStart();
    if (!server->server_ || port == 0) throw std::runtime_error("cannot listen on " + address);
    server->port_ = port;
    auto colon = address.rfind(':');
    server->host_ = colon == std::string::npos ? address : address.substr(0, colon);
    return server;
  }

  /// Every aggregate given by value or shared_ptr.
  template <class... H>
  static std::unique_ptr<Server> start_with(const std::string& address, H&&... handlers) {
    return start(address, std::vector<HandlerPtr>{detail::to_handler(std::forward<H>(handlers))...});
  }

  ~Server() { shutdown(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// The port bound.
  int port() const noexcept { return port_; }
  /// The host part of the address given to start().
  const std::string& host() const noexcept { return host_; }
  /// host:port actually bound.
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  /// The hosted domains, sorted.
  std::vector<std::string> domains() const { return service_->domains(); }

  /// Stops accepting calls; in-flight calls get grace to finish, then are
  /// cancelled. gRPC C++ also waits until then for clients to close their
  /// idle connections, so a connected client makes shutdown last the whole
  /// grace: keep it short (handlers decide in microseconds).
  void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(1)) {
    if (server_ && !stopped_) {
      stopped_ = true;
      server_->Shutdown(std::chrono::system_clock::now() + grace);
      server_->Wait();
    }
  }

  /// Blocks until the server is shut down (from another thread).
  void wait() {
    if (server_) server_->Wait();
  }

 private:
  Server() = default;
  std::unique_ptr<HandlerService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string host_;
  int port_ = 0;
  bool stopped_ = false;
};

/// Blocks SIGINT and SIGTERM in the calling thread and the threads it starts
/// afterwards (call it before starting the server), so that
/// wait_for_termination_signal() can receive them.
inline void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

/// Waits for SIGINT or SIGTERM (blocked beforehand by
/// block_termination_signals()) and returns it.
inline int wait_for_termination_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

/// Serves aggregates (given by value or shared_ptr) on address until SIGINT
/// or SIGTERM, then shuts down gracefully:
///
///     angzarr::serve("127.0.0.1:50051", player::aggregate());
///
/// Throws std::runtime_error when the address cannot be bound.
template <class... H>
void serve(const std::string& address, H&&... handlers) {
  static_assert(sizeof...(H) > 0, "serve() needs at least one aggregate");
  block_termination_signals();
  auto server = Server::start_with(address, std::forward<H>(handlers)...);
  std::cerr << "angzarr: serving";
  for (const auto& d : server->domains()) std::cerr << " " << d;
  std::cerr << " on " << server->address() << std::endl;
  wait_for_termination_signal();
  server->shutdown();
}

}  // namespace angzarr
