// player-cpp serves the player aggregate as angzarr's CommandHandlerService
// over gRPC, for `--handler player=URL` or a sidecar deployment:
//
//     player-cpp --listen 127.0.0.1:50051
//
// Without --listen it binds $LISTEN, else 127.0.0.1:$PORT (PORT defaults to
// 50051): localhost unless told otherwise. Port 0 picks a free port. Once
// serving it prints one line to stdout:
//
//     player-cpp: serving domain player on HOST:PORT
//
// and serves until SIGINT or SIGTERM, then shuts down gracefully: in-flight
// calls get 1 s to finish (exit 0).

#include <angzarr/server.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "player.hpp"

namespace {

std::string default_address() {
  if (const char* listen = std::getenv("LISTEN"); listen != nullptr && *listen != '\0') return listen;
  const char* port = std::getenv("PORT");
  return std::string("127.0.0.1:") + (port != nullptr && *port != '\0' ? port : "50051");
}

void usage(std::ostream& out) {
  out << "usage: player-cpp [--listen HOST:PORT]\n"
         "  Serves the poker player aggregate (angzarr.CommandHandlerService) over gRPC.\n"
         "  --listen HOST:PORT  address to serve on (default: $LISTEN, else 127.0.0.1:$PORT, PORT=50051)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = default_address();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--listen" || arg == "-listen") {
      if (i + 1 >= argc) {
        std::cerr << "player-cpp: --listen needs an address\n";
        usage(std::cerr);
        return 2;
      }
      address = argv[++i];
    } else if (arg.rfind("--listen=", 0) == 0) {
      address = arg.substr(9);
    } else if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "player-cpp: unknown argument `" << arg << "`\n";
      usage(std::cerr);
      return 2;
    }
  }

  angzarr::block_termination_signals();  // before gRPC starts its threads
  std::unique_ptr<angzarr::Server> server;
  try {
    server = angzarr::Server::start_with(address, player::aggregate());
  } catch (const std::exception& e) {
    std::cerr << "player-cpp: " << e.what() << "\n";
    return 1;
  }
  std::cout << "player-cpp: serving domain " << player::kDomain << " on " << server->address() << std::endl;

  const int sig = angzarr::wait_for_termination_signal();
  std::cerr << "player-cpp: signal " << sig << ", shutting down\n";
  server->shutdown();
  return 0;
}
