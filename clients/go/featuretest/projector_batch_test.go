package featuretest

// Runs the shared /features/projector_batch.feature (unchanged, by path)
// with godog, strict, against a ledger projector built with the library's
// projector helper and served by the library's server on 127.0.0.1:0: the
// steps call angzarr_kafka.ProjectorBatchService.HandleBatch and
// angzarr.ProjectorService.Handle through a real gRPC client. The feature
// runs twice: with a plain ledger, and with one that applies each batch in
// a transaction of its own (Projector.BatchScope).

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cucumber/godog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	angzarr "github.com/angzarr-kafka/angzarr/clients/go"
	angzarrpb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr"
	angzarrkafkapb "github.com/angzarr-kafka/angzarr/clients/go/gen/angzarr_kafka"
	examplespb "github.com/angzarr-kafka/angzarr/clients/go/gen/examples"
)

// featuresDir is the repository's features/ folder; ANGZARR_FEATURES overrides it.
func featuresDir() string {
	if d := os.Getenv("ANGZARR_FEATURES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "features")
}

func TestProjectorBatchFeature(t *testing.T) {
	path := filepath.Join(featuresDir(), "projector_batch.feature")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("feature file: %v", err)
	}
	for _, transactional := range []bool{false, true} {
		name := "plain ledger"
		if transactional {
			name = "ledger with a transaction per batch"
		}
		t.Run(name, func(t *testing.T) {
			suite := godog.TestSuite{
				Name:                "projector_batch",
				ScenarioInitializer: scenarioInitializer(transactional),
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
		})
	}
}

// A step the runner cannot execute is a failure, never a skip.
func TestUndefinedStepsFail(t *testing.T) {
	for name, step := range map[string]string{
		"undefined":         "When it is juggled",
		"wrong keyword":     "Given the same batch is handed over again", // only defined as a When
		"failing assertion": "Then the call answers 1 projections",
		"bad book list":     `When it is handed a batch of books: "A" with two events`,
	} {
		feature := "Feature: strict\n  Scenario: " + name + "\n    Given a ledger projector\n" +
			`    When it is handed a batch of books: "A" with 2 events, "B" with 1 event` + "\n    " + step + "\n"
		suite := godog.TestSuite{
			Name:                "strict",
			ScenarioInitializer: scenarioInitializer(false),
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

// ledgerState is what the read model holds: per root, the sequences applied.
type ledgerState struct {
	applied map[string]map[uint32]bool
	last    map[string]uint32
}

func newLedgerState() *ledgerState {
	return &ledgerState{applied: map[string]map[uint32]bool{}, last: map[string]uint32{}}
}

func (s *ledgerState) clone() *ledgerState {
	c := newLedgerState()
	for root, seqs := range s.applied {
		c.applied[root] = map[uint32]bool{}
		for q := range seqs {
			c.applied[root][q] = true
		}
		c.last[root] = s.last[root]
	}
	return c
}

// ledger is the feature's read model, idempotent by sequence. Handlers run
// on the server's goroutines and steps read it from the test's: a mutex
// (the projector already applies one book at a time).
type ledger struct {
	mu        sync.Mutex
	committed *ledgerState
	tx        *ledgerState // the open batch transaction, if any
	refusing  map[string]bool
}

func (l *ledger) deposit(root string, seq uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refusing[root] {
		return fmt.Errorf("events of root %s are refused", root)
	}
	s := l.committed
	if l.tx != nil {
		s = l.tx
	}
	if last, ok := s.last[root]; ok && seq <= last {
		return nil // applied before: a redelivery
	}
	if s.applied[root] == nil {
		s.applied[root] = map[uint32]bool{}
	}
	s.applied[root][seq] = true
	s.last[root] = seq
	return nil
}

// transaction is the batch scope: apply in a copy, kept only on success.
func (l *ledger) transaction(apply func() error) error {
	l.mu.Lock()
	l.tx = l.committed.clone()
	l.mu.Unlock()
	err := apply()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.committed = l.tx // commit
	}
	l.tx = nil // or roll back
	return err
}

func (l *ledger) count(root string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.committed.applied[root])
}

// ledgerProjector is the feature's projector, built with the library's helper.
func ledgerProjector(l *ledger, transactional bool) *angzarr.Projector {
	p := angzarr.NewProjector("ledger")
	angzarr.Project(p, func(_ *examplespb.FundsDeposited, cover *angzarrpb.Cover, seq uint32) error {
		return l.deposit(rootString(cover.GetRoot().GetValue()), seq)
	})
	if transactional {
		p.BatchScope(l.transaction)
	}
	return p
}

// rootOf is the root a letter names: 16 zero bytes but the last, the
// letter's ASCII code.
func rootOf(letter string) ([]byte, error) {
	if len(letter) != 1 {
		return nil, fmt.Errorf("root %q: a root is named by one letter", letter)
	}
	b := make([]byte, 16)
	b[15] = letter[0]
	return b, nil
}

func rootString(b []byte) string {
	if len(b) != 16 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func rootLetter(letter string) (string, error) {
	b, err := rootOf(letter)
	if err != nil {
		return "", err
	}
	return rootString(b), nil
}

// world is one scenario: a served ledger projector and the last call.
type world struct {
	transactional bool
	ledger        *ledger
	srv           *grpc.Server
	served        chan error
	conn          *grpc.ClientConn
	batch         angzarrkafkapb.ProjectorBatchServiceClient
	handle        angzarrpb.ProjectorServiceClient

	next    map[string]uint32 // next sequence per root letter
	lastReq *angzarrkafkapb.ProjectorBatch
	called  bool
	lastOut []*angzarrpb.Projection
	lastErr error
}

func (w *world) stop() error {
	if w.srv == nil {
		return nil
	}
	w.conn.Close()
	w.srv.GracefulStop()
	err := <-w.served
	w.srv, w.conn = nil, nil
	return err
}

// start serves a fresh ledger projector on 127.0.0.1:0, as a deployment
// would (angzarr.NewServer), and dials it.
func (w *world) start() error {
	if err := w.stop(); err != nil {
		return err
	}
	w.ledger = &ledger{committed: newLedgerState(), refusing: map[string]bool{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	w.srv = angzarr.NewServer([]angzarr.Component{ledgerProjector(w.ledger, w.transactional)})
	w.served = make(chan error, 1)
	go func(srv *grpc.Server) { w.served <- srv.Serve(lis) }(w.srv)
	w.conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	w.batch = angzarrkafkapb.NewProjectorBatchServiceClient(w.conn)
	w.handle = angzarrpb.NewProjectorServiceClient(w.conn)
	w.next = map[string]uint32{}
	w.lastReq, w.called, w.lastOut, w.lastErr = nil, false, nil, nil
	return nil
}

var bookSpec = regexp.MustCompile(`^"([^"]+)" with (\d+) events?$`)

// books builds the listed books (`"A" with 2 events, "B" with 1 event` or
// `none`): each root's pages continue its sequences in the scenario.
func (w *world) books(list string) ([]*angzarrpb.EventBook, error) {
	if strings.TrimSpace(list) == "none" {
		return nil, nil
	}
	var books []*angzarrpb.EventBook
	for item := range strings.SplitSeq(list, ",") {
		m := bookSpec.FindStringSubmatch(strings.TrimSpace(item))
		if m == nil {
			return nil, fmt.Errorf("book %q: want `\"R\" with N events`", strings.TrimSpace(item))
		}
		root, err := rootOf(m[1])
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return nil, err
		}
		b := &angzarrpb.EventBook{Cover: &angzarrpb.Cover{Domain: "player", Root: &angzarrpb.UUID{Value: root}}}
		for range n {
			event, err := angzarr.Pack(&examplespb.FundsDeposited{Amount: &examplespb.Currency{Amount: 1, CurrencyCode: "USD"}})
			if err != nil {
				return nil, err
			}
			b.Pages = append(b.Pages, &angzarrpb.EventPage{
				Header:  &angzarrpb.PageHeader{SequenceType: &angzarrpb.PageHeader_Sequence{Sequence: w.next[m[1]]}},
				Payload: &angzarrpb.EventPage_Event{Event: event},
			})
			w.next[m[1]]++
		}
		books = append(books, b)
	}
	return books, nil
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// checkProjections: a successful call answers what the contract says for
// each book: its cover, the projector's name, its last page's sequence.
func checkProjections(books []*angzarrpb.EventBook, out []*angzarrpb.Projection) error {
	if len(out) != len(books) {
		return nil // the Then steps say what they expect
	}
	for i, b := range books {
		p := out[i]
		want := uint32(0)
		if n := len(b.GetPages()); n > 0 {
			want = b.GetPages()[n-1].GetHeader().GetSequence()
		}
		if !proto.Equal(p.GetCover(), b.GetCover()) || p.GetProjector() != "ledger" || p.GetSequence() != want {
			return fmt.Errorf("projection %d is %v for book %v", i+1, p, b.GetCover())
		}
	}
	return nil
}

// handBatch is one HandleBatch call. A failed call is kept for the Then
// steps; an error is a broken contract (the step fails).
func (w *world) handBatch(req *angzarrkafkapb.ProjectorBatch) error {
	c, cancel := ctx()
	defer cancel()
	w.lastReq, w.called = req, true
	resp, err := w.batch.HandleBatch(c, req)
	w.lastOut, w.lastErr = resp.GetProjections(), err
	if err != nil {
		if _, ok := status.FromError(err); !ok {
			return fmt.Errorf("HandleBatch error is not a gRPC status: %v", err)
		}
		return nil
	}
	return checkProjections(req.GetBooks(), w.lastOut)
}

// handOneAtATime is one Handle call per book, in order, stopping at the
// first failure (kept as the call's, for the Then steps).
func (w *world) handOneAtATime(books []*angzarrpb.EventBook) error {
	c, cancel := ctx()
	defer cancel()
	w.called, w.lastOut, w.lastErr = true, nil, nil
	for _, b := range books {
		p, err := w.handle.Handle(c, b)
		if err != nil {
			w.lastErr = err
			return nil
		}
		w.lastOut = append(w.lastOut, p)
	}
	return checkProjections(books, w.lastOut)
}

func (w *world) succeeded() error {
	if !w.called {
		return fmt.Errorf("nothing was handed to the projector")
	}
	if w.lastErr != nil {
		return fmt.Errorf("the call failed: %v", w.lastErr)
	}
	return nil
}

func scenarioInitializer(transactional bool) func(*godog.ScenarioContext) {
	return func(sc *godog.ScenarioContext) { initializeScenario(sc, transactional) }
}

func initializeScenario(sc *godog.ScenarioContext, transactional bool) {
	w := &world{transactional: transactional}
	sc.After(func(c context.Context, _ *godog.Scenario, err error) (context.Context, error) {
		if stopErr := w.stop(); stopErr != nil && err == nil {
			return c, fmt.Errorf("serve: %v", stopErr)
		}
		return c, nil
	})

	sc.Given(`^a ledger projector$`, w.start)
	sc.Given(`^the projector refuses events of root "([^"]*)"$`, func(letter string) error {
		root, err := rootLetter(letter)
		if err != nil {
			return err
		}
		w.ledger.mu.Lock()
		defer w.ledger.mu.Unlock()
		w.ledger.refusing[root] = true
		return nil
	})
	sc.When(`^the projector stops refusing$`, func() {
		w.ledger.mu.Lock()
		defer w.ledger.mu.Unlock()
		w.ledger.refusing = map[string]bool{}
	})

	sc.When(`^it is handed a batch of books: (.+)$`, func(list string) error {
		books, err := w.books(list)
		if err != nil {
			return err
		}
		return w.handBatch(&angzarrkafkapb.ProjectorBatch{Books: books})
	})
	sc.When(`^it is handed books one at a time: (.+)$`, func(list string) error {
		books, err := w.books(list)
		if err != nil {
			return err
		}
		return w.handOneAtATime(books)
	})
	sc.When(`^the same batch is handed over again$`, func() error {
		if w.lastReq == nil {
			return fmt.Errorf("no batch was handed over before")
		}
		return w.handBatch(w.lastReq)
	})

	sc.Then(`^the call answers (\d+) projections?$`, func(n int) error {
		if err := w.succeeded(); err != nil {
			return err
		}
		if len(w.lastOut) != n {
			return fmt.Errorf("the call answered %d projections, want %d", len(w.lastOut), n)
		}
		return nil
	})
	sc.Then(`^projection (\d+) is for root "([^"]*)" at sequence (\d+)$`, func(i int, letter string, seq uint32) error {
		if err := w.succeeded(); err != nil {
			return err
		}
		if i < 1 || i > len(w.lastOut) {
			return fmt.Errorf("projection %d of %d", i, len(w.lastOut))
		}
		root, err := rootLetter(letter)
		if err != nil {
			return err
		}
		p := w.lastOut[i-1]
		if got := rootString(p.GetCover().GetRoot().GetValue()); got != root || p.GetSequence() != seq {
			return fmt.Errorf("projection %d is for root %s at sequence %d, want %s at %d", i, got, p.GetSequence(), root, seq)
		}
		return nil
	})
	sc.Then(`^the call fails with a message containing "([^"]*)"$`, func(text string) error {
		if !w.called {
			return fmt.Errorf("nothing was handed to the projector")
		}
		if w.lastErr == nil {
			return fmt.Errorf("the call succeeded with %d projections", len(w.lastOut))
		}
		st := status.Convert(w.lastErr)
		if st.Code() == codes.OK || st.Code() == codes.Unimplemented {
			return fmt.Errorf("the call failed with %v: %s", st.Code(), st.Message())
		}
		if !strings.Contains(st.Message(), text) {
			return fmt.Errorf("the call failed with %q, which does not contain %q", st.Message(), text)
		}
		return nil
	})
	sc.Then(`^the ledger holds (\d+) events? of root "([^"]*)" and (\d+) events? of root "([^"]*)"$`, func(n int, r string, m int, s string) error {
		for _, want := range []struct {
			n      int
			letter string
		}{{n, r}, {m, s}} {
			root, err := rootLetter(want.letter)
			if err != nil {
				return err
			}
			if got := w.ledger.count(root); got != want.n {
				return fmt.Errorf("the ledger holds %d events of root %q, want %d", got, want.letter, want.n)
			}
		}
		return nil
	})
}
