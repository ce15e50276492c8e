package invariants_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// TestInvariantsOnTheStack holds the rules of TestInvariants where the SDK's
// test environment cannot reach: several cases at once on the real stack (the
// Temporal server the environment names, a worker of the test's own and a
// ledger of its own), sharing a supply point or a bank transfer, with the
// people's actions arriving in real time, at any moment, by signal or by
// update. Each scenario is two or three invoices on one CUPS, or two invoices
// on two CUPS paid by one transfer reference. The distributor is one more
// actor (stackdistributor_test.go): the cases write their B1 messages to an
// outbox folder, it answers into an inbox folder, and the worker's loop
// (distributor.Run) reads the inbox, records each answer, tells the cases
// (now and then only at its next round) and sends what the ledger holds
// unsent. A scenario plays until every case is closed or stackBudget passes;
// then the distributor answers everything outstanding, and once no case
// waits on it the ledger's tables are judged:
//
//	I1 no cut request for an invoice that owes nothing or is on hold; a new
//	   cut only of a supply neither essential nor protected, with a proof of
//	   the formal notice, on an allowed cut day, after the domestic wait;
//	I2 every payment a case accepted is in the ledger exactly once, both
//	   invoices of a transfer too;
//	I3 every case is closed (and its run ended), or waits in a named stage
//	   with a next action, or carries NeedsAttention;
//	I4 a supply point is cut once at a time, released once per cut (a 03
//	   'reconnect' of a cut the distributor executed, 'cancel' of one it did
//	   not), and only when every invoice of it is paid;
//	I5 a case shows a cut only of a request the distributor executed, with
//	   its day as the cut date, and a 05 on a forbidden day is a breach on
//	   record;
//	I6 no 05 for an invoice paid in full before its 01; a settlement that
//	   released an executed cut does not end paid;
//	I7 one that cancelled a cut never executed does not end reconnected;
//	I8 one 01 per cut, none after a never_cut rejection;
//	I9 every B1 message parses and has left the ledger, every answer the
//	   distributor wrote is one the inbox takes;
//	I11 once the distributor answered everything, no case waits on it.
//
// The order of what the ledger committed comes from a wrapper of the store
// that logs the writes the rules judge, one at a time, not from timestamps.
// A failure names its seed; IMPAGOS_STACK_SEED=<seed> with
// IMPAGOS_STACK_SCENARIOS=1 plays the same plan again (the real-time
// interleaving differs from run to run).
func TestInvariantsOnTheStack(t *testing.T) {
	env := newStackEnv(t)
	n, seed := scenarios(t, "IMPAGOS_STACK_SCENARIOS", 50), firstSeed(t, "IMPAGOS_STACK_SEED")
	t.Logf("%d scenarios on the stack from seed %d (IMPAGOS_STACK_SEED=%d to replay), %d at a time",
		n, seed, seed, stackParallel)

	played := make([]*stackScenario, n)
	sem := make(chan struct{}, stackParallel)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s := newStackScenario(env, seed+uint64(i))
			s.play()
			played[i] = s
		}()
	}
	wg.Wait()

	stats := map[string]int{}
	for _, s := range played {
		for k, v := range s.stats {
			stats[k] += v
		}
		ok := t.Run(fmt.Sprintf("seed=%d", s.seed), func(t *testing.T) {
			t.Logf("%s", s.shape)
			for _, f := range s.failures {
				t.Error(f)
			}
			if len(s.failures) > 0 {
				t.Logf("actions: %s", strings.Join(s.trace, ", "))
				for _, line := range s.story() {
					t.Log(line)
				}
			}
		})
		if !ok {
			t.Logf("scenario seed %d failed: IMPAGOS_STACK_SEED=%d IMPAGOS_STACK_SCENARIOS=1 go test -run TestInvariantsOnTheStack ./internal/invariants/",
				s.seed, s.seed)
		}
	}
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, stats[k])
	}
	t.Logf("outcomes:%s", b.String())
}

const (
	// stackBudget is how long a scenario plays at most: a case day lasts a
	// tenth of a second, so a domestic case reaches its cut in about ten.
	stackBudget = 25 * time.Second
	// stackParallel scenarios play at a time.
	stackParallel = 8
	// stackTick is how often a scenario looks at its cases.
	stackTick = 150 * time.Millisecond
	// stackGrace bounds each wait at the end of a scenario (a payment the
	// case accepted reaching the ledger, a case showing where it stands);
	// only a case that is stuck uses it up.
	stackGrace = 30 * time.Second
)

// stackPolicy is the default process with a day lasting a tenth of a second,
// so the ledger judges the day of a cut by the case's clock (CutRules.CaseClock).
func stackPolicy() workflows.Policy {
	p := workflows.DefaultPolicy()
	p.Name = "test"
	p.Scale = 864000
	return p
}

// stackEnv is what every scenario shares: the Temporal client, the task queue
// of the test's worker, and the ledger.
type stackEnv struct {
	ctx   context.Context
	c     client.Client
	queue string
	run   string // names this run's invoices: workflow ids outlive the test
	led   *stackLedger
	dist  *stackDistributor
}

func newStackEnv(t *testing.T) *stackEnv {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: run through make test (needs IMPAGOS_INTEGRATION=1, Temporal and Postgres)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	db, drop, err := store.OpenIsolated(ctx, engine.FromEnv().DatabaseURL, "stackinv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	// A case's clock runs ahead of the real one, and the ledger refuses a
	// proof received after its today: the ledger's today is put past any day
	// a case of this test reaches. It judges nothing else by it (the day of a
	// cut request is the case's clock).
	db.Clock = func() time.Time { return time.Now().AddDate(2, 0, 0) }

	// The worker's and the SDK's own lines would bury a failure's message:
	// only errors are shown.
	def := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	c, err := engine.Dial(ctx)
	slog.SetDefault(def)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	env := &stackEnv{ctx: ctx, c: c, queue: "impagos-stackinv-" + stackToken(6), run: stackToken(3),
		led: &stackLedger{Store: db, once: map[string]bool{}}, dist: newStackDistributor(t.TempDir())}
	// The distributor's folders as the worker has them: the cases write to
	// the outbox, and the loop reads the inbox, tells the cases, delivers
	// again what it could not, and sends what the ledger holds unsent.
	folder := distributor.Folder{Dir: env.dist.outbox}
	inbox := &distributor.Inbox{Dir: env.dist.inbox, Store: env.led,
		Signaler: &flakySignaler{Signaler: c, rng: mrand.New(mrand.NewPCG(1, 2)), tried: map[string]bool{}}}
	for _, dir := range []string{env.dist.outbox, env.dist.inbox} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(wctx, c, env.queue, &activities.Activities{Store: env.led, Retailer: notice.DefaultRetailer,
			Distributor: folder, REECode: distributor.LocalREECode})
	}()
	var loops sync.WaitGroup
	loops.Add(2)
	go func() {
		defer loops.Done()
		distributor.Run(wctx, inbox, 30*time.Millisecond, func(ctx context.Context) error {
			_, err := activities.SendPending(ctx, env.led, folder, 0)
			return err
		})
	}()
	go func() {
		defer loops.Done()
		env.dist.run(wctx)
	}()
	t.Cleanup(func() {
		stop()
		loops.Wait()
		if err := <-done; err != nil {
			t.Error(err)
		}
		for _, f := range env.dist.failures {
			t.Error(f)
		}
		// Every answer the distributor wrote was one the ledger takes.
		rejected, _ := filepath.Glob(filepath.Join(env.dist.inbox, distributor.RejectedDir, "*.reason"))
		for _, r := range rejected {
			why, _ := os.ReadFile(r)
			t.Errorf("I9: the inbox refused %s: %s", strings.TrimSuffix(filepath.Base(r), ".reason"), strings.TrimSpace(string(why)))
		}
	})
	return env
}

func stackToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stackEntry is one write the ledger committed, in commit order.
type stackEntry struct {
	kind    string // open, payment, hold, release, cut, joined, cut_refused, proof, contract, settle, cut_release, answer
	invoice string
	cups    string
	cents   int64
	at      time.Time // a cut request's moment (the case's clock); a proof's day of receipt; an answer's date
	cutID   int64
	reason  string
	k       activities.Contract

	code    string    // the B1 request code of a cut, a settlement's 03 or an answer
	release string    // a settlement's 03: cancel or reconnect
	step    string    // an answer's step
	answer  atr.Kind  // an answer's kind
	class   atr.Class // a rejection's class
}

// stackLedger is the real store with a log of the writes the invariants
// judge. Those writes run one at a time, so the log's order is the ledger's.
type stackLedger struct {
	*store.Store

	mu   sync.Mutex
	log  []stackEntry
	once map[string]bool // entries a retried activity must not log twice
}

// add logs e once per non-empty key; the caller holds mu.
func (l *stackLedger) add(key string, e stackEntry) {
	if key != "" {
		if l.once[key] {
			return
		}
		l.once[key] = true
	}
	l.log = append(l.log, e)
}

func (l *stackLedger) OpenCase(ctx context.Context, in activities.OpenCaseInput) (activities.OpenCaseResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.OpenCase(ctx, in)
	if err == nil {
		l.add("open/"+in.Case.Invoice, stackEntry{kind: "open", invoice: in.Case.Invoice, cups: in.Case.Cups})
	}
	return res, err
}

func (l *stackLedger) RecordPayment(ctx context.Context, in activities.PaymentInput) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	added, err := l.Store.RecordPayment(ctx, in)
	if err == nil && added {
		l.add("", stackEntry{kind: "payment", invoice: in.Case.Invoice, cups: in.Case.Cups, cents: in.AmountCents})
	}
	return added, err
}

func (l *stackLedger) RecordHold(ctx context.Context, in activities.HoldInput) (activities.HoldResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.RecordHold(ctx, in)
	switch {
	case err != nil:
	case !in.On:
		l.add("", stackEntry{kind: "release", invoice: in.Case.Invoice, cups: in.Case.Cups})
	case res.Applied:
		l.add("", stackEntry{kind: "hold", invoice: in.Case.Invoice, cups: in.Case.Cups})
	}
	return res, err
}

func (l *stackLedger) RequestCut(ctx context.Context, in activities.CutInput) (activities.CutResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.RequestCut(ctx, in)
	e := stackEntry{invoice: in.Case.Invoice, cups: in.Case.Cups, at: in.At, cutID: res.CutID}
	if res.Request != nil {
		e.code = res.Request.Code
	}
	if r, ok := activities.AsCutRefusal(err); ok {
		e.kind, e.reason = "cut_refused", r.Reason
		l.add("", e)
	} else if err == nil {
		e.kind = "cut"
		if res.Joined {
			e.kind = "joined"
		}
		// A retry of a written request reads as that request.
		l.add(fmt.Sprintf("cut/%d/%s", res.CutID, in.Case.Invoice), e)
	}
	return res, err
}

func (l *stackLedger) Settle(ctx context.Context, in activities.SettleInput) (activities.SettleResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, err := l.Store.Settle(ctx, in)
	if err == nil {
		l.add("settle/"+in.Case.Invoice, stackEntry{kind: "settle", invoice: in.Case.Invoice, cups: in.Case.Cups})
		if res.Release != "" {
			e := stackEntry{kind: "cut_release", release: res.Release, invoice: in.Case.Invoice, cups: in.Case.Cups}
			if res.Request != nil {
				e.code = res.Request.Code
			}
			l.add("release/"+in.Case.Invoice, e)
		}
	}
	return res, err
}

// RecordATRAnswer records an answer of the distributor as the inbox reads
// it, in the log when it is new.
func (l *stackLedger) RecordATRAnswer(ctx context.Context, file string, body []byte) (store.ATRDelivery, error) {
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
	e := stackEntry{kind: "answer", cups: m.CUPS, code: m.Code, step: m.Step, answer: m.Kind, at: madridDay(m.Date)}
	for _, r := range m.Rejections { // as the ledger ranks them
		switch c := atr.Classify(r.Code); {
		case e.class == "", c == atr.ClassNeverCut, c == atr.ClassAlreadyCut && e.class != atr.ClassNeverCut:
			e.class = c
		}
	}
	l.add("", e)
	return d, nil
}

// upsertContract changes a contract as TRADE's export would, in the log.
func (l *stackLedger) upsertContract(ctx context.Context, k activities.Contract) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.Store.UpsertContract(ctx, k); err != nil {
		return fmt.Errorf("contract of %s: %w", k.Cups, err)
	}
	l.add("", stackEntry{kind: "contract", cups: k.Cups, k: k})
	return nil
}

// recordProof records a clerk's proof of the formal notice, in the log when
// the ledger took it.
func (l *stackLedger) recordProof(ctx context.Context, p store.Proof) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	got, err := l.Store.RecordProof(ctx, p)
	if err == nil && got.New {
		l.add("", stackEntry{kind: "proof", invoice: p.Invoice, at: calendar.Date(got.ReceivedOn.In(calendar.Madrid).Date())})
	}
	return err
}

// stackInvoice is one case of a scenario, as the scenario's driver sees it.
type stackInvoice struct {
	number, cups string
	amount       int64
	startAt      time.Duration // after the scenario's start
	started      bool
	last         workflows.State // the state last read
	read         bool            // a state was read

	proofDelay  time.Duration // after the formal notice shows; negative: no proof ever
	noticeSeen  time.Time
	proved      bool
	payAfterCut bool // the customer pays the rest once the supply is cut
	// payOnRequest: or already once the cut is asked of the distributor,
	// before or after it cuts.
	payOnRequest bool
	paidRest     bool
	deskAfter    time.Time // the cuts desk looks again then
}

func (inv *stackInvoice) closed() bool { return inv.read && inv.last.Stage.Closed() }

// stackAction is something a person does at a moment of the scenario.
type stackAction struct {
	at   time.Duration
	what string
	do   func()
}

// stackPayment is a payment reported to a case.
type stackPayment struct {
	key, invoice, ref string
	cents             int64
}

// stackScenario is one seed's cases and what happens to them. Only its
// driver (play) touches the random source and the invoices; the actions it
// starts in goroutines report under mu.
type stackScenario struct {
	env       *stackEnv
	seed      uint64
	rng       *mrand.Rand
	shape     string
	invoices  []*stackInvoice
	contracts map[string]activities.Contract
	plan      []stackAction // sorted by at
	trace     []string      // the actions taken, when
	start     time.Time
	acts      sync.WaitGroup
	// drng is the distributor's random source for this scenario: only its
	// goroutine draws from it.
	drng *mrand.Rand

	mu        sync.Mutex
	sent      []stackPayment    // payments a case accepted
	tried     map[string]string // every payment key reported, to its invoice
	transfers map[string][]string
	failures  []string
	stats     map[string]int
}

func (s *stackScenario) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf("seed %d: ", s.seed)+fmt.Sprintf(format, args...))
}

func (s *stackScenario) count(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[what]++
}

var stackProvinces = []string{"Madrid", "Barcelona", "A Coruña", "Sevilla", "Bizkaia", "Valencia", ""}

// newStackScenario draws the scenario of a seed: its supply points, its
// invoices and the plan of what people do.
func newStackScenario(env *stackEnv, seed uint64) *stackScenario {
	r := mrand.New(mrand.NewPCG(seed, seed^0x57ac))
	s := &stackScenario{env: env, seed: seed, rng: r, contracts: map[string]activities.Contract{},
		tried: map[string]string{}, transfers: map[string][]string{}, stats: map[string]int{},
		drng: mrand.New(mrand.NewPCG(seed, seed^0xd157))}
	customer := fmt.Sprintf("Cliente %s-%d", env.run, seed)
	transfer := r.IntN(5) < 2
	supplies := []string{cups.Make(31, int64(seed%1_000_000_000)*10)}
	n := 2 + r.IntN(2)
	if transfer {
		supplies = append(supplies, cups.Make(31, int64(seed%1_000_000_000)*10+1))
		n = 2
	}
	for _, cu := range supplies {
		k := activities.Contract{
			Customer: customer, Cups: cu, Segment: activities.SegmentDomestic,
			Phone: "+34600000000", Email: "cliente@example.com", Province: stackProvinces[r.IntN(len(stackProvinces))],
			PowerKW: []float64{0, 3.3, 4.6, 5.75}[r.IntN(4)],
		}
		if r.IntN(2) == 0 {
			k.Segment = activities.SegmentBusiness
		}
		if r.IntN(25) != 0 { // without a tax id the B1 01 cannot be written
			k.TaxID = taxIDFor(seed*10+uint64(len(s.contracts)), k.Segment == activities.SegmentBusiness)
		}
		k.BonoSocial = k.Segment == activities.SegmentDomestic && r.IntN(6) == 0
		k.Essential = r.IntN(15) == 0
		k.Protected = r.IntN(15) == 0
		if r.IntN(10) == 0 {
			k.Phone, k.Email = "", "" // needs_contact until a clerk adds it
		}
		s.contracts[cu] = k
	}
	for i := range n {
		inv := &stackInvoice{
			number: fmt.Sprintf("SI%s-%d-%d", env.run, seed, i), cups: supplies[i%len(supplies)],
			amount: 1000 + r.Int64N(200_000), proofDelay: -1, payAfterCut: r.IntN(5) < 3,
		}
		inv.payOnRequest = inv.payAfterCut && r.IntN(3) == 0
		if i > 0 {
			inv.startAt = time.Duration(r.Int64N(int64(3 * time.Second)))
		}
		if r.IntN(8) != 0 {
			inv.proofDelay = time.Duration(r.Int64N(int64(2 * time.Second)))
		}
		s.invoices = append(s.invoices, inv)
	}
	var desc []string
	for _, cu := range supplies {
		k := s.contracts[cu]
		flags := k.Segment
		for _, f := range []struct {
			on   bool
			name string
		}{{k.BonoSocial, "bono_social"}, {k.Essential, "essential"}, {k.Protected, "protected"}, {k.Phone == "", "no contact"}} {
			if f.on {
				flags += "+" + f.name
			}
		}
		desc = append(desc, fmt.Sprintf("%s (%s, %q)", cu, flags, k.Province))
	}
	s.shape = fmt.Sprintf("%d invoices on %s", n, strings.Join(desc, " and "))
	s.planActions()
	return s
}

// note puts an action on the scenario's trace, shown when it fails.
func (s *stackScenario) note(what string) {
	s.trace = append(s.trace, fmt.Sprintf("%.1fs %s", time.Since(s.start).Seconds(), what))
}

// within is a random moment of the scenario between from and to.
func (s *stackScenario) within(from, to time.Duration) time.Duration {
	return from + time.Duration(s.rng.Int64N(int64(to-from)))
}

func (s *stackScenario) at(when time.Duration, what string, do func()) {
	i := sort.Search(len(s.plan), func(i int) bool { return s.plan[i].at > when })
	s.plan = slices.Insert(s.plan, i, stackAction{at: when, what: what, do: do})
}

// planActions puts the people's actions on the scenario's timeline:
// payments, transfers over two invoices, holds, contract changes.
func (s *stackScenario) planActions() {
	r := s.rng
	late := stackBudget * 7 / 10
	for i, inv := range s.invoices {
		for j := range r.IntN(3) {
			full := r.IntN(3) == 0
			ref := fmt.Sprintf("TRF-%d-%d-%d", s.seed, i, j)
			var repeat time.Duration
			if r.IntN(4) == 0 {
				repeat = s.within(50*time.Millisecond, 2*time.Second)
			}
			s.at(s.within(300*time.Millisecond, late), fmt.Sprintf("payment of #%d", i), func() { s.pay(inv, ref, full, repeat) })
		}
		switch {
		case !inv.payAfterCut && r.IntN(2) == 0:
			s.at(s.within(time.Second, stackBudget*8/10), fmt.Sprintf("payment in full of #%d", i), func() {
				s.pay(inv, fmt.Sprintf("TRF-%d-%d-rest", s.seed, i), true, 0)
			})
		case inv.payAfterCut && r.IntN(2) == 0:
			// Never cut (a supply that may not be, a proof never recorded):
			// the customer pays all the same, late.
			s.at(stackBudget*8/10, fmt.Sprintf("late payment in full of #%d", i), func() {
				if !inv.paidRest {
					inv.paidRest = true
					s.pay(inv, fmt.Sprintf("TRF-%d-%d-late", s.seed, i), true, 0)
				}
			})
		}
	}

	// One transfer reference over two invoices.
	transfers := 0
	switch {
	case len(s.contracts) == 2:
		transfers = 1 + r.IntN(2)
	case r.IntN(3) == 0:
		transfers = 1
	}
	for j := range transfers {
		a := r.IntN(len(s.invoices))
		b := (a + 1 + r.IntN(len(s.invoices)-1)) % len(s.invoices)
		ref := fmt.Sprintf("TRF-%d-shared-%d", s.seed, j)
		fullA, fullB := r.IntN(2) == 0, r.IntN(2) == 0
		s.at(s.within(500*time.Millisecond, late), fmt.Sprintf("transfer over #%d and #%d", a, b), func() {
			s.transfer(ref, []*stackInvoice{s.invoices[a], s.invoices[b]}, []bool{fullA, fullB})
		})
	}

	// Holds and releases.
	for range r.IntN(3) {
		i := r.IntN(len(s.invoices))
		inv := s.invoices[i]
		from := s.within(200*time.Millisecond, late)
		s.at(from, fmt.Sprintf("hold of #%d", i), func() { s.hold(inv, "revisión", "luis") })
		if r.IntN(6) != 0 {
			s.at(from+s.within(100*time.Millisecond, 4*time.Second), fmt.Sprintf("release of #%d", i), func() { s.release(inv, "luis") })
		}
	}

	// A customer without contact data gets it from a clerk.
	for _, cu := range s.supplies() {
		if s.contracts[cu].Phone == "" {
			s.at(s.within(500*time.Millisecond, 4*time.Second), "contact data of "+cu, func() {
				k := s.contracts[cu]
				k.Phone, k.Email = "+34600000001", "nuevo@example.com"
				s.changeContract(k, true)
			})
		}
	}

	// Contract changes: a supply flagged essential, protected or Bono Social, or cleared.
	for range r.IntN(3) {
		cu := s.invoices[r.IntN(len(s.invoices))].cups
		s.at(s.within(200*time.Millisecond, late), "contract change of "+cu, func() {
			k := s.contracts[cu]
			switch s.rng.IntN(4) {
			case 0:
				k.Essential = !k.Essential
			case 1:
				k.Protected = !k.Protected
			case 2:
				k.BonoSocial = k.Segment == activities.SegmentDomestic && !k.BonoSocial
			default:
				k.Essential, k.Protected = false, false
			}
			s.changeContract(k, s.rng.IntN(2) == 0)
		})
	}
}

// play runs the scenario, then settles it and checks the invariants.
func (s *stackScenario) play() {
	for _, k := range s.contracts {
		if err := s.env.led.upsertContract(s.env.ctx, k); err != nil {
			s.fail("%v", err)
			return
		}
	}
	s.env.dist.register(s)
	s.start = time.Now()
	deadline := s.start.Add(stackBudget)
	for {
		elapsed := time.Since(s.start)
		for _, inv := range s.invoices {
			if !inv.started && inv.startAt <= elapsed {
				s.startCase(inv)
			}
		}
		for len(s.plan) > 0 && s.plan[0].at <= elapsed {
			a := s.plan[0]
			s.plan = s.plan[1:]
			s.note(a.what)
			a.do()
		}
		s.look()
		done := true
		for _, inv := range s.invoices {
			done = done && inv.started && inv.closed()
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(stackTick)
	}
	s.acts.Wait()
	s.env.dist.drain(s)
	s.awaitDistributor()
	s.awaitPayments()
	s.awaitRest()
	s.terminate()
	s.check()
}

func (s *stackScenario) startCase(inv *stackInvoice) {
	inv.started = true
	in := workflows.Input{Invoice: inv.number, Customer: s.contracts[inv.cups].Customer, Cups: inv.cups,
		AmountCents: inv.amount, ReturnedAt: time.Now().Add(-48 * time.Hour), Policy: stackPolicy()}
	out, err := cases.Start(s.env.ctx, s.env.c, s.env.queue, in, false)
	if err != nil || out != cases.Started {
		s.fail("start %s: %v %v", inv.number, out, err)
	}
}

// look reads the state of every open case and lets the watchers act: the
// clerk who records the proof of the formal notice, the cuts desk, and the
// customer who pays once the supply is cut.
func (s *stackScenario) look() {
	now := time.Now()
	for _, inv := range s.invoices {
		if !inv.started || inv.closed() {
			continue
		}
		st, err := cases.State(s.env.ctx, s.env.c, inv.number)
		if err != nil {
			continue // the case's first task has not run yet, or a busy moment: look again
		}
		inv.last, inv.read = st, true
		if st.Stage.Closed() {
			continue
		}
		if inv.proofDelay >= 0 && !inv.proved {
			if day, ok := formalNoticeDay(st); ok {
				if inv.noticeSeen.IsZero() {
					inv.noticeSeen = now
				}
				if now.Sub(inv.noticeSeen) >= inv.proofDelay {
					inv.proved = true
					s.note("proof of " + inv.number)
					s.prove(inv, day)
				}
			}
		}
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" && now.After(inv.deskAfter) {
			switch n := s.rng.IntN(20); {
			case n < 12: // the desk approves, most of the time
				inv.deskAfter = now.Add(500 * time.Millisecond)
				s.note("approval of " + inv.number)
				s.approve(inv)
			case n == 12: // or holds the cut for a while
				inv.deskAfter = now.Add(time.Second)
				s.note("desk hold of " + inv.number)
				s.hold(inv, "la mesa revisa el cliente", "mesa")
				s.at(time.Since(s.start)+s.within(200*time.Millisecond, 2*time.Second), "desk release of "+inv.number, func() { s.release(inv, "mesa") })
			default:
				inv.deskAfter = now.Add(300 * time.Millisecond)
			}
		}
		if inv.payAfterCut && !inv.paidRest && st.Stage == workflows.StageCut {
			inv.paidRest = true
			s.at(time.Since(s.start)+s.within(time.Millisecond, 1500*time.Millisecond), "payment after the cut of "+inv.number, func() {
				s.pay(inv, fmt.Sprintf("TRF-%d-%s-after-cut", s.seed, inv.number), true, 0)
			})
		}
		if inv.payOnRequest && !inv.paidRest && st.Stage == workflows.StageCutRequested {
			// Paid at once: the 03 races the distributor's 02 and 05.
			inv.paidRest = true
			s.note("payment while the cut is requested of " + inv.number)
			s.pay(inv, fmt.Sprintf("TRF-%d-%s-on-request", s.seed, inv.number), true, 0)
		}
	}
}

// formalNoticeDay is the day (Madrid) of the case's formal notice: the
// domestic requerimiento or the business cut letter.
func formalNoticeDay(st workflows.State) (time.Time, bool) {
	for _, n := range st.Notices {
		if n.Kind == activities.KindRequerimiento || n.Kind == activities.KindCutLetter {
			return calendar.Date(n.At.In(calendar.Madrid).Date()), true
		}
	}
	return time.Time{}, false
}

// caseDay is the case's today as it last showed it.
func caseDay(inv *stackInvoice) time.Time {
	at := time.Now()
	if h := inv.last.History; len(h) > 0 {
		at = h[len(h)-1].At
	}
	return calendar.Date(at.In(calendar.Madrid).Date())
}

// act runs a person's action while the scenario goes on.
func (s *stackScenario) act(f func(ctx context.Context)) {
	s.acts.Add(1)
	go func() {
		defer s.acts.Done()
		ctx, cancel := context.WithTimeout(s.env.ctx, time.Minute)
		defer cancel()
		f(ctx)
	}()
}

// send gives a case a person's action, as a signal or as an update, and
// reports whether the case took it. A refusal or a closed case is an answer,
// not a failure.
func (s *stackScenario) send(ctx context.Context, inv *stackInvoice, name string, arg any, byUpdate bool) bool {
	var err error
	if byUpdate {
		_, err = cases.Update(ctx, s.env.c, inv.number, name, arg)
	} else {
		err = cases.Signal(ctx, s.env.c, inv.number, name, arg)
	}
	var refused *cases.Refused
	switch {
	case err == nil:
		return true
	case errors.As(err, &refused):
		s.count("refused:" + name)
	case errors.Is(err, cases.ErrClosed):
		s.count("closed:" + name)
	default:
		// The case closed between the look and the action, or the server was
		// busy: the action did not happen, which the invariants allow.
		s.count("not_sent:" + name)
	}
	return false
}

// pay reports a payment of the amount due (full) or of part of it, and
// perhaps the same payment again later.
func (s *stackScenario) pay(inv *stackInvoice, ref string, full bool, repeat time.Duration) {
	if !inv.started {
		return
	}
	due := inv.last.AmountDueCents
	if !inv.read {
		due = inv.amount
	}
	cents := due
	switch {
	case due <= 0:
		if s.rng.IntN(4) != 0 {
			return
		}
		cents = 100 // to a closed case, or one closing
	case !full && due > 1:
		cents = 1 + s.rng.Int64N(due-1)
	}
	p := workflows.PaidSignal{AmountCents: cents, PaidAt: caseDay(inv), Reference: ref}
	byUpdate := s.rng.IntN(2) == 0
	s.act(func(ctx context.Context) { s.report(ctx, inv, p, byUpdate) })
	if repeat > 0 {
		s.at(time.Since(s.start)+repeat, "payment again of "+inv.number, func() {
			byUpdate := s.rng.IntN(2) == 0
			s.act(func(ctx context.Context) { s.report(ctx, inv, p, byUpdate) })
		})
	}
}

// transfer reports one transfer that paid two invoices under one reference.
func (s *stackScenario) transfer(ref string, invs []*stackInvoice, full []bool) {
	day := caseDay(invs[0])
	for i, inv := range invs {
		if !inv.started || !inv.read || inv.last.AmountDueCents <= 0 {
			continue
		}
		cents := inv.last.AmountDueCents
		if !full[i] && cents > 1 {
			cents = 1 + s.rng.Int64N(cents-1)
		}
		p := workflows.PaidSignal{AmountCents: cents, PaidAt: day, Reference: ref}
		byUpdate := s.rng.IntN(2) == 0
		s.act(func(ctx context.Context) {
			if s.report(ctx, inv, p, byUpdate) {
				s.mu.Lock()
				s.transfers[ref] = append(s.transfers[ref], inv.number)
				s.mu.Unlock()
			}
		})
	}
}

// report sends a payment and remembers it: accepted, it must reach the ledger.
func (s *stackScenario) report(ctx context.Context, inv *stackInvoice, p workflows.PaidSignal, byUpdate bool) bool {
	key := workflows.PaymentKeyOf(inv.number, p.Reference, p.PaidAt, p.AmountCents)
	s.mu.Lock()
	s.tried[key] = inv.number
	s.mu.Unlock()
	if !s.send(ctx, inv, workflows.SignalPaid, p, byUpdate) {
		return false
	}
	s.mu.Lock()
	s.sent = append(s.sent, stackPayment{key: key, invoice: inv.number, ref: p.Reference, cents: p.AmountCents})
	s.stats["payment_reported"]++
	s.mu.Unlock()
	return true
}

func (s *stackScenario) hold(inv *stackInvoice, reason, by string) {
	if !inv.started {
		return
	}
	byUpdate := s.rng.IntN(2) == 0
	s.act(func(ctx context.Context) {
		s.send(ctx, inv, workflows.SignalHold, workflows.HoldSignal{Reason: reason, By: by}, byUpdate)
	})
}

func (s *stackScenario) release(inv *stackInvoice, by string) {
	if !inv.started {
		return
	}
	byUpdate := s.rng.IntN(2) == 0
	s.act(func(ctx context.Context) {
		s.send(ctx, inv, workflows.SignalRelease, workflows.ReleaseSignal{By: by}, byUpdate)
	})
}

func (s *stackScenario) approve(inv *stackInvoice) {
	byUpdate := s.rng.IntN(2) == 0
	s.act(func(ctx context.Context) {
		if s.send(ctx, inv, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"}, byUpdate) {
			s.count("approved")
		}
	})
}

// changeContract writes the supply's contract anew, and perhaps tells its
// cases that it changed.
func (s *stackScenario) changeContract(k activities.Contract, tell bool) {
	s.contracts[k.Cups] = k
	var told []*stackInvoice
	for _, inv := range s.invoices {
		if tell && inv.cups == k.Cups && inv.started {
			told = append(told, inv)
		}
	}
	ways := make([]bool, len(told))
	for i := range ways {
		ways[i] = s.rng.IntN(2) == 0
	}
	s.act(func(ctx context.Context) {
		if err := s.env.led.upsertContract(ctx, k); err != nil {
			s.fail("%v", err)
			return
		}
		for i, inv := range told {
			s.send(ctx, inv, workflows.SignalContactUpdated, workflows.ContactUpdatedSignal{By: "ana"}, ways[i])
		}
	})
}

// prove records a proof of the formal notice, received on its day or a few
// days later (never after the case's today), and tells the case.
func (s *stackScenario) prove(inv *stackInvoice, noticeDay time.Time) {
	today := caseDay(inv)
	days := int(today.Sub(noticeDay).Hours() / 24)
	received := noticeDay.AddDate(0, 0, min(max(days, 0), s.rng.IntN(5)))
	sum := sha256.Sum256([]byte("acuse " + inv.number))
	s.act(func(ctx context.Context) {
		err := s.env.led.recordProof(ctx, store.Proof{Invoice: inv.number, Kind: activities.ProofAcknowledge,
			ReceivedOn: received, FileName: "acuse.pdf", FileSHA256: hex.EncodeToString(sum[:]), RecordedBy: "ana"})
		switch {
		case errors.Is(err, store.ErrProofRefused):
			s.count("proof_refused") // the invoice was paid meanwhile
			return
		case err != nil:
			s.fail("proof of %s received %s: %v", inv.number, received.Format(time.DateOnly), err)
			return
		}
		s.count("proof")
		s.send(ctx, inv, workflows.SignalProofRecorded, workflows.ProofRecordedSignal{By: "ana"}, false)
	})
}

// awaitDistributor waits, once the distributor answers everything, until no
// case waits on it (I11): none left in cut_requested, cut_cancel_requested
// or reconnect_requested, but one whose 03 the distributor refused, which
// shows NeedsAttention.
func (s *stackScenario) awaitDistributor() {
	deadline := time.Now().Add(stackGrace)
	for {
		var waiting []string
		for _, inv := range s.invoices {
			if !inv.started {
				continue
			}
			st, err := cases.State(s.env.ctx, s.env.c, inv.number)
			if err != nil {
				continue // closed and gone, or a busy moment
			}
			inv.last, inv.read = st, true
			refused := st.Release != nil && st.Release.Status == activities.RequestRejected && st.Attention != ""
			switch st.Stage {
			case workflows.StageCutRequested, workflows.StageCutCancelRequested, workflows.StageReconnectRequested:
				if !refused {
					waiting = append(waiting, inv.number+" "+describe(st))
				}
			}
		}
		if len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.fail("I11: after the distributor answered everything, cases still wait on it after %s: %v; distributor: %v",
				stackGrace, waiting, s.env.dist.requestsOf(s))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awaitPayments waits until every payment a case accepted is in the ledger,
// or fails (I2) naming the payment and the case's state.
func (s *stackScenario) awaitPayments() {
	numbers := s.numbers()
	deadline := time.Now().Add(stackGrace)
	for {
		keys, err := s.ledgerPayments(numbers)
		if err != nil {
			s.fail("payments: %v", err)
			return
		}
		var missing []stackPayment
		for _, p := range s.sent {
			if _, ok := keys[p.key]; !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range missing {
				st, err := cases.State(s.env.ctx, s.env.c, p.invoice)
				where := describe(st)
				if err != nil {
					where = err.Error()
				}
				s.fail("I2: payment %s (%d cents) accepted by the case of %s is not in the ledger after %s; case: %s",
					p.key, p.cents, p.invoice, stackGrace, where)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awaitRest waits until every case shows where it stands (I3): closed, or
// waiting in a named stage for a next action, or flagged for a person.
func (s *stackScenario) awaitRest() {
	for _, inv := range s.invoices {
		if !inv.started {
			continue
		}
		deadline := time.Now().Add(stackGrace)
		for {
			st, err := cases.State(s.env.ctx, s.env.c, inv.number)
			if err == nil {
				inv.last, inv.read = st, true
				if !st.Stage.Closed() && ((st.Stage != "" && st.NextAction != "") || st.Attention != "") {
					break
				}
				// A closed stage is a promise that the run ends: one that
				// goes on takes signals that nothing records.
				if _, err = cases.Running(s.env.ctx, s.env.c, inv.number); st.Stage.Closed() && errors.Is(err, cases.ErrClosed) {
					break
				}
			}
			if time.Now().After(deadline) {
				what := "shows no next action and no attention flag"
				switch {
				case err != nil:
					what = fmt.Sprintf("does not answer (%v)", err)
				case inv.last.Stage.Closed():
					what = "shows a closed stage but its run has not ended"
				}
				s.fail("I3: the case of %s %s after %s; last state read: %s", inv.number, what, stackGrace, describe(inv.last))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		s.count("final:" + string(inv.last.Stage))
		if inv.last.Attention != "" {
			s.count("attention")
		}
	}
}

// describe is a case's state in one line, for a failure's message.
func describe(st workflows.State) string {
	var last []string
	for _, e := range st.History[max(0, len(st.History)-6):] {
		last = append(last, e.What)
	}
	return fmt.Sprintf("stage %q, next %q, attention %q, due %d, recent history %q",
		st.Stage, st.NextAction, st.Attention, st.AmountDueCents, last)
}

// terminate ends the cases still open, so the server is left clean.
func (s *stackScenario) terminate() {
	for _, inv := range s.invoices {
		if _, err := cases.Running(s.env.ctx, s.env.c, inv.number); err != nil {
			continue
		}
		err := s.env.c.TerminateWorkflow(s.env.ctx, workflows.WorkflowID(inv.number), "", "stack invariants: scenario over")
		var done *serviceerror.NotFound // it ended between the look and the termination
		if err != nil && !errors.As(err, &done) {
			s.fail("terminate the case of %s: %v", inv.number, err)
		}
		s.count("terminated")
	}
}

func (s *stackScenario) numbers() []string {
	out := make([]string, len(s.invoices))
	for i, inv := range s.invoices {
		out[i] = inv.number
	}
	return out
}

func (s *stackScenario) supplies() []string {
	var out []string
	for _, inv := range s.invoices {
		if !slices.Contains(out, inv.cups) {
			out = append(out, inv.cups)
		}
	}
	return out
}

// ledgerPayments reads the payments of the invoices: key to row.
func (s *stackScenario) ledgerPayments(numbers []string) (map[string]stackPayment, error) {
	rows, err := s.env.led.Pool().Query(s.env.ctx,
		`SELECT key, invoice, reference, amount_cents FROM payments WHERE invoice = ANY($1)`, numbers)
	if err != nil {
		return nil, err
	}
	out := map[string]stackPayment{}
	var p stackPayment
	_, err = pgx.ForEachRow(rows, []any{&p.key, &p.invoice, &p.ref, &p.cents}, func() error {
		out[p.key] = p
		return nil
	})
	return out, err
}

// stackTables is what the ledger's tables hold of a scenario.
type stackTables struct {
	cuts     []stackCut
	members  map[int64][]string       // cut_invoices: cut to invoices
	requests map[int64]map[string]int // distributor_requests: cut to kind to count
	status   map[string]string        // invoices: invoice to status
	proofs   map[string]int           // notice_proofs: invoice to rows
	payments map[string]stackPayment  // payments: key to row
	audit    map[string]int           // audit: action to entries
	messages []stackMessage           // atr_messages of the supply points
	breaches map[string]string        // distributor_requests: cut request code to its breach
}

type stackCut struct {
	id          int64
	cups        string
	requestedBy string
	reconnected bool
	outcome     string // '', cancel, reconnect, rejected
}

// stackMessage is a B1 message the ledger holds.
type stackMessage struct {
	direction, step, file string
	body                  []byte
	sent                  bool
	cutID                 int64
}

// readTables reads the scenario's rows of the ledger.
func (s *stackScenario) readTables(ctx context.Context) (stackTables, error) {
	db := s.env.led.Pool()
	numbers, supplies := s.numbers(), s.supplies()
	tb := stackTables{members: map[int64][]string{}, requests: map[int64]map[string]int{}, status: map[string]string{},
		proofs: map[string]int{}, audit: map[string]int{}, breaches: map[string]string{}}
	var m stackMessage
	var code, breach string
	var c stackCut
	rows, err := db.Query(ctx, `SELECT id, cups, requested_by_invoice, reconnection_requested_at IS NOT NULL, outcome
		FROM cuts WHERE cups = ANY($1) ORDER BY id`, supplies)
	if err != nil {
		return tb, fmt.Errorf("cuts: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&c.id, &c.cups, &c.requestedBy, &c.reconnected, &c.outcome}, func() error {
		tb.cuts = append(tb.cuts, c)
		return nil
	}); err != nil {
		return tb, fmt.Errorf("cuts: %w", err)
	}
	var id int64
	var invoice, kind, status string
	var n int
	for _, q := range []struct {
		what, sql string
		arg       []string
		dst       []any
		f         func() error
	}{
		{"cut_invoices", `SELECT ci.cut_id, ci.invoice FROM cut_invoices ci JOIN cuts ON cuts.id = ci.cut_id WHERE cuts.cups = ANY($1)`,
			supplies, []any{&id, &invoice}, func() error { tb.members[id] = append(tb.members[id], invoice); return nil }},
		{"distributor_requests", `SELECT cut_id, kind FROM distributor_requests WHERE cups = ANY($1)`,
			supplies, []any{&id, &kind}, func() error {
				if tb.requests[id] == nil {
					tb.requests[id] = map[string]int{}
				}
				tb.requests[id][kind]++
				return nil
			}},
		{"invoices", `SELECT invoice, status FROM invoices WHERE invoice = ANY($1)`,
			numbers, []any{&invoice, &status}, func() error { tb.status[invoice] = status; return nil }},
		{"notice_proofs", `SELECT invoice, count(*)::int FROM notice_proofs WHERE invoice = ANY($1) GROUP BY invoice`,
			numbers, []any{&invoice, &n}, func() error { tb.proofs[invoice] = n; return nil }},
		{"audit", `SELECT action, count(*)::int FROM audit WHERE invoice = ANY($1) GROUP BY action`,
			numbers, []any{&kind, &n}, func() error { tb.audit[kind] = n; return nil }},
		{"atr_messages", `SELECT m.direction, m.step, m.file_name, m.body, m.sent_at IS NOT NULL, r.cut_id
			FROM atr_messages m JOIN distributor_requests r ON r.id = m.request_id WHERE m.cups = ANY($1) ORDER BY m.id`,
			supplies, []any{&m.direction, &m.step, &m.file, &m.body, &m.sent, &m.cutID}, func() error {
				tb.messages = append(tb.messages, m)
				return nil
			}},
		{"breaches", `SELECT code, breach FROM distributor_requests WHERE cups = ANY($1) AND kind = 'cut' AND code IS NOT NULL`,
			supplies, []any{&code, &breach}, func() error { tb.breaches[code] = breach; return nil }},
	} {
		rows, err := db.Query(ctx, q.sql, q.arg)
		if err != nil {
			return tb, fmt.Errorf("%s: %w", q.what, err)
		}
		if _, err := pgx.ForEachRow(rows, q.dst, q.f); err != nil {
			return tb, fmt.Errorf("%s: %w", q.what, err)
		}
	}
	tb.payments, err = s.ledgerPayments(numbers)
	return tb, err
}

// check judges the scenario's part of the ledger: the tables say what was
// written, the log in what order.
func (s *stackScenario) check() {
	l := s.env.led
	mine := map[string]*stackInvoice{}
	for _, inv := range s.invoices {
		mine[inv.number] = inv
	}
	supplies := s.supplies()
	s.awaitSent(supplies)
	l.mu.Lock()
	var log []stackEntry
	for _, e := range l.log {
		if mine[e.invoice] != nil || ((e.kind == "contract" || e.kind == "answer") && slices.Contains(supplies, e.cups)) {
			log = append(log, e)
		}
	}
	tb, err := s.readTables(s.env.ctx)
	l.mu.Unlock()
	if err != nil {
		s.fail("read the ledger: %v", err)
		return
	}

	// I1, and I4 in the order of the ledger's commits.
	paid := map[string]int64{}
	held := map[string]bool{}
	opened := map[string]bool{}
	settled := map[string]bool{}
	proven := map[string]time.Time{}
	contract := map[string]activities.Contract{}
	cutNow := map[string]bool{}
	logged := map[string]bool{} // cut id/invoice of every cut and join logged
	requests := map[string]*requestSeen{}
	released := map[string]*requestSeen{} // invoice to the request its settlement released
	flagged := map[string]string{}        // supply point to the never_cut rejection that flagged it
	p := stackPolicy()
	for _, e := range log {
		switch e.kind {
		case "answer":
			if e.class != "" {
				s.stats["answer:"+e.step+":"+string(e.answer)+":"+string(e.class)]++
			} else {
				s.stats["answer:"+e.step+":"+string(e.answer)]++
			}
			r := requests[e.code]
			if r == nil {
				s.fail("I9: the ledger took a %s %s for request %s, which no 01 of the scenario wrote", e.step, e.answer, e.code)
				continue
			}
			switch {
			case e.step == "04":
				r.answered04 = e.answer
			case e.answer == atr.Activated:
				if r.executed {
					continue
				}
				r.executed, r.executedOn, r.by05 = true, e.at, true
				if r.paidBefore {
					s.fail("I6: the distributor cut %s (request %s) for an invoice paid in full before the 01 was written", e.cups, e.code)
				}
				r.raced = r.release == activities.RequestCancel
			case e.answer == atr.Rejected:
				r.rejected = e.class
				if r.release == "" && e.class != atr.ClassAlreadyCut {
					cutNow[e.cups] = false // the ledger ends the cut
				}
				switch e.class {
				case atr.ClassNeverCut:
					flagged[e.cups] = fmt.Sprintf("request %s rejected", e.code)
				case atr.ClassAlreadyCut:
					if r.release == "" && !r.executed {
						r.executed, r.executedOn = true, e.at
					}
				}
			}
		case "open":
			opened[e.invoice] = true
		case "payment":
			paid[e.invoice] += e.cents
			s.stats["payment"]++
		case "hold":
			held[e.invoice] = true
			s.stats["hold"]++
		case "release":
			held[e.invoice] = false
		case "contract":
			contract[e.cups] = e.k
		case "proof":
			if d, ok := proven[e.invoice]; !ok || e.at.Before(d) {
				proven[e.invoice] = e.at
			}
		case "settle":
			settled[e.invoice] = true
		case "cut_refused":
			s.stats["refused:"+e.reason]++
		case "cut_release":
			// Before the distributor spoke ATR this judged the reconnection
			// only; the 03 now also cancels a cut not yet executed.
			s.stats["release:"+e.release]++
			if !cutNow[e.cups] {
				s.fail("I4: %s of %s requested by %s while no cut was in force", e.release, e.cups, e.invoice)
			}
			cutNow[e.cups] = false
			for _, inv := range s.invoices {
				if inv.cups == e.cups && opened[inv.number] && !settled[inv.number] {
					s.fail("I4: %s released (%s, settling %s) while invoice %s was still open", e.cups, e.release, e.invoice, inv.number)
				}
			}
			r := requests[e.code]
			switch {
			case r == nil:
				s.fail("I7: a 03 (%s) for request %s, which no 01 of the scenario wrote", e.release, e.code)
				continue
			case r.executed && e.release != activities.RequestReconnect:
				s.fail("I4: request %s of %s was executed on %s, but the 03 asks for a %s", e.code, e.cups, r.executedOn.Format(time.DateOnly), e.release)
			case !r.executed && e.release != activities.RequestCancel:
				s.fail("I7: request %s of %s was not executed, but the 03 asks for a %s", e.code, e.cups, e.release)
			}
			r.release = e.release
			released[e.invoice] = r
		case "cut", "joined":
			s.stats[e.kind]++
			logged[fmt.Sprintf("%d/%s", e.cutID, e.invoice)] = true
			inv := mine[e.invoice]
			day := calendar.Date(e.at.In(calendar.Madrid).Date())
			why := func(format string, args ...any) {
				s.fail("I1: %s of %s (cut #%d) for invoice %s on %s although %s", e.kind, e.cups, e.cutID, e.invoice,
					day.Format("Mon 02/01/2006"), fmt.Sprintf(format, args...))
			}
			if due := inv.amount - paid[e.invoice]; due <= 0 {
				why("the ledger had %d of its %d cents paid", paid[e.invoice], inv.amount)
			}
			if held[e.invoice] {
				why("the invoice was on hold in the ledger")
			}
			if e.kind == "joined" {
				if !cutNow[e.cups] {
					why("no cut was in force to join")
				}
				continue
			}
			if cutNow[e.cups] {
				s.fail("I4: a second cut of %s (#%d) while one was in force", e.cups, e.cutID)
			}
			cutNow[e.cups] = true
			if f := flagged[e.cups]; f != "" {
				s.fail("I8: a new 01 of %s (#%d) after the distributor rejected its cut as never to be done: %s", e.cups, e.cutID, f)
			}
			if e.code == "" {
				s.fail("I8: cut #%d of %s without its B1 01", e.cutID, e.cups)
			} else if requests[e.code] == nil {
				requests[e.code] = &requestSeen{code: e.code, cutID: e.cutID, paidBefore: paid[e.invoice] >= inv.amount}
			}
			k := contract[e.cups]
			if k.Essential || k.Protected {
				why("the supply was essential or protected (%+v)", k)
			}
			cal, _ := calendar.ForProvince(k.Province, calendar.Extra{})
			if !cal.IsAllowedCutDay(day) {
				why("it is not an allowed cut day in %q", k.Province)
			}
			proof, ok := proven[e.invoice]
			if !ok || tb.proofs[e.invoice] == 0 {
				why("no proof of the formal notice was recorded before it")
				continue
			}
			if k.Segment == activities.SegmentDomestic {
				months := p.RegulatoryWaitMonths
				if k.BonoSocial {
					months = p.BonoSocialWaitMonths + p.MinimumSupplyMonths
				}
				if end := proof.AddDate(0, months, 0); day.Before(end) {
					why("the wait from the proof of %s ends on %s", proof.Format("02/01/2006"), end.Format("02/01/2006"))
				}
			}
		}
	}

	// The tables against the log: every cut and join is one the log judged;
	// one cut request per cut, at most one reconnection, and (I4) one when
	// every invoice of the supply point is paid.
	reconnects, cancels := 0, 0
	for _, c := range tb.cuts {
		for _, inv := range tb.members[c.id] {
			if !logged[fmt.Sprintf("%d/%s", c.id, inv)] {
				s.fail("cut #%d of %s for invoice %s is in the ledger but not in the log of its writes", c.id, c.cups, inv)
			}
		}
		req := tb.requests[c.id]
		if req["cut"] != 1 {
			s.fail("I8: cut #%d of %s has %d cut requests to the distributor", c.id, c.cups, req["cut"])
		}
		if req["reconnect"]+req["cancel"] > 1 || (req["reconnect"] == 1) != c.reconnected {
			s.fail("I4: cut #%d of %s has %d reconnection and %d cancellation requests (reconnected: %v)",
				c.id, c.cups, req["reconnect"], req["cancel"], c.reconnected)
		}
		reconnects += req["reconnect"]
		cancels += req["cancel"]
		allPaid := true
		for _, inv := range s.invoices {
			allPaid = allPaid && (inv.cups != c.cups || tb.status[inv.number] == "paid")
		}
		// A cut the distributor rejected ended there; any other is released
		// once every invoice is paid (this held the reconnection alone
		// before the 03 could also cancel).
		if allPaid && c.outcome != "rejected" && req["reconnect"]+req["cancel"] != 1 {
			s.fail("I4: every invoice of %s is paid but cut #%d (%q) has %d reconnection and %d cancellation requests",
				c.cups, c.id, c.outcome, req["reconnect"], req["cancel"])
		}
	}
	if tb.audit["cut_requested"] != len(tb.cuts) || tb.audit["reconnect_requested"] != reconnects ||
		tb.audit["cut_cancel_requested"] != cancels {
		s.fail("audit: %d cut_requested, %d reconnect_requested and %d cut_cancel_requested entries for %d cuts, %d reconnections and %d cancellations",
			tb.audit["cut_requested"], tb.audit["reconnect_requested"], tb.audit["cut_cancel_requested"], len(tb.cuts), reconnects, cancels)
	}
	s.checkMessages(tb)
	s.checkOutcomes(requests, released, tb)

	// I2: every payment a case accepted is in the ledger once, as reported;
	// the ledger holds no payment nobody reported.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.sent {
		got, ok := tb.payments[sp.key]
		switch {
		case !ok:
			// awaitPayments said so already
		case got.invoice != sp.invoice || got.cents != sp.cents:
			s.failures = append(s.failures, fmt.Sprintf("seed %d: I2: payment %s recorded as %d cents of %s, reported as %d cents of %s",
				s.seed, sp.key, got.cents, got.invoice, sp.cents, sp.invoice))
		}
	}
	for key, got := range tb.payments {
		if s.tried[key] == "" {
			s.failures = append(s.failures, fmt.Sprintf("seed %d: I2: the ledger holds payment %s (%d cents of %s) that nobody reported",
				s.seed, key, got.cents, got.invoice))
		}
	}
	for ref, invs := range s.transfers {
		for _, inv := range invs {
			found := false
			for _, got := range tb.payments {
				found = found || (got.ref == ref && got.invoice == inv)
			}
			if !found {
				s.failures = append(s.failures, fmt.Sprintf("seed %d: I2: transfer %s paid %v but the ledger has no payment of it for %s",
					s.seed, ref, invs, inv))
			}
		}
		if len(invs) == 2 {
			s.stats["transfer_over_two"]++
		}
	}
}

// awaitSent waits until the worker's loop has sent every message the ledger
// committed for the supply points: a case stopped between committing a
// message and sending it leaves it to the loop's next round.
func (s *stackScenario) awaitSent(supplies []string) {
	deadline := time.Now().Add(stackGrace)
	for time.Now().Before(deadline) {
		var n int
		if err := s.env.led.Pool().QueryRow(s.env.ctx, `SELECT count(*) FROM atr_messages
			WHERE direction = 'out' AND sent_at IS NULL AND cups = ANY($1)`, supplies).Scan(&n); err != nil || n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkMessages holds I8 and I9 on the ledger's B1 messages: one 01 per
// cut, every message parses, and every one the ledger committed to send has
// left it.
func (s *stackScenario) checkMessages(tb stackTables) {
	firsts := map[int64]int{}
	for _, m := range tb.messages {
		if _, err := atr.Parse(m.body); err != nil {
			s.fail("I9: the ledger holds %s (%s) and it does not parse: %v", m.file, m.direction, err)
		}
		if m.direction != "out" {
			continue
		}
		if m.step == "01" {
			firsts[m.cutID]++
		}
		if !m.sent {
			s.fail("I9: %s is left unsent", m.file)
		}
	}
	for _, c := range tb.cuts {
		if firsts[c.id] != 1 {
			s.fail("I8: cut #%d of %s has %d B1 01 messages", c.id, c.cups, firsts[c.id])
		}
	}
}

// checkOutcomes judges where each case ended against the distributor's
// answers in the ledger:
//
//	I5 a case shows a cut only of a request the distributor executed (a 05,
//	   or "already cut"), with its day as the cut date, and the ledger holds
//	   the breach of a 05 on a day no cut is allowed;
//	I6 a case whose settlement released an executed cut (a 03 'reconnect', or
//	   a 'cancel' its 05 overtook) does not end paid;
//	I7 one whose 03 cancelled a cut never executed does not end reconnected.
func (s *stackScenario) checkOutcomes(requests, released map[string]*requestSeen, tb stackTables) {
	for _, inv := range s.invoices {
		if !inv.read {
			continue
		}
		st := inv.last
		var followed *requestSeen
		if st.Request != nil {
			followed = requests[st.Request.Code]
		}
		// A case whose payment released the cut another invoice's case asked
		// for knows that cut only from an answer delivered to it (which
		// carries the cut's state); one that heard of the 04 only by asking
		// the ledger past its bound ends reconnected without a cut date.
		// That is left open: only the cases that followed a cut are held to it.
		switch st.Stage {
		case workflows.StageCut, workflows.StageReconnectRequested, workflows.StageReconnected:
			if st.CutAt == nil && (st.Stage == workflows.StageCut || st.Request != nil) {
				s.fail("I5: the case of %s ends %s with no cut recorded", inv.number, st.Stage)
			}
		}
		if st.CutAt != nil {
			switch {
			case followed == nil || !followed.executed:
				s.fail("I5: the case of %s shows a cut (%s) of a request the distributor did not execute: %s", inv.number, st.Stage, describe(st))
			case st.CutDate == nil || !madridDay(*st.CutDate).Equal(followed.executedOn):
				s.fail("I5: the case of %s has the cut date %v; the distributor cut (request %s) on %s", inv.number, st.CutDate,
					followed.code, followed.executedOn.Format(time.DateOnly))
			case followed.by05:
				cal, _ := calendar.ForProvince(s.contracts[inv.cups].Province, calendar.Extra{})
				if !cal.IsAllowedCutDay(followed.executedOn) && tb.breaches[followed.code] == "" {
					s.fail("I5: the distributor cut %s on %s, no cut day, and the ledger holds no breach of request %s",
						inv.cups, followed.executedOn.Format("Mon 02/01/2006"), followed.code)
				}
			}
		}
		r := released[inv.number]
		switch {
		case r == nil:
		case (r.release == activities.RequestReconnect || r.raced) && st.Stage == workflows.StagePaid:
			s.fail("I6: the settlement of %s released request %s, executed on %s, but the case ends paid", inv.number, r.code,
				r.executedOn.Format(time.DateOnly))
		case r.release == activities.RequestCancel && !r.raced && st.Stage == workflows.StageReconnected:
			s.fail("I7: the settlement of %s cancelled request %s before any cut, but the case ends reconnected", inv.number, r.code)
		}
	}
}

// story tells what the distributor chose and each case's history, for a
// failure's message.
func (s *stackScenario) story() []string {
	out := []string{fmt.Sprintf("distributor: %v", s.env.dist.requestsOf(s))}
	for _, inv := range s.invoices {
		for _, ev := range inv.last.History {
			out = append(out, fmt.Sprintf("%s: %s %-22s %s (%s)", inv.number, ev.At.Format(time.DateTime), ev.Stage, ev.What, ev.By))
		}
	}
	return out
}
