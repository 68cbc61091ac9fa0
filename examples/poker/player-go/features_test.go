package main

// Runs the shared /features/player.feature (unchanged, by path) with godog
// against the Go player aggregate in-process. The world plays the
// coordinator's part as features/README.md describes: it keeps the recorded
// events, refuses a command whose expected sequence is not the number of
// recorded events, sends the handler the history as the coordinator does
// (over a protobuf wire round trip) and checks the response follows the
// handler contract before recording its events.

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cucumber/godog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	pb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"

	"github.com/angzarr-kafka/angzarr/examples/poker/player-go/player"
)

// featuresDir is the repository's features/ folder; ANGZARR_FEATURES overrides it.
func featuresDir() string {
	if d := os.Getenv("ANGZARR_FEATURES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "features")
}

func TestPlayerFeature(t *testing.T) {
	path := filepath.Join(featuresDir(), "player.feature")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("feature file: %v", err)
	}
	suite := godog.TestSuite{
		Name:                "player",
		ScenarioInitializer: initializeScenario,
		Options: &godog.Options{
			Format:   "pretty",
			Paths:    []string{path},
			Strict:   true, // undefined or pending steps fail
			NoColors: true,
			TestingT: t, // each scenario is a subtest
		},
	}
	if code := suite.Run(); code != 0 {
		t.Fatalf("godog exited with status %d", code)
	}
}

// world is one scenario's player aggregate and its recorded events.
type world struct {
	agg        *angzarr.Aggregate[player.State]
	root       []byte
	recorded   []*anypb.Any
	before     int          // len(recorded) before the last When
	lastEvents []*anypb.Any // events of the last accepted command
	lastErr    error        // status of the last refused command
	sent       bool
}

func usd(n int64) *pb.Currency { return &pb.Currency{Amount: n, CurrencyCode: "USD"} }

func newRoot() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40 // UUID v4
	b[8] = b[8]&0x3f | 0x80
	return b
}

func (w *world) reset() {
	*w = world{agg: player.Aggregate(), root: newRoot()}
}

func (w *world) cover() *angzarrpb.Cover {
	return &angzarrpb.Cover{
		Root:          &angzarrpb.UUID{Value: w.root},
		Domain:        player.Domain,
		CorrelationId: fmt.Sprintf("%x", w.root),
	}
}

func seqHeader(s uint32) *angzarrpb.PageHeader {
	return &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: s}}
}

// history is the book the coordinator would send: every recorded event.
func (w *world) history() *angzarrpb.EventBook {
	pages := make([]*angzarrpb.EventPage, len(w.recorded))
	for i, e := range w.recorded {
		pages[i] = &angzarrpb.EventPage{Header: seqHeader(uint32(i)), Payload: &angzarrpb.EventPage_Event{Event: e}}
	}
	return &angzarrpb.EventBook{Cover: w.cover(), Pages: pages, NextSequence: uint32(len(pages))}
}

// roundTrip sends m over the protobuf wire, as the coordinator does.
func roundTrip[M proto.Message](m M) (M, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return m, err
	}
	out := m.ProtoReflect().New().Interface().(M)
	return out, proto.Unmarshal(b, out)
}

// send plays the coordinator: sequence check, Handle, contract checks,
// recording. An error is a broken contract (the step fails); a refused
// command is kept in lastErr for the Then steps.
func (w *world) send(cmd proto.Message, expected uint32) error {
	w.sent, w.lastEvents, w.lastErr = true, nil, nil
	n := uint32(len(w.recorded))
	if expected != n {
		w.lastErr = status.Errorf(codes.FailedPrecondition,
			"sequence mismatch: the command expects sequence %d, the aggregate is at %d", expected, n)
		return nil
	}
	packed, err := angzarr.Pack(cmd)
	if err != nil {
		return err
	}
	req, err := roundTrip(&angzarrpb.ContextualCommand{
		Events: w.history(),
		Command: &angzarrpb.CommandBook{Cover: w.cover(), Pages: []*angzarrpb.CommandPage{{
			Header:  seqHeader(expected),
			Payload: &angzarrpb.CommandPage_Command{Command: packed},
		}}},
	})
	if err != nil {
		return err
	}
	resp, err := w.agg.Execute(req)
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			return fmt.Errorf("handler error is not a gRPC status: %v", err)
		}
		w.lastErr = err
		return nil
	}
	if resp, err = roundTrip(resp); err != nil {
		return err
	}
	book := resp.GetEvents()
	if book == nil {
		return fmt.Errorf("response carries no events book: %v", resp)
	}
	if !proto.Equal(book.GetCover(), w.cover()) {
		return fmt.Errorf("response cover %v, want the command's %v", book.GetCover(), w.cover())
	}
	var events []*anypb.Any
	for i, p := range book.GetPages() {
		if got, want := p.GetHeader().GetSequence(), n+uint32(i); got != want {
			return fmt.Errorf("page %d has sequence %d, want %d", i, got, want)
		}
		if p.GetCreatedAt() != nil {
			return fmt.Errorf("page %d sets created_at: the coordinator stamps it", i)
		}
		e := p.GetEvent()
		if e == nil || !strings.HasPrefix(e.GetTypeUrl(), angzarr.TypeURLPrefix) {
			return fmt.Errorf("page %d event %v is not packed as %s<name>", i, e, angzarr.TypeURLPrefix)
		}
		events = append(events, e)
	}
	if len(events) > 0 {
		snap := book.GetSnapshot()
		if got, want := snap.GetSequence(), n+uint32(len(events))-1; got != want {
			return fmt.Errorf("snapshot sequence %d, want %d", got, want)
		}
		st := &pb.PlayerState{}
		if !angzarr.Is(snap.GetState(), st) {
			return fmt.Errorf("snapshot state type %q", snap.GetState().GetTypeUrl())
		}
		if err := proto.Unmarshal(snap.GetState().GetValue(), st); err != nil {
			return err
		}
		rebuilt, err := w.agg.Rebuild(nil, append(w.history().GetPages(), book.GetPages()...))
		if err != nil {
			return err
		}
		if !proto.Equal(st, rebuilt) {
			return fmt.Errorf("snapshot state %v differs from the replayed state %v", st, rebuilt)
		}
	}
	w.recorded = append(w.recorded, events...)
	w.lastEvents = events
	return nil
}

// when sends cmd with the current expected sequence, as a When step.
func (w *world) when(cmd proto.Message) error {
	w.before = len(w.recorded)
	return w.send(cmd, uint32(len(w.recorded)))
}

// given sends cmd, which must be accepted.
func (w *world) given(cmd proto.Message) error {
	if err := w.send(cmd, uint32(len(w.recorded))); err != nil {
		return err
	}
	if w.lastErr != nil {
		return fmt.Errorf("given %s was refused: %v", cmd.ProtoReflect().Descriptor().FullName(), w.lastErr)
	}
	return nil
}

func money(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func (w *world) state() (player.State, error) { return w.agg.Rebuild(nil, w.history().GetPages()) }

func initializeScenario(sc *godog.ScenarioContext) {
	w := &world{}
	sc.Before(func(ctx context.Context, _ *godog.Scenario) (context.Context, error) {
		w.reset()
		return ctx, nil
	})

	sc.Given(`^a new player aggregate$`, func() { w.reset() })
	sc.Given(`^a registered player with \$(-?\d+) balance$`, func(n string) error {
		amount, err := money(n)
		if err != nil {
			return err
		}
		if err := w.given(&pb.RegisterPlayer{DisplayName: "Ada", Email: "ada@example.com"}); err != nil {
			return err
		}
		if amount > 0 {
			return w.given(&pb.DepositFunds{Amount: usd(amount)})
		}
		return nil
	})

	sc.When(`^a player registers as "([^"]*)" with email "([^"]*)"$`, func(name, email string) error {
		return w.when(&pb.RegisterPlayer{DisplayName: name, Email: email})
	})
	sc.When(`^they deposit \$(-?\d+)$`, func(n string) error {
		amount, err := money(n)
		if err != nil {
			return err
		}
		return w.when(&pb.DepositFunds{Amount: usd(amount)})
	})
	sc.When(`^they deposit \$(-?\d+) expecting sequence (\d+)$`, func(n, seq string) error {
		amount, err := money(n)
		if err != nil {
			return err
		}
		s, err := strconv.ParseUint(seq, 10, 32)
		if err != nil {
			return err
		}
		w.before = len(w.recorded)
		return w.send(&pb.DepositFunds{Amount: usd(amount)}, uint32(s))
	})
	sc.When(`^they withdraw \$(-?\d+)$`, func(n string) error {
		amount, err := money(n)
		if err != nil {
			return err
		}
		return w.when(&pb.WithdrawFunds{Amount: usd(amount)})
	})
	reserve := func(n, table string) (*pb.ReserveFunds, error) {
		amount, err := money(n)
		return &pb.ReserveFunds{Amount: usd(amount), TableRoot: []byte(table)}, err
	}
	sc.Given(`^they reserve \$(-?\d+) for table "([^"]*)"$`, func(n, table string) error {
		cmd, err := reserve(n, table)
		if err != nil {
			return err
		}
		return w.given(cmd)
	})
	sc.When(`^they reserve \$(-?\d+) for table "([^"]*)"$`, func(n, table string) error {
		cmd, err := reserve(n, table)
		if err != nil {
			return err
		}
		return w.when(cmd)
	})
	sc.When(`^they release the reservation for table "([^"]*)"$`, func(table string) error {
		return w.when(&pb.ReleaseFunds{TableRoot: []byte(table)})
	})
	sc.When(`^they receive a transfer of \$(-?\d+)$`, func(n string) error {
		amount, err := money(n)
		if err != nil {
			return err
		}
		from := make([]byte, 16) // UUID 00000000-0000-0000-0000-000000000001
		from[15] = 1
		return w.when(&pb.TransferFunds{FromPlayerRoot: from, Amount: usd(amount), Reason: "pot"})
	})

	sc.Then(`^their balance is \$(-?\d+)$`, func(n string) error {
		want, err := money(n)
		if err != nil {
			return err
		}
		s, err := w.state()
		if err != nil {
			return err
		}
		if got := s.GetBankroll().GetAmount(); got != want {
			return fmt.Errorf("balance is $%d, want $%d", got, want)
		}
		return nil
	})
	sc.Then(`^an? (\w+) event is recorded$`, func(name string) error {
		if !w.sent {
			return fmt.Errorf("no command was sent")
		}
		if w.lastErr != nil {
			return fmt.Errorf("the last command was refused: %v", w.lastErr)
		}
		if len(w.lastEvents) == 0 {
			return fmt.Errorf("the last command recorded no event")
		}
		last := w.lastEvents[len(w.lastEvents)-1]
		if got, want := angzarr.TypeName(last.GetTypeUrl()), "examples."+name; got != want {
			return fmt.Errorf("last event is %s, want %s", got, want)
		}
		return nil
	})
	rejected := func() (string, error) {
		if w.lastErr == nil {
			return "", fmt.Errorf("the last command was accepted (%d events)", len(w.lastEvents))
		}
		st := status.Convert(w.lastErr)
		if st.Code() != codes.FailedPrecondition {
			return "", fmt.Errorf("the last command failed with %v, want FAILED_PRECONDITION: %s", st.Code(), st.Message())
		}
		return st.Message(), nil
	}
	sc.Then(`^the command is rejected with "([^"]*)"$`, func(text string) error {
		msg, err := rejected()
		if err != nil {
			return err
		}
		if !strings.Contains(msg, text) {
			return fmt.Errorf("rejected with %q, which does not contain %q", msg, text)
		}
		return nil
	})
	sc.Then(`^the command is rejected as a sequence mismatch$`, func() error {
		msg, err := rejected()
		if err != nil {
			return err
		}
		if !strings.Contains(msg, "sequence") {
			return fmt.Errorf("rejected with %q, not a sequence mismatch", msg)
		}
		return nil
	})
	sc.Then(`^no new event is recorded$`, func() error {
		if got := len(w.recorded); got != w.before {
			return fmt.Errorf("%d events recorded, %d before the last command", got, w.before)
		}
		return nil
	})
}

// A step the runner cannot execute is a failure, never a skip.
func TestUndefinedStepsFail(t *testing.T) {
	for name, step := range map[string]string{
		"undefined":         "When they juggle $5",
		"wrong keyword":     "Given they withdraw $5", // only defined as a When
		"failing assertion": "Then their balance is $1",
	} {
		feature := "Feature: strict\n  Scenario: " + name + "\n    Given a new player aggregate\n    " + step + "\n"
		suite := godog.TestSuite{
			Name:                "strict",
			ScenarioInitializer: initializeScenario,
			Options: &godog.Options{
				Format:          "progress",
				Output:          io.Discard,
				Strict:          true,
				FeatureContents: []godog.Feature{{Name: name + ".feature", Contents: []byte(feature)}},
			},
		}
		if code := suite.Run(); code == 0 {
			t.Errorf("%s: %q passed, want a failure", name, step)
		}
	}
}
