package main

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	pb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

func TestDefaultAddrIsLocalhost(t *testing.T) {
	t.Setenv("LISTEN", "")
	t.Setenv("PORT", "")
	if got := defaultAddr(); got != "127.0.0.1:50051" {
		t.Fatalf("default address %q", got)
	}
	t.Setenv("PORT", "6000")
	if got := defaultAddr(); got != "127.0.0.1:6000" {
		t.Fatalf("with PORT: %q", got)
	}
	t.Setenv("LISTEN", "127.0.0.2:7")
	if got := defaultAddr(); got != "127.0.0.2:7" {
		t.Fatalf("with LISTEN: %q", got)
	}
}

// The served player over a real gRPC connection on 127.0.0.1:0.
func TestServesThePlayerOverGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer()
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := angzarrpb.NewCommandHandlerServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cover := &angzarrpb.Cover{Domain: "player", Root: &angzarrpb.UUID{Value: make([]byte, 16)}}
	command := func(history *angzarrpb.EventBook, cmd *pb.RegisterPlayer) *angzarrpb.ContextualCommand {
		return &angzarrpb.ContextualCommand{Events: history, Command: &angzarrpb.CommandBook{Cover: cover, Pages: []*angzarrpb.CommandPage{{
			Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: history.GetNextSequence()}},
			Payload: &angzarrpb.CommandPage_Command{Command: angzarr.MustPack(cmd)},
		}}}}
	}
	resp, err := client.Handle(ctx, command(&angzarrpb.EventBook{Cover: cover}, &pb.RegisterPlayer{DisplayName: "Ada", Email: "ada@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	book := resp.GetEvents()
	if len(book.GetPages()) != 1 || book.GetPages()[0].GetEvent().GetTypeUrl() != "type.googleapis.com/examples.PlayerRegistered" {
		t.Fatalf("response %v", resp)
	}
	history := &angzarrpb.EventBook{Cover: cover, Pages: book.GetPages(), NextSequence: 1}
	_, err = client.Handle(ctx, command(history, &pb.RegisterPlayer{DisplayName: "Ada", Email: "ada@example.com"}))
	if st := status.Convert(err); st.Code() != codes.FailedPrecondition || st.Message() != "player already exists" {
		t.Fatalf("second registration: %v", err)
	}
}
