package invariants_test

import (
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

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
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
// moment it is requested"):
//
//	I1 no cut request while the amount due is zero, on hold, for an essential
//	   or protected supply, on a day that is not an allowed cut day of the
//	   supply's calendar, or without a proven formal notice whose wait is over;
//	I2 every accepted payment is in the ledger exactly once;
//	I3 every case is closed or waits in a named stage with a next action, or
//	   is flagged NeedsAttention: none retries without end unseen;
//	I4 a cut supply whose invoices are all paid gets exactly one reconnection.
//
// A failure names its seed; IMPAGOS_INVARIANT_SEED=<seed> with
// IMPAGOS_INVARIANT_SCENARIOS=1 plays it again.
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
	kind    string // payment, hold, release, cut, cut_refused, proof, contract, reconnect
	cents   int64
	day     time.Time // the ledger's day of a cut request; a proof's day of receipt
	joined  bool
	refusal string
	k       activities.Contract
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
		l.add(entry{kind: "cut", day: day, joined: res.Joined})
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
	if err == nil && res.Reconnection {
		l.add(entry{kind: "reconnect"})
	}
	return res, err
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
}

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
	env.RegisterActivity(&activities.Activities{Store: l, Retailer: notice.DefaultRetailer})
	s.plan()
	env.ExecuteWorkflow(workflows.ReturnedInvoice, s.in)
	if !env.IsWorkflowCompleted() {
		t.Fatalf("seed %d: the case did not end", seed)
	}
	if s.final.Stage == "" { // it closed between two looks
		s.final = s.state()
	}
	s.check()
	out := map[string]int{}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.log {
		if e.kind == "cut_refused" {
			out["refused:"+e.refusal]++
		} else {
			out[e.kind]++
		}
	}
	out["final:"+string(s.final.Stage)]++
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
	var watch func()
	watch = func() {
		st := s.state()
		s.stages[st.Stage] = true
		if s.env.Now().After(s.end) {
			s.final = st
			s.env.CancelWorkflow()
			return
		}
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" && r.IntN(10) < 7 {
			s.act(workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa"})
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

// check judges the scenario's ledger against the invariants.
func (s *scenario) check() {
	t := s.t
	ctx := context.Background()
	s.l.mu.Lock()
	log := append([]entry(nil), s.l.log...)
	s.l.mu.Unlock()

	// I1: replay the ledger's writes in order and judge every cut.
	var paid int64
	held := false
	k := activities.Contract{}
	var proven *time.Time
	cuts, reconnects := 0, 0
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
		case "reconnect":
			reconnects++
		case "cut":
			cuts++
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

	// I4: a cut supply whose invoice is paid in full is reconnected once.
	if cuts > 0 && paid >= s.in.AmountCents && st.Stage.Closed() && reconnects != 1 {
		t.Errorf("seed %d: I4: cut and paid, %d reconnection requests", s.seed, reconnects)
	}
	if cuts > 1 {
		t.Errorf("seed %d: one invoice asked the distributor for %d cuts", s.seed, cuts)
	}
}
