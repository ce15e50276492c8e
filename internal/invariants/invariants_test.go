package invariants_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// scenarios is how many scenarios a test plays: the variable env if set,
// else def (a tenth of it with -short).
func scenarios(t *testing.T, env string, def int) int {
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive number", env, v)
		}
		return n
	}
	if testing.Short() {
		return max(def/10, 1)
	}
	return def
}

// firstSeed is the seed of a test's first scenario: the variable env to
// replay a failure, else a new one each run (printed).
func firstSeed(t *testing.T, env string) uint64 {
	if v := os.Getenv(env); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q is not a number", env, v)
		}
		return n
	}
	return uint64(time.Now().UnixNano() % 1_000_000_000)
}

// openLedger opens a ledger of its own for the test, on the stack's Postgres.
func openLedger(t *testing.T) *store.Store {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("needs Postgres: run through make test (IMPAGOS_INTEGRATION=1)")
	}
	ctx := context.Background()
	db, drop, err := store.OpenIsolated(ctx, engine.FromEnv().DatabaseURL, "invariants")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// TestInvariants plays random single-case scenarios against the real ledger
// and checks, after each, what must never happen (PROCESS "The cut, at the
// moment it is requested" and "The distributor cuts, and says when"). The
// distributor is one of the actors (distributor_test.go): it answers the B1
// messages the ledger committed as it chooses, and past the end of the
// scenario answers everything, so that every case it kept waiting can move.
//
//	I1 no cut request (B1 01) while the amount due is zero, on hold, for an
//	   essential or protected supply, on a day that is not an allowed cut day
//	   of the supply's calendar, or without a proven formal notice whose wait
//	   is over;
//	I2 every accepted payment is in the ledger exactly once;
//	I3 every case is closed or waits in a named stage with a next action, or
//	   is flagged NeedsAttention: none retries without end unseen;
//	I4 a cut the distributor executed and then paid in full is restored once:
//	   a 03 'reconnect', or a 03 'cancel' its 05 overtook, and the case ends
//	   reconnected (this held the cut request before the distributor spoke
//	   ATR; the cut is now the distributor's 05);
//	I5 a case is cut only once a 05 (or an "already cut" rejection) of its
//	   request was recorded, its cut date is the day the distributor gives,
//	   and a 05 on a day no cut is allowed is recorded as a breach;
//	I6 no 05 for a request of an invoice paid in full before its 01 was
//	   written; a 05 after a payment made after the 01 ends reconnected,
//	   never paid;
//	I7 a case paid before its request was executed ends paid, by a 03
//	   'cancel', never a 'reconnect';
//	I8 one 01 per cut; a new one only after the last request was rejected,
//	   and none once a never_cut rejection flagged the supply point;
//	I9 every B1 message the ledger committed parses (atr.Parse), goes from
//	   the retailer's REE code, and has left the ledger by the end; every
//	   answer the distributor gives is taken and reaches its case;
//	I10 a case that waited for the distributor past its bound shows
//	   NeedsAttention;
//	I11 once the distributor answered everything, no case waits on it, and a
//	   case whose invoice the ledger holds paid is closed.
//
// A failure names its seed and shows what happened; IMPAGOS_INVARIANT_SEED=<seed>
// with IMPAGOS_INVARIANT_SCENARIOS=1 plays it again.
func TestInvariants(t *testing.T) {
	db := openLedger(t)
	// 500 in make test, IMPAGOS_INVARIANT_SCENARIOS=20000 in make test-long.
	n, seed := scenarios(t, "IMPAGOS_INVARIANT_SCENARIOS", 500), firstSeed(t, "IMPAGOS_INVARIANT_SEED")
	t.Logf("%d scenarios from seed %d (IMPAGOS_INVARIANT_SEED=%d to replay)", n, seed, seed)
	stats := map[string]int{}
	for i := range n {
		s := seed + uint64(i)
		ok := t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			for k, v := range play(t, db, s) {
				stats[k] += v
			}
		})
		if !ok {
			t.Logf("scenario seed %d failed: IMPAGOS_INVARIANT_SEED=%d IMPAGOS_INVARIANT_SCENARIOS=1 go test -run TestInvariants ./internal/invariants/", s, s)
		}
	}
	t.Logf("outcomes: %v", stats)
}

// entry is one write the ledger committed, in commit order.
type entry struct {
	kind    string // payment, hold, release, cut, cut_refused, proof, contract, settle, answer
	cents   int64
	day     time.Time // the ledger's day of a cut request; a proof's day of receipt; an answer's date
	joined  bool
	refusal string
	k       activities.Contract

	code    string // the B1 request code of a cut, a settlement's 03 or an answer
	cutID   int64
	release string    // a settlement's 03: cancel or reconnect; "" when it wrote none
	step    string    // an answer's step: 02, 04, 05
	answer  atr.Kind  // an answer's kind
	class   atr.Class // a rejection's class
	at      time.Time // when an answer was recorded (the test's clock)
}

// ledger is the real store with faults the scenario injects (the database
// away for a while, a cut request that reaches it past midnight) and a log of
// what it committed, in order. Writes that the invariants judge run one at a
// time so the log's order is the ledger's.
type ledger struct {
	*store.Store
	env *testsuite.TestWorkflowEnvironment

	mu         sync.Mutex
	log        []entry
	awayFrom   time.Time
	awayUntil  time.Time
	cutDelay   time.Duration // added to the clock of the first cut request
	cutDelayed bool
	onContract func(n int) // called before the n-th (1-based) read of the contract
	contracts  int
	clockShift atomic.Int64 // read by the store's clock inside a write that holds mu
}

var errAway = errors.New("connect: connection refused (the database is away)")

func (l *ledger) now() time.Time {
	return l.env.Now().Add(time.Duration(l.clockShift.Load()))
}

func (l *ledger) away() error {
	now := l.env.Now()
	if !now.Before(l.awayFrom) && now.Before(l.awayUntil) {
		return errAway
	}
	return nil
}

func (l *ledger) add(e entry) { l.log = append(l.log, e) }

func (l *ledger) OpenCase(ctx context.Context, in activities.OpenCaseInput) (activities.OpenCaseResult, error) {
	if err := l.away(); err != nil {
		return activities.OpenCaseResult{}, err
	}
	return l.Store.OpenCase(ctx, in)
}

func (l *ledger) Contract(ctx context.Context, c activities.CaseRef) (activities.Contract, error) {
	if err := l.away(); err != nil {
		return activities.Contract{}, err
	}
	l.mu.Lock()
	l.contracts++
	n, hook := l.contracts, l.onContract
	l.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return l.Store.Contract(ctx, c)
}

func (l *ledger) RecordStage(ctx context.Context, in activities.StageInput) error {
	if err := l.away(); err != nil {
		return err
	}
	return l.Store.RecordStage(ctx, in)
}

func (l *ledger) NoticeProof(ctx context.Context, c activities.CaseRef) (activities.ProofStatus, error) {
	if err := l.away(); err != nil {
		return activities.ProofStatus{}, err
	}
	return l.Store.NoticeProof(ctx, c)
}

func (l *ledger) RecordPayment(ctx context.Context, in activities.PaymentInput) (bool, error) {
	if err := l.away(); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	added, err := l.Store.RecordPayment(ctx, in)
	if err == nil && added {
		l.add(entry{kind: "payment", cents: in.AmountCents})
	}
	return added, err
}

func (l *ledger) RecordHold(ctx context.Context, in activities.HoldInput) (activities.HoldResult, error) {
	if err := l.away(); err != nil {
		return activities.HoldResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.RecordHold(ctx, in)
	if err == nil && (res.Applied || !in.On) {
		kind := "hold"
		if !in.On {
			kind = "release"
		}
		l.add(entry{kind: kind})
	}
	return res, err
}

func (l *ledger) RequestCut(ctx context.Context, in activities.CutInput) (activities.CutResult, error) {
	if err := l.away(); err != nil {
		return activities.CutResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cutDelay > 0 && !l.cutDelayed {
		l.cutDelayed = true
		l.clockShift.Store(int64(l.cutDelay))
		defer l.clockShift.Store(0)
	}
	day := l.now()
	res, err := l.Store.RequestCut(ctx, in)
	if r, ok := activities.AsCutRefusal(err); ok {
		l.add(entry{kind: "cut_refused", day: day, refusal: r.Reason})
	} else if err == nil {
		e := entry{kind: "cut", day: day, joined: res.Joined, cutID: res.CutID}
		if res.Request != nil {
			e.code = res.Request.Code
		}
		l.add(e)
	}
	return res, err
}

func (l *ledger) Settle(ctx context.Context, in activities.SettleInput) (activities.SettleResult, error) {
	if err := l.away(); err != nil {
		return activities.SettleResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.Settle(ctx, in)
	if err == nil {
		e := entry{kind: "settle", release: res.Release}
		if res.Request != nil {
			e.code = res.Request.Code
		}
		l.add(e)
	}
	return res, err
}

func (l *ledger) UnsentATR(ctx context.Context, requestID int64) ([]activities.DistributorMessage, error) {
	if err := l.away(); err != nil {
		return nil, err
	}
	return l.Store.UnsentATR(ctx, requestID)
}

func (l *ledger) MarkATRSent(ctx context.Context, id int64) error {
	if err := l.away(); err != nil {
		return err
	}
	return l.Store.MarkATRSent(ctx, id)
}

func (l *ledger) RequestState(ctx context.Context, id int64) (activities.DistributorState, error) {
	if err := l.away(); err != nil {
		return activities.DistributorState{}, err
	}
	return l.Store.RequestState(ctx, id)
}

func (l *ledger) RecordBreach(ctx context.Context, in activities.BreachInput) error {
	if err := l.away(); err != nil {
		return err
	}
	return l.Store.RecordBreach(ctx, in)
}

// recordAnswer records an answer of the distributor as the inbox does, in
// the log when it is new.
func (l *ledger) recordAnswer(ctx context.Context, file string, body []byte) (store.ATRDelivery, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d, err := l.Store.RecordATRAnswer(ctx, file, body)
	if err != nil || d.Duplicate {
		return d, err
	}
	m, err := atr.Parse(body)
	if err != nil {
		return d, err
	}
	e := entry{kind: "answer", code: m.Code, step: m.Step, answer: m.Kind, day: madridDay(m.Date), at: l.env.Now()}
	for _, r := range m.Rejections { // as the ledger ranks them
		switch c := atr.Classify(r.Code); {
		case e.class == "", c == atr.ClassNeverCut, c == atr.ClassAlreadyCut && e.class != atr.ClassNeverCut:
			e.class = c
		}
	}
	l.add(e)
	return d, nil
}

// upsertContract changes the contract as TRADE's export would, in the log.
func (l *ledger) upsertContract(ctx context.Context, k activities.Contract) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Store.UpsertContract(ctx, k); err != nil {
		return err
	}
	l.add(entry{kind: "contract", k: k})
	return nil
}

// recordProof records a clerk's proof, in the log when the ledger took it.
func (l *ledger) recordProof(ctx context.Context, p store.Proof) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	got, err := l.Store.RecordProof(ctx, p)
	if err == nil && got.New {
		l.add(entry{kind: "proof", day: calendar.Date(got.ReceivedOn.In(calendar.Madrid).Date())})
	}
	return err
}

// sent is a payment the scenario reported to the case.
type sent struct {
	key    string
	cents  int64
	closed bool // the case had closed: the report was not accepted
}

// scenario is one random case and what happens to it.
type scenario struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand
	env    *testsuite.TestWorkflowEnvironment
	l      *ledger
	in     workflows.Input
	k      activities.Contract
	start  time.Time
	end    time.Time
	mu     sync.Mutex
	sent   []sent
	final  workflows.State
	stages map[workflows.Stage]bool
	d      *distributorActor
	// silences counts the answers the case waited for past their bound.
	silences int
	// paidInFull: the customer has decided to pay in full once the cut was
	// asked (at the first look in cut_requested or cut, a third of the time).
	paidInFull bool
}

// drainFor is how long a scenario goes on after its end, the distributor
// answering everything at once, so that every case it kept waiting moves.
const drainFor = 30 * 24 * time.Hour

var provinces = []string{"Madrid", "Barcelona", "A Coruña", "Sevilla", "Bizkaia", "Valencia", ""}

// play runs the scenario of one seed and checks the invariants.
func play(t *testing.T, db *store.Store, seed uint64) map[string]int {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(5 * time.Minute)
	l := &ledger{Store: db, env: env}
	s := &scenario{t: t, seed: seed, rng: rng, env: env, l: l, stages: map[workflows.Stage]bool{}}
	s.setup()

	// The scenario's ledger judges days by the test's clock.
	db.Clock = l.now
	env.SetStartTime(s.start)
	env.RegisterWorkflow(workflows.ReturnedInvoice)
	s.d = newDistributorActor(s)
	env.RegisterActivity(&activities.Activities{Store: l, Retailer: notice.DefaultRetailer,
		Distributor: s.d.distributor(), REECode: distributor.LocalREECode})
	s.plan()
	env.ExecuteWorkflow(workflows.ReturnedInvoice, s.in)
	if !env.IsWorkflowCompleted() {
		t.Fatalf("seed %d: the case did not end", seed)
	}
	if s.final.Stage == "" { // it closed between two looks
		s.final = s.state()
	}
	s.check()
	if t.Failed() {
		s.explain()
	}
	out := map[string]int{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.log {
		switch e.kind {
		case "cut_refused":
			out["refused:"+e.refusal]++
		case "answer":
			k := "answer:" + e.step + ":" + string(e.answer)
			if e.class != "" {
				k += ":" + string(e.class)
			}
			out[k]++
		case "settle":
			out["settle:"+firstNonEmpty(e.release, "none")]++
		default:
			out[e.kind]++
		}
	}
	out["final:"+string(s.final.Stage)]++
	if s.final.Attention != "" {
		out["attention"]++
	}
	if s.final.Breach != "" {
		out["breach"]++
	}
	if !s.d.wire {
		out["sent_by_the_loop"]++
	}
	out["silence_seen"] += s.silences
	return out
}

func (s *scenario) setup() {
	r := s.rng
	day := calendar.Date(2026, time.January, 5).AddDate(0, 0, r.IntN(330))
	s.start = time.Date(day.Year(), day.Month(), day.Day(), 10, 30, 0, 0, calendar.Madrid)
	s.end = s.start.AddDate(0, 15, 0)
	cups := cupsFor(s.seed)
	invoice := fmt.Sprintf("INV-%d", s.seed)
	s.k = activities.Contract{
		Customer: "Cliente " + invoice, Cups: cups, Segment: activities.SegmentDomestic,
		Phone: "+34600000000", Email: "cliente@example.com", Province: provinces[r.IntN(len(provinces))],
		PowerKW: []float64{0, 3.3, 4.6, 5.75}[r.IntN(4)],
	}
	if r.IntN(2) == 0 {
		s.k.Segment = activities.SegmentBusiness
	}
	// The B1 01 names the customer by its tax id: without one the ledger
	// refuses every cut (invalid_request).
	if r.IntN(25) != 0 {
		s.k.TaxID = taxIDFor(s.seed, s.k.Segment == activities.SegmentBusiness)
	}
	s.k.BonoSocial = s.k.Segment == activities.SegmentDomestic && r.IntN(6) == 0
	s.k.Essential = r.IntN(20) == 0
	s.k.Protected = r.IntN(20) == 0
	if err := s.l.upsertContract(context.Background(), s.k); err != nil {
		s.t.Fatal(err)
	}
	s.in = workflows.Input{
		Invoice: invoice, Customer: s.k.Customer, Cups: cups, AmountCents: int64(1000 + r.IntN(200_000)),
		ReturnedAt: s.start.AddDate(0, 0, -2), Policy: workflows.DefaultPolicy(),
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// taxIDFor is a valid tax id of its own for each seed: a NIF, or for a
// company a CIF.
func taxIDFor(seed uint64, company bool) string {
	n := seed % 10_000_000
	if !company {
		const letters = "TRWAGMYFPDXBNJZSQVHLCKE"
		return fmt.Sprintf("%08d%c", n, letters[n%23])
	}
	digits := fmt.Sprintf("%07d", n)
	sum := 0
	for i, c := range digits {
		d := int(c - '0')
		if i%2 == 0 {
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	return fmt.Sprintf("B%s%d", digits, (10-sum%10)%10)
}

// cupsFor is a valid CUPS of its own for each seed.
func cupsFor(seed uint64) string {
	digits := fmt.Sprintf("0031%012d", seed%1_000_000_000_000)
	n, _ := strconv.ParseUint(digits, 10, 64)
	const letters = "TRWAGMYFPDXBNJZSQVHLCKE"
	r := n % 529
	return "ES" + digits + string(letters[r/23]) + string(letters[r%23])
}

// at runs f at a moment of the scenario, if the case is still running then.
func (s *scenario) at(when time.Time, f func()) {
	d := when.Sub(s.env.Now())
	if d <= 0 {
		d = time.Minute
	}
	s.env.RegisterDelayedCallback(f, d)
}

func (s *scenario) someTime(fromDays, toDays int) time.Time {
	return s.start.Add(time.Duration(fromDays)*24*time.Hour + time.Duration(s.rng.Int64N(int64(toDays-fromDays)*24*int64(time.Hour))))
}

func (s *scenario) state() workflows.State {
	v, err := s.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		s.t.Fatalf("seed %d: state: %v", s.seed, err)
	}
	var st workflows.State
	if err := v.Get(&st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// plan puts the people's actions and the faults on the scenario's timeline.
func (s *scenario) plan() {
	r := s.rng
	ctx := context.Background()

	// The cuts desk looks twice a day and approves what is under review, most
	// of the time; the case is watched till the end of the scenario.
	// The distributor reads what reached it at each look too; past the end
	// of the scenario it answers everything at once, and the case is judged
	// once it had the time to take the answers.
	var watch func()
	watch = func() {
		s.d.poll()
		st := s.state()
		if s.env.Now().After(s.end) && !s.d.draining {
			s.d.drain()
		}
		if s.env.Now().After(s.end.Add(drainFor)) {
			s.final = st
			s.env.CancelWorkflow()
			return
		}
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" && r.IntN(10) < 7 {
			s.act(workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa"})
		}
		// The customer, told the cut is coming or done, pays in full: while
		// the distributor has the request (before or after it cuts), or once
		// the supply is cut.
		first := !s.stages[st.Stage]
		s.stages[st.Stage] = true
		// A payments import records what is left to pay in the ledger while
		// the cut is under review, and the case hears of it only days later:
		// meanwhile the ledger's check is the one that stops the cut.
		if first && st.Stage == workflows.StageCutReview && r.IntN(4) == 0 {
			delay := 24*time.Hour + time.Duration(r.Int64N(int64(5*24*time.Hour)))
			s.at(s.env.Now().Add(time.Duration(r.Int64N(int64(36*time.Hour)))), func() {
				s.importPayment(fmt.Sprintf("IMP-%d", s.seed), delay)
			})
		}
		if first && !s.paidInFull && !s.d.draining && st.AmountDueCents > 0 &&
			((st.Stage == workflows.StageCutRequested && r.IntN(3) == 0) || (st.Stage == workflows.StageCut && r.IntN(3) == 0)) {
			s.paidInFull = true
			ref := fmt.Sprintf("TRF-%d-full", s.seed)
			s.at(s.env.Now().Add(time.Duration(r.Int64N(int64(4*24*time.Hour)))), func() {
				st := s.state()
				if !st.Stage.Closed() && st.AmountDueCents > 0 {
					s.pay(workflows.PaidSignal{AmountCents: st.AmountDueCents, Reference: ref, PaidAt: madridDay(s.env.Now())})
				}
			})
		}
		if st.Stage.Closed() {
			s.final = st
			return
		}
		s.env.RegisterDelayedCallback(watch, 12*time.Hour)
	}
	s.env.RegisterDelayedCallback(watch, 17*time.Minute)

	// Payments: partial, full, repeated; by signal or by update; a transfer
	// that also paid another invoice under the same reference.
	shared := fmt.Sprintf("TRF-SHARED-%d", s.seed%7)
	if r.IntN(3) == 0 {
		other := fmt.Sprintf("OTHER-%d", s.seed)
		if _, err := s.l.Store.RecordPayment(ctx, activities.PaymentInput{
			Case: activities.CaseRef{Invoice: other, Cups: s.in.Cups}, Key: workflows.PaymentKeyOf(other, shared, s.start, 5000),
			AmountCents: 5000, PaidAt: s.start, Reference: shared,
		}); err != nil {
			s.t.Fatal(err)
		}
	}
	for i := range r.IntN(4) {
		when := s.someTime(1, 450)
		full := r.IntN(3) == 0
		ref := fmt.Sprintf("TRF-%d-%d", s.seed, i)
		if r.IntN(3) == 0 {
			ref = shared
		}
		repeat := r.IntN(4) == 0
		s.at(when, func() {
			st := s.state()
			if st.Stage.Closed() || st.AmountDueCents <= 0 {
				return
			}
			cents := st.AmountDueCents
			if !full && cents > 1 {
				cents = 1 + r.Int64N(cents-1)
			}
			p := workflows.PaidSignal{AmountCents: cents, Reference: ref, PaidAt: calendar.Date(s.env.Now().In(calendar.Madrid).Date())}
			s.pay(p)
			if repeat {
				s.at(s.env.Now().Add(time.Duration(1+r.IntN(72))*time.Hour), func() { s.pay(p) })
			}
		})
	}

	// Holds and releases, by signal or update.
	for range r.IntN(3) {
		from := s.someTime(1, 400)
		s.at(from, func() { s.act(workflows.SignalHold, workflows.HoldSignal{Reason: "revisión", By: "luis"}) })
		s.at(from.Add(time.Duration(1+r.IntN(20*24))*time.Hour), func() {
			s.act(workflows.SignalRelease, workflows.ReleaseSignal{By: "luis"})
		})
	}

	// Contract changes: a supply flagged essential, protected or Bono Social, or cleared.
	for range r.IntN(3) {
		s.at(s.someTime(1, 420), func() {
			k := s.k
			switch r.IntN(4) {
			case 0:
				k.Essential = !k.Essential
			case 1:
				k.Protected = !k.Protected
			case 2:
				k.BonoSocial = k.Segment == activities.SegmentDomestic && !k.BonoSocial
			default:
				k.Essential, k.Protected = false, false
			}
			s.k = k
			if err := s.l.upsertContract(ctx, k); err != nil {
				s.t.Fatal(err)
			}
			if r.IntN(2) == 0 {
				s.act(workflows.SignalContactUpdated, workflows.ContactUpdatedSignal{By: "ana"})
			}
		})
	}

	// A clerk records the proof of the formal notice once it exists, most of the time.
	if r.IntN(8) != 0 {
		var prove func()
		prove = func() {
			st := s.state()
			if st.Stage.Closed() {
				return
			}
			var sentOn time.Time
			for _, n := range st.Notices {
				if n.Kind == activities.KindRequerimiento || n.Kind == activities.KindCutLetter {
					sentOn = n.At
					break
				}
			}
			if sentOn.IsZero() {
				s.at(s.env.Now().Add(7*24*time.Hour), prove)
				return
			}
			first := calendar.Date(sentOn.In(calendar.Madrid).Date())
			today := calendar.Date(s.env.Now().In(calendar.Madrid).Date())
			days := int(today.Sub(first).Hours() / 24)
			received := first.AddDate(0, 0, r.IntN(days+1))
			sum := sha256.Sum256([]byte(fmt.Sprintf("acuse %d", s.seed)))
			err := s.l.recordProof(ctx, store.Proof{Invoice: s.in.Invoice, Kind: activities.ProofAcknowledge,
				ReceivedOn: received, FileName: "acuse.pdf", FileSHA256: hex.EncodeToString(sum[:]), RecordedBy: "ana"})
			if err != nil && !errors.Is(err, store.ErrProofRefused) {
				s.t.Fatal(err)
			}
			s.act(workflows.SignalProofRecorded, workflows.ProofRecordedSignal{By: "ana"})
		}
		s.at(s.someTime(1, 120), prove)
	}

	// The database away for a while: minutes, an hour, or hours.
	if r.IntN(3) == 0 {
		from := s.someTime(0, 300)
		s.l.awayFrom, s.l.awayUntil = from, from.Add([]time.Duration{10 * time.Minute, time.Hour, 3 * time.Hour}[r.IntN(3)])
	}
	// The first cut request reaches the ledger late: past midnight, or days later.
	if r.IntN(4) == 0 {
		s.l.cutDelay = []time.Duration{15 * time.Hour, 2 * 24 * time.Hour, 4 * 24 * time.Hour}[r.IntN(3)]
	}
}

// importPayment records in the ledger, as the payments import does, what
// the ledger says is left to pay, and tells the case after delay.
func (s *scenario) importPayment(ref string, delay time.Duration) {
	if s.state().Stage.Closed() {
		return
	}
	s.l.mu.Lock()
	cents := s.in.AmountCents
	for _, e := range s.l.log {
		if e.kind == "payment" {
			cents -= e.cents
		}
	}
	s.l.mu.Unlock()
	if cents <= 0 {
		return
	}
	day := madridDay(s.env.Now())
	key := workflows.PaymentKeyOf(s.in.Invoice, ref, day, cents)
	_, err := s.l.RecordPayment(context.Background(), activities.PaymentInput{
		Case: activities.CaseRef{Invoice: s.in.Invoice, Cups: s.in.Cups}, Key: key, AmountCents: cents, PaidAt: day, Reference: ref})
	switch {
	case errors.Is(err, errAway):
		s.at(s.env.Now().Add(time.Hour), func() { s.importPayment(ref, delay) })
		return
	case err != nil:
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.sent = append(s.sent, sent{key: key, cents: cents})
	s.mu.Unlock()
	s.at(s.env.Now().Add(delay), func() {
		s.pay(workflows.PaidSignal{AmountCents: cents, Reference: ref, PaidAt: day})
	})
}

// pay reports a payment, by signal or by update, and remembers it.
func (s *scenario) pay(p workflows.PaidSignal) {
	st := s.state()
	s.mu.Lock()
	s.sent = append(s.sent, sent{key: workflows.PaymentKeyOf(s.in.Invoice, p.Reference, p.PaidAt, p.AmountCents),
		cents: p.AmountCents, closed: st.Stage.Closed()})
	s.mu.Unlock()
	if !st.Stage.Closed() {
		s.act(workflows.SignalPaid, p)
	}
}

// act sends a clerk's action as a signal or, half the time, an update; the
// update must get an answer or a refusal.
func (s *scenario) act(name string, arg any) {
	if s.rng.IntN(2) == 0 {
		s.env.SignalWorkflow(name, arg)
		return
	}
	id := fmt.Sprintf("%s-%d-%d", name, s.seed, s.env.Now().UnixNano())
	s.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnComplete: func(v any, err error) {
			var ans workflows.Answer
			if p, ok := v.(*commonpb.Payloads); ok && err == nil {
				if derr := converter.GetDefaultDataConverter().FromPayloads(p, &ans); derr != nil {
					s.t.Errorf("seed %d: answer of %s: %v", s.seed, name, derr)
				}
			}
		},
	}, arg)
}

// explain logs what happened in a failed scenario: the ledger's writes in
// order, what the distributor chose, and the case's history.
func (s *scenario) explain() {
	s.l.mu.Lock()
	for _, e := range s.l.log {
		switch e.kind {
		case "cut", "cut_refused":
			s.t.Logf("ledger: %s %s %s code %s cut #%d", e.kind, e.refusal, e.day.Format(time.RFC3339), e.code, e.cutID)
		case "answer":
			s.t.Logf("ledger: answer %s %s %s dated %s, recorded %s", e.step, e.answer, e.class, e.day.Format(time.DateOnly), e.at.Format(time.RFC3339))
		case "settle":
			s.t.Logf("ledger: settle %q code %s", e.release, e.code)
		case "payment":
			s.t.Logf("ledger: payment %d", e.cents)
		default:
			s.t.Logf("ledger: %s", e.kind)
		}
	}
	s.l.mu.Unlock()
	s.t.Logf("distributor: %v", s.d.requestsText())
	for _, ev := range s.final.History {
		s.t.Logf("case: %s %-22s %s (%s)", ev.At.Format(time.RFC3339), ev.Stage, ev.What, ev.By)
	}
}

// check judges the scenario's ledger against the invariants.
func (s *scenario) check() {
	t := s.t
	ctx := context.Background()
	s.l.mu.Lock()
	log := append([]entry(nil), s.l.log...)
	s.l.mu.Unlock()

	// I1: replay the ledger's writes in order and judge every cut request
	// (the B1 01); the requests and the distributor's answers, for I4 to I8.
	var paid int64
	held := false
	k := activities.Contract{}
	var proven *time.Time
	requests := map[string]*requestSeen{}
	var order []*requestSeen // requests in the order of their 01
	flagged := ""            // the never_cut rejection that flagged the supply point
	for _, e := range log {
		switch e.kind {
		case "payment":
			paid += e.cents
		case "hold":
			held = true
		case "release":
			held = false
		case "contract":
			k = e.k
		case "proof":
			if proven == nil || e.day.Before(*proven) {
				d := e.day
				proven = &d
			}
		case "settle", "answer":
			s.replay(e, requests, &flagged)
		case "cut":
			why := func(format string, args ...any) {
				t.Errorf("seed %d: I1: cut requested on %s although %s", s.seed,
					e.day.In(calendar.Madrid).Format("Mon 02/01/2006 15:04"), fmt.Sprintf(format, args...))
			}
			if paid >= s.in.AmountCents {
				why("the ledger had %d of %d cents paid", paid, s.in.AmountCents)
			}
			if held {
				why("the case was on hold")
			}
			s.newRequest(e, requests, &order, paid, flagged)
			if e.joined {
				continue
			}
			if k.Essential || k.Protected {
				why("the supply was essential or protected")
			}
			cal, _ := calendar.ForProvince(k.Province, calendar.Extra{})
			if !cal.IsAllowedCutDay(e.day) {
				why("it is not an allowed cut day in %q", k.Province)
			}
			if proven == nil {
				why("the formal notice was not proven")
				continue
			}
			if k.Segment == activities.SegmentDomestic {
				months := s.in.Policy.RegulatoryWaitMonths
				if k.BonoSocial {
					months = s.in.Policy.BonoSocialWaitMonths + s.in.Policy.MinimumSupplyMonths
				}
				if end := proven.AddDate(0, months, 0); calendar.Date(e.day.In(calendar.Madrid).Date()).Before(end) {
					why("the wait from the proof of %s ends on %s", proven.Format("02/01/2006"), end.Format("02/01/2006"))
				}
			}
		}
	}

	// I2: every payment reported while the case was open is in the ledger once.
	want := map[string]int64{}
	for _, p := range s.sent {
		if !p.closed {
			want[p.key] = p.cents
		}
	}
	rows, err := s.l.Pool().Query(ctx, `SELECT key, amount_cents FROM payments WHERE invoice = $1`, s.in.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for rows.Next() {
		var key string
		var cents int64
		if err := rows.Scan(&key, &cents); err != nil {
			t.Fatal(err)
		}
		got[key]++
		if w, ok := want[key]; ok && w != cents {
			t.Errorf("seed %d: I2: payment %s recorded as %d cents, reported %d", s.seed, key, cents, w)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for key := range want {
		if got[key] != 1 {
			t.Errorf("seed %d: I2: payment %s is in the ledger %d times", s.seed, key, got[key])
		}
	}

	// I3: at the end the case is closed, or waits visibly.
	st := s.final
	switch {
	case st.Stage == "":
		t.Errorf("seed %d: I3: the case never showed a state", s.seed)
	case st.Stage.Closed():
	case st.NextAction == "" && st.Attention == "":
		t.Errorf("seed %d: I3: the case waits in %s with no next action and no attention flag", s.seed, st.Stage)
	}

	s.checkOutcome(st, order)
	s.checkMessages(order)
}

// requestSeen is a cut request of the scenario as the ledger's log tells it.
type requestSeen struct {
	code       string
	cutID      int64
	paidBefore bool // the invoice was paid in full when its 01 was written
	executed   bool // a 05, or a rejection because the supply is already cut
	executedOn time.Time
	executedAt time.Time // when the ledger recorded it (the test's clock)
	by05       bool      // executed by a 05 (not an "already cut" rejection)
	rejected   atr.Class // the class of the 02 rejection, if any
	release    string    // the 03 a settlement wrote: cancel or reconnect
	raced      bool      // executed after its 03 'cancel' was written
	answered04 atr.Kind  // the 04: cancel_accepted or rejected
}

// inForce reports whether the request still stands: not rejected (unless
// because the supply is cut already) and not released by a 03.
func (r *requestSeen) inForce() bool {
	return (r.rejected == "" || r.rejected == atr.ClassAlreadyCut) && r.release == ""
}

// newRequest takes a 01 into the replay: I8, one 01 per cut, a new one only
// after the last was rejected, none after a rejection flagged the supply
// point as never to be cut.
func (s *scenario) newRequest(e entry, requests map[string]*requestSeen, order *[]*requestSeen, paid int64, flagged string) {
	t := s.t
	if e.code == "" {
		t.Errorf("seed %d: I8: a cut request (cut #%d) without its B1 01", s.seed, e.cutID)
		return
	}
	if r, ok := requests[e.code]; ok {
		if r.cutID != e.cutID {
			t.Errorf("seed %d: I8: request %s names cut #%d and cut #%d", s.seed, e.code, r.cutID, e.cutID)
		}
		return // the same request read again
	}
	if flagged != "" {
		t.Errorf("seed %d: I8: a new 01 (%s) after the distributor rejected the cut as never to be done: %s", s.seed, e.code, flagged)
	}
	for _, r := range *order {
		if r.cutID == e.cutID {
			t.Errorf("seed %d: I8: cut #%d has a second 01 (%s after %s)", s.seed, e.cutID, e.code, r.code)
		}
		if r.inForce() {
			t.Errorf("seed %d: I8: a new 01 (%s) while request %s stands", s.seed, e.code, r.code)
		}
	}
	r := &requestSeen{code: e.code, cutID: e.cutID, paidBefore: paid >= s.in.AmountCents}
	requests[e.code] = r
	*order = append(*order, r)
}

// replay takes a settlement or an answer of the distributor into the replay.
// It holds the ledger's choice of 03 (I4, I7: a reconnection only of a cut
// executed, a cancellation only of one that was not) and I6 (no 05 for a
// request of an invoice paid in full before its 01).
func (s *scenario) replay(e entry, requests map[string]*requestSeen, flagged *string) {
	t := s.t
	if e.kind == "settle" {
		var standing []string
		for _, r := range requests {
			if r.inForce() && r.code != e.code {
				standing = append(standing, r.code)
			}
		}
		if len(standing) > 0 {
			t.Errorf("seed %d: I7: paid in full while requests %v stood, and no 03 was written for them", s.seed, standing)
		}
		if e.code == "" {
			return
		}
		r := requests[e.code]
		switch {
		case r == nil:
			t.Errorf("seed %d: I7: a 03 for request %s, which no 01 of the case wrote", s.seed, e.code)
		case r.release != "":
			if r.release != e.release {
				t.Errorf("seed %d: I7: request %s released as %s, then as %s", s.seed, e.code, r.release, e.release)
			}
		case r.executed && e.release != activities.RequestReconnect:
			t.Errorf("seed %d: I4: request %s was executed on %s, but the 03 asks for a %s", s.seed, e.code, r.executedOn.Format(time.DateOnly), e.release)
		case !r.executed && e.release != activities.RequestCancel:
			t.Errorf("seed %d: I7: request %s was not executed, but the 03 asks for a %s", s.seed, e.code, e.release)
		default:
			r.release = e.release
		}
		return
	}
	r := requests[e.code]
	if r == nil {
		t.Errorf("seed %d: I9: the ledger took a %s %s for request %s, which no 01 of the case wrote", s.seed, e.step, e.answer, e.code)
		return
	}
	switch {
	case e.step == "04":
		r.answered04 = e.answer
	case e.answer == atr.Activated:
		if r.executed {
			return
		}
		r.executed, r.executedOn, r.executedAt, r.by05 = true, e.day, e.at, true
		if r.paidBefore {
			t.Errorf("seed %d: I6: the distributor cut (request %s) for an invoice paid in full before the 01 was written", s.seed, e.code)
		}
		r.raced = r.release == activities.RequestCancel
	case e.answer == atr.Rejected:
		r.rejected = e.class
		switch e.class {
		case atr.ClassNeverCut:
			*flagged = fmt.Sprintf("request %s rejected on %s", e.code, e.day.Format(time.DateOnly))
		case atr.ClassAlreadyCut:
			if r.release == "" && !r.executed {
				r.executed, r.executedOn, r.executedAt = true, e.day, e.at
			}
		}
	}
}

// checkOutcome judges where the case ended against what the distributor did:
//
//	I4 an executed cut paid in full ends reconnected, by a 03 'reconnect', or
//	   a 03 'cancel' the 05 overtook;
//	I5 the case is cut only once a 05 (or an "already cut" rejection) of its
//	   request was recorded, with its day as the cut date; a 05 on a day no
//	   cut is allowed is recorded as the distributor's breach;
//	I6 a 05 after a payment made after the 01 ends reconnected, never paid;
//	I7 a paid case whose request was not executed ends paid, by a 03
//	   'cancel' accepted, never a 'reconnect';
//	I11 once the distributor answered everything, no case waits on it and a
//	   case whose invoice the ledger holds paid is closed.
func (s *scenario) checkOutcome(st workflows.State, order []*requestSeen) {
	t := s.t
	var executed *requestSeen // the last request executed
	for _, r := range order {
		if r.executed {
			executed = r
		}
	}

	// I5: the cut is the distributor's, on its day.
	cutShown := st.CutAt != nil
	for _, ev := range st.History {
		if ev.Stage != workflows.StageCut {
			continue
		}
		cutShown = true
		if executed == nil || ev.At.Before(executed.executedAt) {
			t.Errorf("seed %d: I5: the case shows the supply cut on %s (%q) before the distributor said it cut it",
				s.seed, ev.At.Format(time.RFC3339), ev.What)
		}
		break
	}
	switch st.Stage {
	case workflows.StageCut, workflows.StageReconnectRequested, workflows.StageReconnected:
		if st.CutAt == nil {
			t.Errorf("seed %d: I5: the case ends %s with no cut recorded", s.seed, st.Stage)
		}
	}
	if cutShown && executed == nil {
		t.Errorf("seed %d: I5: the case shows a cut (stage %s, cut at %v) that the distributor never executed", s.seed, st.Stage, st.CutAt)
	}
	if st.CutAt != nil && executed != nil {
		if st.CutDate == nil || !madridDay(*st.CutDate).Equal(executed.executedOn) {
			t.Errorf("seed %d: I5: cut date %v, the distributor cut (request %s) on %s", s.seed, st.CutDate, executed.code,
				executed.executedOn.Format(time.DateOnly))
		}
	}
	var breaches []string
	cal, _ := calendar.ForProvince(s.k.Province, calendar.Extra{})
	for _, r := range order {
		if !r.by05 || cal.IsAllowedCutDay(r.executedOn) {
			continue
		}
		breaches = append(breaches, r.code)
		var breach string
		if err := s.l.Pool().QueryRow(context.Background(), `SELECT breach FROM distributor_requests WHERE code = $1 AND kind = 'cut'`,
			r.code).Scan(&breach); err != nil {
			t.Fatal(err)
		}
		if breach == "" {
			t.Errorf("seed %d: I5: the distributor cut on %s, no cut day in %q, and no breach is recorded (request %s, stage %s)",
				s.seed, r.executedOn.Format("Mon 02/01/2006"), s.k.Province, r.code, st.Stage)
		}
	}
	if st.Breach != "" && len(breaches) == 0 {
		t.Errorf("seed %d: I5: the case records a breach (%s) the distributor did not commit", s.seed, st.Breach)
	}

	// I4, I6, I7: how a paid case ends.
	for _, r := range order {
		switch {
		case r.release == activities.RequestReconnect || r.raced:
			if st.Stage == workflows.StagePaid {
				t.Errorf("seed %d: I6: request %s was executed on %s and released by a %s, but the case ends paid",
					s.seed, r.code, r.executedOn.Format(time.DateOnly), r.release)
			}
		case r.release == activities.RequestCancel:
			if st.Stage == workflows.StageReconnected {
				t.Errorf("seed %d: I7: request %s was cancelled before any cut, but the case ends reconnected", s.seed, r.code)
			}
		}
	}
	if st.Stage == workflows.StageReconnected && (executed == nil || (executed.release == "" && !executed.raced)) {
		t.Errorf("seed %d: I4: the case ends reconnected with no executed cut released", s.seed)
	}

	// I11: the distributor answered everything: nothing waits on it.
	var status string
	if err := s.l.Pool().QueryRow(context.Background(), `SELECT status FROM invoices WHERE invoice = $1`, s.in.Invoice).Scan(&status); err != nil {
		t.Fatal(err)
	}
	rejected04 := false
	for _, r := range order {
		rejected04 = rejected04 || r.answered04 == atr.Rejected
	}
	switch {
	case rejected04:
		if !st.Stage.Closed() && st.Attention == "" {
			t.Errorf("seed %d: I11: the distributor cannot restore the supply, and the case (%s) does not say so", s.seed, st.Stage)
		}
	case st.Stage == workflows.StageCutRequested || st.Stage == workflows.StageCutCancelRequested || st.Stage == workflows.StageReconnectRequested:
		t.Errorf("seed %d: I11: the case still waits in %s after the distributor answered everything (requests %v)", s.seed, st.Stage, s.d.requestsText())
	case status == "paid" && !st.Stage.Closed():
		t.Errorf("seed %d: I11: the ledger holds the invoice paid and the case waits in %s", s.seed, st.Stage)
	}
}

// checkMessages holds I8 and I9 on the ledger's tables: one 01 per cut, every
// message parses, every one the ledger committed to send left it.
func (s *scenario) checkMessages(order []*requestSeen) {
	t := s.t
	ctx := context.Background()
	rows, err := s.l.Pool().Query(ctx, `
		SELECT m.direction, m.step, m.file_name, m.body, m.sent_at IS NOT NULL, r.cut_id
		FROM atr_messages m JOIN distributor_requests r ON r.id = m.request_id
		WHERE m.cups = $1 ORDER BY m.id`, s.in.Cups)
	if err != nil {
		t.Fatal(err)
	}
	type message struct {
		direction, step, file string
		body                  []byte
		sent                  bool
		cutID                 int64
	}
	var msgs []message
	var m message
	if _, err := pgx.ForEachRow(rows, []any{&m.direction, &m.step, &m.file, &m.body, &m.sent, &m.cutID}, func() error {
		msgs = append(msgs, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	firsts := map[int64]int{}
	for _, m := range msgs {
		if _, err := atr.Parse(m.body); err != nil {
			t.Errorf("seed %d: I9: the ledger holds %s (%s) and it does not parse: %v", s.seed, m.file, m.direction, err)
		}
		if m.direction != "out" {
			continue
		}
		if m.step == "01" {
			firsts[m.cutID]++
		}
		if !m.sent {
			t.Errorf("seed %d: I9: %s is left unsent", s.seed, m.file)
		}
		s.d.mu.Lock()
		got, ok := s.d.received[m.file]
		s.d.mu.Unlock()
		if m.sent && (!ok || !bytes.Equal(got, m.body)) {
			t.Errorf("seed %d: I9: %s is marked sent but the distributor got %d bytes of it (%v)", s.seed, m.file, len(got), ok)
		}
	}
	var cuts []int64
	if err := pgxCollect(ctx, s.l, &cuts, `SELECT id FROM cuts WHERE cups = $1`, s.in.Cups); err != nil {
		t.Fatal(err)
	}
	for _, id := range cuts {
		if firsts[id] != 1 {
			t.Errorf("seed %d: I8: cut #%d has %d B1 01 messages", s.seed, id, firsts[id])
		}
	}
	if len(cuts) != len(order) {
		t.Errorf("seed %d: I8: %d cuts in the ledger, %d requests in the log of its writes", s.seed, len(cuts), len(order))
	}
}

// pgxCollect reads one column of rows into out.
func pgxCollect[T any](ctx context.Context, l *ledger, out *[]T, sql string, args ...any) error {
	rows, err := l.Pool().Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	*out, err = pgx.CollectRows(rows, pgx.RowTo[T])
	return err
}
