// angzarr.CommandHandlerService over grpc++, hosting one or more aggregates
// routed by the command's cover.domain; in the same server, optionally one
// projector (angzarr.ProjectorService, and angzarr_kafka.ProjectorBatchService
// beside it), one saga (angzarr.SagaService), one process manager
// (angzarr.ProcessManagerService) and one upcaster (angzarr.UpcasterService).
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
#include "angzarr/process_manager.grpc.pb.h"
#include "angzarr/process_manager.hpp"
#include "angzarr/projector.grpc.pb.h"
#include "angzarr/projector.hpp"
#include "angzarr/saga.grpc.pb.h"
#include "angzarr/saga.hpp"
#include "angzarr/upcaster.grpc.pb.h"
#include "angzarr/upcaster.hpp"
#include "angzarr_kafka/batch.grpc.pb.h"

namespace angzarr {

using HandlerPtr = std::shared_ptr<const CommandHandler>;
using ProjectorPtr = std::shared_ptr<const Projector>;
using SagaPtr = std::shared_ptr<const Saga>;
using ProcessManagerPtr = std::shared_ptr<const ProcessManagerHandler>;
using UpcasterPtr = std::shared_ptr<const Upcaster>;

/// What one server hosts: aggregates (routed by domain), and at most one
/// projector, one saga, one process manager and one upcaster (their
/// services carry no name to route by: the coordinator reaches each at its
/// own URL).
struct Hosting {
  std::vector<HandlerPtr> aggregates;
  ProjectorPtr projector;
  SagaPtr saga;
  ProcessManagerPtr process_manager;
  UpcasterPtr upcaster;

  /// Whether anything but aggregates is hosted.
  bool has_other_services() const noexcept { return projector || saga || process_manager || upcaster; }
};

namespace detail {
template <class T>
struct is_shared_ptr : std::false_type {};
template <class T>
struct is_shared_ptr<std::shared_ptr<T>> : std::true_type {};

// Whether T (a component as given: by value or shared_ptr) is a U.
template <class T, class U>
struct is_component : std::is_same<T, U> {};
template <class T, class U>
struct is_component<std::shared_ptr<T>, U> : std::is_same<std::remove_const_t<T>, U> {};
template <class T, class U>
inline constexpr bool is_component_v = is_component<T, U>::value;

// The component type of T (T itself, or what a shared_ptr points to).
template <class T>
struct component_type {
  using type = T;
};
template <class T>
struct component_type<std::shared_ptr<T>> {
  using type = std::remove_const_t<T>;
};
template <class T>
using component_type_t = typename component_type<T>::type;

template <class U, class H>
std::shared_ptr<const U> to_shared(H&& component) {
  using T = std::decay_t<H>;
  if constexpr (is_shared_ptr<T>::value) {
    return component;
  } else {
    return std::make_shared<U>(std::forward<H>(component));
  }
}

// An aggregate given by value (copied or moved) or by shared_ptr.
template <class H>
HandlerPtr to_handler(H&& handler) {
  using T = std::decay_t<H>;
  if constexpr (is_shared_ptr<T>::value) {
    static_assert(std::is_base_of_v<CommandHandler, typename T::element_type>, "not a CommandHandler");
    return handler;
  } else {
    static_assert(std::is_base_of_v<CommandHandler, T>,
                  "serve() takes aggregates (angzarr::CommandHandler), an angzarr::Projector, an angzarr::Saga, "
                  "an angzarr::ProcessManager and an angzarr::Upcaster");
    return std::make_shared<T>(std::forward<H>(handler));
  }
}

// Adds one component (by value or shared_ptr) to what a server hosts.
template <class H>
void add_component(Hosting& hosting, H&& component) {
  using T = std::decay_t<H>;
  if constexpr (is_component_v<T, Projector>) {
    if (hosting.projector) throw std::invalid_argument("angzarr: one projector per server");
    hosting.projector = to_shared<Projector>(std::forward<H>(component));
    if (!hosting.projector) throw std::invalid_argument("angzarr: null projector");
  } else if constexpr (is_component_v<T, Saga>) {
    if (hosting.saga) throw std::invalid_argument("angzarr: one saga per server");
    hosting.saga = to_shared<Saga>(std::forward<H>(component));
    if (!hosting.saga) throw std::invalid_argument("angzarr: null saga");
  } else if constexpr (std::is_base_of_v<ProcessManagerHandler, component_type_t<T>>) {
    if (hosting.process_manager) throw std::invalid_argument("angzarr: one process manager per server");
    hosting.process_manager = to_shared<component_type_t<T>>(std::forward<H>(component));
    if (!hosting.process_manager) throw std::invalid_argument("angzarr: null process manager");
  } else if constexpr (is_component_v<T, Upcaster>) {
    if (hosting.upcaster) throw std::invalid_argument("angzarr: one upcaster per server");
    hosting.upcaster = to_shared<Upcaster>(std::forward<H>(component));
    if (!hosting.upcaster) throw std::invalid_argument("angzarr: null upcaster");
  } else {
    hosting.aggregates.push_back(to_handler(std::forward<H>(component)));
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

/// angzarr.ProjectorService for one projector. Every failure is a gRPC
/// status; HandleSpeculative is UNIMPLEMENTED unless the projector has a
/// speculation().
class HostedProjector final : public ProjectorService::Service {
 public:
  explicit HostedProjector(ProjectorPtr projector) : projector_(std::move(projector)) {
    if (!projector_) throw std::invalid_argument("angzarr: null projector");
  }
  const Projector& projector() const noexcept { return *projector_; }
  grpc::Status Handle(grpc::ServerContext*, const EventBook* request, Projection* response) override {
    return projector_->handle(*request, response);
  }
  grpc::Status HandleSpeculative(grpc::ServerContext*, const EventBook* request, Projection* response) override {
    return projector_->handle_speculative(*request, response);
  }

 private:
  ProjectorPtr projector_;
};

/// angzarr_kafka.ProjectorBatchService for one projector, served wherever its
/// angzarr.ProjectorService is: HandleBatch applies the books in order as
/// Handle would one at a time (Projector::execute_batch), one projection per
/// book; a failure in any book fails the whole call with the status Handle
/// would have answered for that book.
class HostedProjectorBatch final : public angzarr_kafka::ProjectorBatchService::Service {
 public:
  explicit HostedProjectorBatch(ProjectorPtr projector) : projector_(std::move(projector)) {
    if (!projector_) throw std::invalid_argument("angzarr: null projector");
  }
  const Projector& projector() const noexcept { return *projector_; }
  grpc::Status HandleBatch(grpc::ServerContext*, const angzarr_kafka::ProjectorBatch* request,
                           angzarr_kafka::ProjectionBatch* response) override {
    return projector_->handle_batch(*request, response);
  }

 private:
  ProjectorPtr projector_;
};

/// angzarr.SagaService for one saga. Every failure is a gRPC status.
class HostedSaga final : public SagaService::Service {
 public:
  explicit HostedSaga(SagaPtr saga) : saga_(std::move(saga)) {
    if (!saga_) throw std::invalid_argument("angzarr: null saga");
  }
  const Saga& saga() const noexcept { return *saga_; }
  grpc::Status Handle(grpc::ServerContext*, const SagaHandleRequest* request, SagaResponse* response) override {
    return saga_->handle(*request, response);
  }

 private:
  SagaPtr saga_;
};

/// angzarr.ProcessManagerService for one process manager. Every failure is a
/// gRPC status.
class HostedProcessManager final : public ProcessManagerService::Service {
 public:
  explicit HostedProcessManager(ProcessManagerPtr pm) : pm_(std::move(pm)) {
    if (!pm_) throw std::invalid_argument("angzarr: null process manager");
  }
  const ProcessManagerHandler& process_manager() const noexcept { return *pm_; }
  grpc::Status Prepare(grpc::ServerContext*, const ProcessManagerPrepareRequest* request,
                       ProcessManagerPrepareResponse* response) override {
    return pm_->handle_prepare(*request, response);
  }
  grpc::Status Handle(grpc::ServerContext*, const ProcessManagerHandleRequest* request,
                      ProcessManagerHandleResponse* response) override {
    return pm_->handle(*request, response);
  }

 private:
  ProcessManagerPtr pm_;
};

/// angzarr.UpcasterService for one upcaster. Every failure is a gRPC status.
class HostedUpcaster final : public UpcasterService::Service {
 public:
  explicit HostedUpcaster(UpcasterPtr upcaster) : upcaster_(std::move(upcaster)) {
    if (!upcaster_) throw std::invalid_argument("angzarr: null upcaster");
  }
  const Upcaster& upcaster() const noexcept { return *upcaster_; }
  grpc::Status Upcast(grpc::ServerContext*, const UpcastRequest* request, UpcastResponse* response) override {
    return upcaster_->handle(*request, response);
  }

 private:
  UpcasterPtr upcaster_;
};

/// A running gRPC server hosting aggregates, and optionally one projector,
/// one saga, one process manager and one upcaster.
///
///     auto server = angzarr::Server::start("127.0.0.1:0", {std::make_shared<...>(agg)});
///     std::cout << server->address() << "\n";  // the port actually bound
///     server->wait();
class Server {
 public:
  /// Binds address ("host:port"; port 0 picks a free one) and starts
  /// serving. Throws std::runtime_error when the address cannot be bound.
  static std::unique_ptr<Server> start(const std::string& address, std::vector<HandlerPtr> handlers) {
    return start(address, Hosting{std::move(handlers), nullptr, nullptr, nullptr, nullptr});
  }

  /// As start(), hosting aggregates (CommandHandlerService, registered
  /// unless there are none but there is something else), a projector
  /// (ProjectorService and angzarr_kafka.ProjectorBatchService), a saga (SagaService), a process manager
  /// (ProcessManagerService) and an upcaster (UpcasterService), each
  /// optional. Throws std::invalid_argument for a domain hosted twice.
  static std::unique_ptr<Server> start(const std::string& address, Hosting hosting) {
    auto server = std::unique_ptr<Server>(new Server());
    const bool aggregates = !hosting.aggregates.empty() || !hosting.has_other_services();
    server->service_ = std::make_unique<HandlerService>(std::move(hosting.aggregates));
    if (hosting.projector) {
      server->projector_batch_ = std::make_unique<HostedProjectorBatch>(hosting.projector);
      server->projector_ = std::make_unique<HostedProjector>(std::move(hosting.projector));
    }
    if (hosting.saga) server->saga_ = std::make_unique<HostedSaga>(std::move(hosting.saga));
    if (hosting.process_manager) {
      server->process_manager_ = std::make_unique<HostedProcessManager>(std::move(hosting.process_manager));
    }
    if (hosting.upcaster) server->upcaster_ = std::make_unique<HostedUpcaster>(std::move(hosting.upcaster));
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port is an error
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    if (aggregates) {
      builder.RegisterService(server->service_.get());
      server->services_.push_back(CommandHandlerService::service_full_name());
    }
    if (server->projector_) {
      builder.RegisterService(server->projector_.get());
      server->services_.push_back(ProjectorService::service_full_name());
      builder.RegisterService(server->projector_batch_.get());
      server->services_.push_back(angzarr_kafka::ProjectorBatchService::service_full_name());
    }
    if (server->saga_) {
      builder.RegisterService(server->saga_.get());
      server->services_.push_back(SagaService::service_full_name());
    }
    if (server->process_manager_) {
      builder.RegisterService(server->process_manager_.get());
      server->services_.push_back(ProcessManagerService::service_full_name());
    }
    if (server->upcaster_) {
      builder.RegisterService(server->upcaster_.get());
      server->services_.push_back(UpcasterService::service_full_name());
    }
    server->server_ = builder.BuildAndStart();
    if (!server->server_ || port == 0) throw std::runtime_error("cannot listen on " + address);
    server->port_ = port;
    auto colon = address.rfind(':');
    server->host_ = colon == std::string::npos ? address : address.substr(0, colon);
    return server;
  }

  /// Every aggregate, and at most one Projector, Saga, ProcessManager and
  /// Upcaster, given by value or shared_ptr, in any order. Throws
  /// std::invalid_argument for a second projector, saga, process manager or
  /// upcaster.
  template <class... H>
  static std::unique_ptr<Server> start_with(const std::string& address, H&&... components) {
    Hosting hosting;
    (detail::add_component(hosting, std::forward<H>(components)), ...);
    return start(address, std::move(hosting));
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
  /// The hosted projector, or nullptr.
  const Projector* projector() const noexcept { return projector_ ? &projector_->projector() : nullptr; }
  /// The hosted saga, or nullptr.
  const Saga* saga() const noexcept { return saga_ ? &saga_->saga() : nullptr; }
  /// The hosted process manager, or nullptr.
  const ProcessManagerHandler* process_manager() const noexcept {
    return process_manager_ ? &process_manager_->process_manager() : nullptr;
  }
  /// The hosted upcaster, or nullptr.
  const Upcaster* upcaster() const noexcept { return upcaster_ ? &upcaster_->upcaster() : nullptr; }
  /// The full names of the gRPC services registered, e.g.
  /// "angzarr.CommandHandlerService", "angzarr.ProjectorService",
  /// "angzarr_kafka.ProjectorBatchService".
  const std::vector<std::string>& services() const noexcept { return services_; }

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
  std::unique_ptr<HostedProjector> projector_;
  std::unique_ptr<HostedProjectorBatch> projector_batch_;
  std::unique_ptr<HostedSaga> saga_;
  std::unique_ptr<HostedProcessManager> process_manager_;
  std::unique_ptr<HostedUpcaster> upcaster_;
  std::vector<std::string> services_;
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

/// Serves aggregates, and at most one projector, saga, process manager and
/// upcaster (each given by value or shared_ptr, in any order), on address
/// until SIGINT or SIGTERM, then shuts down gracefully:
///
///     angzarr::serve("127.0.0.1:50051", player::aggregate());
///     angzarr::serve("127.0.0.1:50052", ledger_projector, reserve_saga);
///
/// Throws std::runtime_error when the address cannot be bound,
/// std::invalid_argument for a domain hosted twice or a second projector,
/// saga, process manager or upcaster.
template <class... H>
void serve(const std::string& address, H&&... components) {
  static_assert(sizeof...(H) > 0, "serve() needs at least one component");
  block_termination_signals();
  auto server = Server::start_with(address, std::forward<H>(components)...);
  std::cerr << "angzarr: serving";
  for (const auto& d : server->domains()) std::cerr << " " << d;
  if (const Projector* p = server->projector()) std::cerr << " projector " << p->name();
  if (const Saga* s = server->saga()) std::cerr << " saga " << s->name();
  if (const ProcessManagerHandler* pm = server->process_manager()) std::cerr << " process-manager " << pm->name();
  if (server->upcaster()) std::cerr << " upcaster";
  std::cerr << " on " << server->address() << std::endl;
  wait_for_termination_signal();
  server->shutdown();
}

}  // namespace angzarr
