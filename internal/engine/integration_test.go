package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/metrics"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// These tests run the real thing: a Temporal server (the dev server of make up,
// or whatever TEMPORAL_ADDRESS names) and the real Postgres of DATABASE_URL.
// Each test has its own task queue, invoices and supply points, a schema of
// its own in the database and a distributor of its own (folders and a
// stand-in), so they do not meet the worker of the running stack nor each
// other.

type stack struct {
	t     *testing.T
	ctx   context.Context
	c     client.Client
	db    *store.Store
	dsn   string // the database on the test's schema
	queue string
	dist  *distributor.Local
}

func newStack(t *testing.T) *stack {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: run through make test (needs IMPAGOS_INTEGRATION=1, Temporal and Postgres)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	cfg := engine.FromEnv()
	db, drop, err := store.OpenIsolated(ctx, cfg.DatabaseURL, "engine_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop the test's schema: %v", err)
		}
	})
	schema, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := store.WithSearchPath(cfg.DatabaseURL, schema)
	if err != nil {
		t.Fatal(err)
	}
	c, err := engine.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s := &stack{t: t, ctx: ctx, c: c, db: db, dsn: dsn, queue: "impagos-test-" + token(6)}
	// The distributor accepts a request at once and cuts a tenth of a second
	// later: a day of the test policy.
	s.dist = distributor.NewLocal(t.TempDir(), db, c, 0, 100*time.Millisecond)
	return s
}

// runDistributor runs the test's distributor until the test ends.
func (s *stack) runDistributor() {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() { done <- s.dist.Run(ctx) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Error(err)
		}
	})
}

// runWorker runs an in-process worker until the test ends.
func (s *stack) runWorker() { s.runWorkerOn(s.c) }

// runWorkerOn runs an in-process worker on client c until the test ends.
func (s *stack) runWorkerOn(c client.Client) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(ctx, c, s.queue, &activities.Activities{Store: s.db, Retailer: notice.DefaultRetailer,
			Distributor: s.dist.Folder, REECode: distributor.LocalREECode})
	}()
	s.runDistributor()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Error(err)
		}
	})
}

// fastPolicy is the default process with a day lasting a tenth of a second.
func fastPolicy() workflows.Policy {
	p := workflows.DefaultPolicy()
	p.Name = "test"
	p.Scale = 864000
	return p
}

// newCase stores a contract and starts the case of a fresh invoice.
func (s *stack) newCase(segment, supply string, amount int64) string {
	s.t.Helper()
	invoice := "T-" + token(5)
	s.upsertContract(contractOf(invoice, segment, supply))
	s.startCase(invoice, supply, amount, fastPolicy())
	return invoice
}

// contractOf is a reachable contract of the invoice's customer.
func contractOf(invoice, segment, supply string) activities.Contract {
	tax := "12345678Z"
	if segment == activities.SegmentBusiness {
		tax = "B12345674"
	}
	return activities.Contract{
		Customer: "Cliente " + invoice, TaxID: tax, Cups: supply, Segment: segment, Phone: "+34600000000", Email: "cliente@example.com",
	}
}

func (s *stack) upsertContract(k activities.Contract) {
	s.t.Helper()
	if err := s.db.UpsertContract(s.ctx, k); err != nil {
		s.t.Fatal(err)
	}
}

// startCase starts the case of the invoice, and checks that a second start
// finds it open.
func (s *stack) startCase(invoice, supply string, amount int64, p workflows.Policy) {
	s.t.Helper()
	in := workflows.Input{Invoice: invoice, Customer: "Cliente " + invoice, Cups: supply, AmountCents: amount,
		ReturnedAt: time.Now(), Policy: p}
	out, err := cases.Start(s.ctx, s.c, s.queue, in, false)
	if err != nil || out != cases.Started {
		s.t.Fatalf("start %s: %v %v", invoice, out, err)
	}
	again, err := cases.Start(s.ctx, s.c, s.queue, in, false)
	if err != nil || again != cases.AlreadyOpen {
		s.t.Fatalf("second start of %s: want %s, got %v %v", invoice, cases.AlreadyOpen, again, err)
	}
}

// waitStage polls the state query until the case reaches the stage.
func (s *stack) waitStage(invoice string, stage workflows.Stage) workflows.State {
	s.t.Helper()
	return s.waitState(invoice, "stage "+string(stage), func(st workflows.State) bool { return st.Stage == stage })
}

// waitState polls the state query until ok holds.
func (s *stack) waitState(invoice, what string, ok func(workflows.State) bool) workflows.State {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	var st workflows.State
	for time.Now().Before(deadline) {
		var err error
		st, err = cases.State(s.ctx, s.c, invoice)
		if err == nil && ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("invoice %s: %s never reached; last state %s, history %+v", invoice, what, st.Stage, st.History)
	return st
}

func (s *stack) signal(invoice, name string, arg any) {
	s.t.Helper()
	if err := cases.Signal(s.ctx, s.c, invoice, name, arg); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stack) result(invoice string) workflows.Result {
	s.t.Helper()
	var r workflows.Result
	if err := s.c.GetWorkflow(s.ctx, workflows.WorkflowID(invoice), "").Get(s.ctx, &r); err != nil {
		s.t.Fatalf("invoice %s: %v", invoice, err)
	}
	return r
}

// requests counts the distributor requests of a supply point by kind.
func (s *stack) requests(supply string) map[string]int {
	s.t.Helper()
	rows, err := s.db.DistributorRequests(s.ctx, supply)
	if err != nil {
		s.t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range rows {
		n[r.Kind]++
	}
	return n
}

// outboxKinds lists the kinds of the invoice's outbox rows and fails on two
// rows for the same notice and channel.
func (s *stack) outboxKinds(invoice string) []string {
	s.t.Helper()
	rows, err := s.db.Outbox(s.ctx, store.OutboxFilter{Invoice: invoice})
	if err != nil {
		s.t.Fatal(err)
	}
	seen := map[string]bool{}
	var kinds []string
	for _, r := range rows {
		k := r.Kind + "/" + r.Channel
		if seen[k] {
			s.t.Errorf("invoice %s: outbox holds %s twice", invoice, k)
		}
		seen[k] = true
		if !slices.Contains(kinds, r.Kind) {
			kinds = append(kinds, r.Kind)
		}
	}
	return kinds
}

func TestDomesticCaseEndToEnd(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentDomestic, supply, 12345)

	st := s.review(invoice)
	if got := kinds(st.Notices); !slices.Equal(got, []string{"aviso_1", "aviso_2", "requerimiento", "pre_corte"}) {
		t.Fatalf("notices before the review: %v", got)
	}
	if n := s.requests(supply); n["cut"] != 0 {
		t.Fatalf("cut requested before approval: %v", n)
	}
	s.approveUntilCut(invoice)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 12345, Reference: "TR-" + invoice})

	r := s.result(invoice)
	if r.Stage != workflows.StageReconnected || r.CutAt == nil || r.ReconnectAt == nil || r.PaidCents != 12345 {
		t.Fatalf("result %+v", r)
	}
	if n := s.requests(supply); n["cut"] != 1 || n["reconnect"] != 1 {
		t.Fatalf("distributor requests %v, want one cut and one reconnection", n)
	}
	if got := s.outboxKinds(invoice); !slices.Equal(got, []string{"aviso_1", "aviso_2", "requerimiento", "pre_corte", "reconexion"}) {
		t.Fatalf("outbox kinds %v", got)
	}
	inv, err := s.db.Invoice(s.ctx, invoice)
	if err != nil || inv.Status != "paid" || inv.Stage != string(workflows.StageReconnected) {
		t.Fatalf("invoice row %+v %v", inv, err)
	}
	s.recordHistory(invoice, "domestic_cut_reconnect")
}

func TestBusinessCaseAndVisibilityFilter(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 250000)

	st := s.review(invoice)
	if st.CutDate == nil || st.Notices[0].Kind != activities.KindCutLetter {
		t.Fatalf("business case reached review without a cut letter and date: %+v", st)
	}
	// The supervisor's filter in the UI is a visibility query on Stage.
	deadline := time.Now().Add(30 * time.Second)
	for {
		found, err := cases.InStage(s.ctx, s.c, s.queue, workflows.StageCutReview)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(found, invoice) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf(`Stage = "cut_review" does not find %s (found %v)`, invoice, found)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 250000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.CutAt != nil {
		t.Fatalf("paid before the cut: result %+v", r)
	}
	if n := s.requests(supply); len(n) != 0 {
		t.Fatalf("distributor requests for a case paid before its cut: %v", n)
	}
	s.recordHistory(invoice, "business_paid_before_cut")
}

func TestTwoInvoicesOnOneSupplyPointAreCutOnceAndReconnectedWhenBothPaid(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	first := s.newCase(activities.SegmentBusiness, supply, 1000)
	second := s.newCase(activities.SegmentBusiness, supply, 2000)
	// Both under review before either is approved: each asks the distributor,
	// and the second finds the supply point already cut.
	for _, inv := range []string{first, second} {
		s.review(inv)
	}
	for _, inv := range []string{first, second} {
		s.approveUntilCut(inv)
	}
	if n := s.requests(supply); n["cut"] != 1 {
		t.Fatalf("distributor requests %v, want one cut for the supply point", n)
	}
	s.signal(first, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 1000, Reference: "TR-" + first})
	if r := s.result(first); r.Stage != workflows.StagePaid || r.ReconnectAt != nil {
		t.Fatalf("first invoice paid while the second is open: %+v", r)
	}
	if n := s.requests(supply); n["reconnect"] != 0 {
		t.Fatalf("reconnected with an invoice still open: %v", n)
	}
	s.signal(second, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 2000, Reference: "TR-" + second})
	if r := s.result(second); r.Stage != workflows.StageReconnected {
		t.Fatalf("last invoice paid: %+v", r)
	}
	if n := s.requests(supply); n["cut"] != 1 || n["reconnect"] != 1 {
		t.Fatalf("distributor requests %v, want one cut and one reconnection", n)
	}
}

func TestWorkerKilledMidCaseLosesNothingAndRepeatsNothing(t *testing.T) {
	s := newStack(t)
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	logs := filepath.Join(t.TempDir(), "worker.log")
	start := func() *exec.Cmd {
		f, err := os.OpenFile(logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin)
		// The worker on the test's schema sends the B1 messages to the test's
		// distributor, which the test runs: not to the stack's folders. It
		// serves no metrics: the stack's worker holds their address.
		cmd.Env = append(os.Environ(), "IMPAGOS_TASK_QUEUE="+s.queue, "DATABASE_URL="+s.dsn,
			"IMPAGOS_ATR_OUTBOX="+s.dist.Folder.Dir, "IMPAGOS_ATR_INBOX=", "IMPAGOS_ATR_STANDIN=0",
			"IMPAGOS_ATR_REE_CODE="+distributor.LocalREECode, metrics.EnvAddr+"=")
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); f.Close() })
		return cmd
	}
	w := start()
	s.runDistributor()
	supply := newCups(t)
	// A day lasts half a second here, not a tenth: the case's clock runs on
	// while no worker is alive and the new one starts, and at a tenth of a
	// second a slow restart carries it past the years the holiday data covers.
	invoice := "T-" + token(5)
	s.upsertContract(contractOf(invoice, activities.SegmentDomestic, supply))
	p := fastPolicy()
	p.Scale = 172800
	s.startCase(invoice, supply, 5000, p)
	s.waitStage(invoice, workflows.StageNotice2)

	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = w.Wait()
	// Timers keep running on the server while no worker is alive.
	time.Sleep(2 * time.Second)
	start()

	s.review(invoice)
	s.approveUntilCut(invoice)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 5000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StageReconnected {
		data, _ := os.ReadFile(logs)
		t.Fatalf("result %+v\nworker log:\n%s", r, data)
	}
	if got := s.outboxKinds(invoice); !slices.Equal(got, []string{"aviso_1", "aviso_2", "requerimiento", "pre_corte", "reconexion"}) {
		t.Fatalf("outbox kinds %v", got)
	}
	if n := s.requests(supply); n["cut"] != 1 || n["reconnect"] != 1 {
		t.Fatalf("distributor requests %v, want one cut and one reconnection", n)
	}
}

func TestSignalsToUnknownOrClosedCasesAreRefused(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	err := cases.Signal(s.ctx, s.c, "NO-SUCH-"+token(4), workflows.SignalPaid, workflows.PaidSignal{AmountCents: 1})
	if !errors.Is(err, cases.ErrUnknown) {
		t.Fatalf("unknown invoice: %v", err)
	}
	invoice := s.newCase(activities.SegmentBusiness, newCups(t), 700)
	s.waitStage(invoice, workflows.StageCutScheduled)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 700, Reference: "TR-" + invoice})
	s.result(invoice)
	err = cases.Signal(s.ctx, s.c, invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 1})
	if !errors.Is(err, cases.ErrClosed) {
		t.Fatalf("closed case: %v", err)
	}
	in := workflows.Input{Invoice: invoice, Customer: "x", Cups: newCups(t), AmountCents: 700, Policy: fastPolicy()}
	if out, err := cases.Start(s.ctx, s.c, s.queue, in, false); err != nil || out != cases.AlreadyClosed {
		t.Fatalf("restarting a closed case without --reopen: %v %v", out, err)
	}
}

func kinds(ns []workflows.Notice) []string {
	var out []string
	for _, n := range ns {
		if !slices.Contains(out, n.Kind) {
			out = append(out, n.Kind)
		}
	}
	return out
}

// newCups returns a valid, random supply point code.
func newCups(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		t.Fatal(err)
	}
	return cups.Make(21, n.Int64())
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestDigestScheduleIsCreatedOnceAndKeptUpToDate(t *testing.T) {
	s := newStack(t)
	id := engine.DigestScheduleID(s.queue)
	h := s.c.ScheduleClient().GetHandle(s.ctx, id)
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	for _, holidays := range [][]string{nil, {"2026-12-10"}} {
		if err := engine.EnsureDigestSchedule(s.ctx, s.c, s.queue, holidays); err != nil {
			t.Fatal(err)
		}
	}
	d, err := h.Describe(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	spec := d.Schedule.Spec
	if spec.TimeZoneName != "Europe/Madrid" || len(spec.Calendars) != 1 || spec.Calendars[0].Hour[0].Start != 8 {
		t.Fatalf("schedule spec %+v", spec)
	}
	if days := spec.Calendars[0].DayOfWeek; len(days) != 1 || days[0].Start != 1 || days[0].End != 5 {
		t.Fatalf("schedule runs on %+v, want Monday to Friday", days)
	}
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || action.TaskQueue != s.queue {
		t.Fatalf("schedule action %+v", d.Schedule.Action)
	}
	next := d.Info.NextActionTimes
	if len(next) == 0 || next[0].In(madrid(t)).Hour() != 8 || next[0].In(madrid(t)).Weekday() == time.Saturday {
		t.Fatalf("next digests %v", next)
	}
}

func madrid(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// sleep lets the cases move on a little.
func (s *stack) sleep() { time.Sleep(100 * time.Millisecond) }

// review waits until the case is before the cuts desk. A case that waits for
// the proof of its formal notice (cut_blocked) gets it as a clerk gives it:
// the acuse de recibo recorded in the ledger, and the case told.
func (s *stack) review(invoice string) workflows.State {
	s.t.Helper()
	st := s.waitState(invoice, "cut review, or blocked for proof", func(st workflows.State) bool {
		return st.Stage == workflows.StageCutReview || st.Stage == workflows.StageCutBlocked
	})
	if st.Stage == workflows.StageCutBlocked {
		s.prove(invoice)
		st = s.waitStage(invoice, workflows.StageCutReview)
	}
	return st
}

// prove records the proof that the invoice's formal notice reached the
// customer and tells the case, as the fault suites' and the bench's clerks do.
func (s *stack) prove(invoice string) {
	s.t.Helper()
	if _, err := cases.ProveFormalNotice(s.ctx, s.c, s.db, invoice, "mesa de cortes"); err != nil {
		s.t.Fatalf("proof of %s: %v", invoice, err)
	}
}

// PROCESS "Actors": the clerks' actions are updates that get the case's real
// answer from the server: a refusal names the stage, a payment answers with
// what is still due once the ledger has it, a hold once the ledger holds it.
func TestClerkActionsGetTheCasesAnswer(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 30000)
	s.waitStage(invoice, workflows.StageCutScheduled)

	_, err := cases.Update(s.ctx, s.c, invoice, workflows.UpdateApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	var refused *cases.Refused
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "not under review (stage cut_scheduled)") {
		t.Fatalf("approval outside review: %v", err)
	}
	ans, err := cases.Update(s.ctx, s.c, invoice, workflows.UpdateHold, workflows.HoldSignal{Reason: "llamará", By: "clerk"})
	if err != nil || ans.Outcome != "on_hold" {
		t.Fatalf("hold: %+v %v", ans, err)
	}
	if inv, err := s.db.Invoice(s.ctx, invoice); err != nil || inv.HoldReason != "llamará" {
		t.Fatalf("the ledger does not hold the case: %+v %v", inv, err)
	}
	ans, err = cases.Update(s.ctx, s.c, invoice, workflows.UpdatePaid, workflows.PaidSignal{AmountCents: 10000, Reference: "TR-" + invoice})
	if err != nil || ans.Outcome != "recorded" || ans.AmountDueCents != 20000 {
		t.Fatalf("partial payment: %+v %v", ans, err)
	}
	if payments, err := s.db.Payments(s.ctx, invoice); err != nil || len(payments) != 1 {
		t.Fatalf("the payment is not in the ledger when the case answers: %+v %v", payments, err)
	}
	if ans, err = cases.Update(s.ctx, s.c, invoice, workflows.UpdateRelease, workflows.ReleaseSignal{By: "clerk"}); err != nil || ans.Outcome != "released" {
		t.Fatalf("release: %+v %v", ans, err)
	}
	s.review(invoice)
	ans, err = cases.Update(s.ctx, s.c, invoice, workflows.UpdateApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	if err != nil || ans.Outcome != "approved" {
		t.Fatalf("approval: %+v %v", ans, err)
	}
	s.approveUntilCut(invoice) // again if the case came back to review
	ans, err = cases.Update(s.ctx, s.c, invoice, workflows.UpdatePaid, workflows.PaidSignal{AmountCents: 20000, Reference: "TR-2-" + invoice})
	if err != nil || (ans.Outcome != "pending" && !strings.Contains(ans.Detail, "reconnection requested")) {
		t.Fatalf("payment in full after the cut: %+v %v", ans, err)
	}
	if r := s.result(invoice); r.Stage != workflows.StageReconnected || r.PaidCents != 30000 {
		t.Fatalf("result %+v", r)
	}
	if n := s.requests(supply); n["cut"] != 1 || n["reconnect"] != 1 {
		t.Fatalf("distributor requests %v", n)
	}
	s.recordHistory(invoice, "business_updates_hold_cut_reconnect")
}

// approveUntilCut approves the cut, and again each time the case comes back
// to review (an approval is good for one allowed cut day, and a case on a
// fast clock may miss it), as the cuts desk would, until the case is cut.
func (s *stack) approveUntilCut(invoice string) {
	s.t.Helper()
	approvals := 0
	s.waitState(invoice, "stage cut", func(st workflows.State) bool {
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" {
			approvals++
			if err := cases.Signal(s.ctx, s.c, invoice, workflows.SignalApproveCut,
				workflows.ApproveCutSignal{By: "mesa de cortes"}); err != nil {
				s.t.Fatal(err)
			}
		}
		return st.Stage == workflows.StageCut
	})
	if approvals > 1 {
		s.t.Logf("invoice %s: approved %d times before its cut", invoice, approvals)
	}
}
