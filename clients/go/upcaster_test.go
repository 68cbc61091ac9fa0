package angzarr_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// playerUpcaster is the poker example's (examples/poker/src/upcaster.rs):
// PlayerRegisteredV1 → PlayerRegistered. A V1 named "panic" panics, one
// named "nil" maps to nil.
func playerUpcaster() *angzarr.Upcaster {
	return angzarr.Upcast(angzarr.NewUpcaster(), func(old *examplespb.PlayerRegisteredV1) *examplespb.PlayerRegistered {
		switch old.GetName() {
		case "panic":
			panic("upcast broke")
		case "nil":
			return nil
		}
		return &examplespb.PlayerRegistered{DisplayName: old.GetName(), Email: old.GetEmail()}
	})
}

func TestUpcasterMapsOldEvents(t *testing.T) {
	u := playerUpcaster()
	if strings.Join(u.OldTypes(), ",") != "examples.PlayerRegisteredV1" {
		t.Fatalf("old types %v", u.OldTypes())
	}
	v1 := page(3, &examplespb.PlayerRegisteredV1{Name: "ann", Email: "ann@example.com"})
	v1.CreatedAt = &timestamppb.Timestamp{Seconds: 1700000000}
	current := page(4, &examplespb.FundsDeposited{Amount: usd(5)})
	noEvent := &angzarrpb.EventPage{Header: seqHeader(5)}
	unknown := &angzarrpb.EventPage{Header: seqHeader(6), Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: "type.googleapis.com/examples.Gone", Value: []byte{0xff}}}}
	req := &angzarrpb.UpcastRequest{Domain: "player", Events: []*angzarrpb.EventPage{
		v1, current, noEvent, unknown, page(7, &examplespb.PlayerRegisteredV1{Name: "bob"}),
	}}
	before := proto.Clone(req)
	resp, err := u.Execute(req)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(req, before) {
		t.Fatalf("the request was modified: %v", req)
	}
	upcastV1 := page(3, &examplespb.PlayerRegistered{DisplayName: "ann", Email: "ann@example.com"})
	upcastV1.CreatedAt = v1.GetCreatedAt() // the rest of the page is kept
	want := []*angzarrpb.EventPage{upcastV1, current, noEvent, unknown, page(7, &examplespb.PlayerRegistered{DisplayName: "bob"})}
	if len(resp.GetEvents()) != len(want) {
		t.Fatalf("%d events out for %d in", len(resp.GetEvents()), len(want))
	}
	for i := range want {
		if !proto.Equal(resp.GetEvents()[i], want[i]) {
			t.Errorf("event %d: %v, want %v", i, resp.GetEvents()[i], want[i])
		}
	}

	// Nothing to upcast; nothing mapped.
	if out, err := u.Execute(&angzarrpb.UpcastRequest{Domain: "player"}); err != nil || len(out.GetEvents()) != 0 {
		t.Fatalf("empty: %v %v", out, err)
	}
	if out, err := angzarr.NewUpcaster().Execute(req); err != nil || !proto.Equal(out, &angzarrpb.UpcastResponse{Events: req.GetEvents()}) {
		t.Fatalf("identity: %v %v", out, err)
	}
}

func TestUpcasterErrors(t *testing.T) {
	u := playerUpcaster()
	malformed := &angzarrpb.EventPage{Header: seqHeader(2), Payload: &angzarrpb.EventPage_Event{Event: &anypb.Any{TypeUrl: angzarr.TypeURL(&examplespb.PlayerRegisteredV1{}), Value: []byte{0xff}}}}
	_, err := u.Execute(&angzarrpb.UpcastRequest{Events: []*angzarrpb.EventPage{page(1, &examplespb.FundsDeposited{}), malformed}})
	wantCode(t, err, codes.InvalidArgument, "upcaster: malformed examples.PlayerRegisteredV1 (event #1)")
	_, err = u.Execute(&angzarrpb.UpcastRequest{Events: []*angzarrpb.EventPage{page(1, &examplespb.PlayerRegisteredV1{Name: "panic"})}})
	wantCode(t, err, codes.Internal, "rewrite of examples.PlayerRegisteredV1 (event #0) panicked: upcast broke")
	_, err = u.Execute(&angzarrpb.UpcastRequest{Events: []*angzarrpb.EventPage{page(1, &examplespb.PlayerRegisteredV1{Name: "nil"})}})
	wantCode(t, err, codes.Internal, "returned nil")

	defer func() {
		if recover() == nil {
			t.Error("mapping a type twice: no panic")
		}
	}()
	angzarr.Upcast(playerUpcaster(), func(old *examplespb.PlayerRegisteredV1) *examplespb.PlayerRegistered { return nil })
}
