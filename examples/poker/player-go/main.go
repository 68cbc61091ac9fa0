// Command player-go serves the player aggregate as angzarr's
// CommandHandlerService over gRPC, for `--handler player=URL` or a sidecar
// deployment:
//
//	go run . --listen 127.0.0.1:50051
//
// Without --listen it binds $LISTEN, else 127.0.0.1:$PORT (PORT defaults to
// 50051): localhost unless told otherwise.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"

	"github.com/angzarr-kafka/angzarr/examples/poker/player-go/player"
)

func defaultAddr() string {
	if a := os.Getenv("LISTEN"); a != "" {
		return a
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "50051"
	}
	return "127.0.0.1:" + port
}

// newServer is the gRPC server hosting the player aggregate.
func newServer() *grpc.Server {
	return angzarr.NewServer([]angzarr.CommandHandler{player.Aggregate()})
}

func main() {
	listen := flag.String("listen", defaultAddr(), "address to serve gRPC on (host:port)")
	flag.Parse()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "player-go: %v\n", err)
		os.Exit(1)
	}
	srv := newServer()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		srv.GracefulStop()
	}()

	slog.Info("player aggregate serving", "addr", lis.Addr().String(), "domain", player.Domain)
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "player-go: %v\n", err)
		os.Exit(1)
	}
}
