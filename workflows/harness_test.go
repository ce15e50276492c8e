package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/notice"
)

// The case every test starts from, unless it says otherwise.
const (
	testInvoice = "FE26-000123"
	testCups    = "ES0031405000000001ZV"
	testAmount  = int64(12345) // 123,45 €
)

// madrid is a wall-clock moment in Europe/Madrid.
func madrid(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, calendar.Madrid)
}

// tuesday is the default start: Tuesday 3 March 2026, 10:30 in Madrid. The
// domestic formal demand then goes out on 17 March, the regulatory wait ends
// on Sunday 17 May (after the change to summer time) and the cut date is
// Wednesday 20 May; a business cut letter sets Wednesday 18 March.
var tuesday = madrid(2026, time.March, 3, 10, 30)

func domesticContract() activities.Contract {
	return activities.Contract{
		Found:    true,
		Customer: "María López García",
		TaxID:    "12345678Z",
		Cups:     testCups,
		Segment:  activities.SegmentDomestic,
		Phone:    "600111222",
		Email:    "maria@example.com",
		Province: "Madrid",
	}
}

func businessContract() activities.Contract {
	k := domesticContract()
	k.Customer, k.TaxID, k.Segment = "Talleres Pérez S.L.", "B12345674", activities.SegmentBusiness
	k.Email = "admin@talleresperez.example"
	return k
}

// call is one activity the workflow ran, with the simulated time it ran at.
type call struct {
	Activity string
	At       time.Time
	Input    any
	Local    bool // run as a local activity (LookupContract and SendNotice only)
}

// harness runs one case in the test environment with every activity mocked.
// The mocks record their inputs in order and answer from fields a test may
// change at any simulated moment (through setContract and friends).
type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time

	mu         sync.Mutex
	calls      []call
	contract   activities.Contract
	onLookup   func(n int) // called inside the n-th (1-based) LookupContract
	ledgerPaid int64
	openDelay  time.Duration // how long OpenCase takes, in simulated time
	supply     activities.SupplyStatus
	sender     *activities.Activities
	settle     func(activities.SettleInput) activities.SettleResult
	refuse     map[int64]string // outbox ids the e-mail provider refuses, with its answer
	deliveries []activities.DeliverInput
	// proof answers NoticeProof; by default the formal notice is proven on
	// the day it was sent, as a qualified provider's certificate would say.
	proof func() activities.ProofStatus
	// refuseCut, when set, answers a RequestCut with the ledger's refusal.
	refuseCut func(activities.CutInput) *activities.CutRefusal
	// holdResult, paymentErr and lookupErr, when set, answer RecordHold,
	// fail RecordPayment and fail LookupContract.
	holdResult func(activities.HoldInput) activities.HoldResult
	paymentErr func(activities.PaymentInput) error
	lookupErr  func() error
	// lookupLocalErr, when set, fails every LookupContract run as a local activity.
	lookupLocalErr error
	// noticeLocalErr, when set, fails every SendNotice run as a local activity.
	noticeLocalErr error
	// refuseLimit, when set, answers a RequestPowerLimit with the ledger's refusal.
	refuseLimit func(activities.LimitInput) *activities.CutRefusal
	// settleDelay is how long SettleInvoice takes, in simulated time.
	settleDelay time.Duration
	// dist, when set, is the ledger's and the distributor's side of ATR: cut
	// requests and settlements carry requests, and it answers them.
	dist *fakeDistributor
}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{
		t:        t,
		env:      suite.NewTestWorkflowEnvironment(),
		start:    start,
		contract: domesticContract(),
		sender:   &activities.Activities{Store: &outbox{}, Retailer: notice.DefaultRetailer},
		settle: func(in activities.SettleInput) activities.SettleResult {
			// Paid after the cut, and the only open invoice of the supply point.
			cut := in.Case.Stage == string(StageReconnecting)
			return activities.SettleResult{SupplyCut: cut, Reconnection: cut}
		},
	}
	h.env.SetStartTime(start)
	// The default bound of the test environment is a few seconds of real
	// time, which a busy machine can spend on a long case: no test here may
	// depend on the machine's speed.
	h.env.SetTestTimeout(5 * time.Minute)
	h.env.RegisterActivity(a)
	h.mockActivities()
	t.Cleanup(func() { h.env.AssertExpectations(t) })
	return h
}

func (h *harness) record(name string, in any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{Activity: name, At: h.env.Now(), Input: in})
}

func (h *harness) mockActivities() {
	env := h.env
	env.OnActivity(a.OpenCase, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return h.openDelay }).Return(
		func(_ context.Context, in activities.OpenCaseInput) (activities.OpenCaseResult, error) {
			h.record("OpenCase", in)
			h.mu.Lock()
			defer h.mu.Unlock()
			return activities.OpenCaseResult{PaidCents: h.ledgerPaid}, nil
		}).Maybe()
	env.OnActivity(a.LookupContract, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.LookupInput) (activities.Contract, error) {
			local := activity.GetInfo(ctx).IsLocalActivity
			h.mu.Lock()
			h.calls = append(h.calls, call{Activity: "LookupContract", At: h.env.Now(), Input: in, Local: local})
			k, hook, n, fail := h.contract, h.onLookup, len(h.callsOf("LookupContract")), h.lookupErr
			localErr := h.lookupLocalErr
			h.mu.Unlock()
			if local && localErr != nil {
				return activities.Contract{}, localErr
			}
			if fail != nil {
				if err := fail(); err != nil {
					return activities.Contract{}, err
				}
			}
			if hook != nil {
				hook(n)
			}
			return k, nil
		}).Maybe()
	env.OnActivity(a.SendNotice, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.NoticeInput) (activities.NoticeResult, error) {
			local := activity.GetInfo(ctx).IsLocalActivity
			h.mu.Lock()
			h.calls = append(h.calls, call{Activity: "SendNotice", At: h.env.Now(), Input: in, Local: local})
			localErr := h.noticeLocalErr
			h.mu.Unlock()
			if local && localErr != nil {
				return activities.NoticeResult{}, localErr
			}
			// The real activity renders the templates, so a notice the
			// workflow cannot word (no channel, a date in a domestic
			// WhatsApp) fails the test here.
			deliver := in.Deliver
			in.Deliver = false
			res, err := h.sender.SendNotice(ctx, in)
			if err != nil {
				h.t.Errorf("notice %s at %s: %v", in.Kind, in.At, err)
			}
			if err == nil && deliver {
				// The real activity delivers in the same call, as DeliverNotice does.
				ids := make([]int64, 0, len(res.Messages))
				for _, m := range res.Messages {
					ids = append(ids, m.OutboxID)
				}
				res.Delivered = h.deliver(activities.DeliverInput{Case: in.Case, OutboxIDs: ids}).Delivered
			}
			return res, err
		}).Maybe()
	env.OnActivity(a.RecordStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StageInput) error {
			h.record("RecordStage", in)
			return nil
		}).Maybe()
	env.OnActivity(a.RecordPayment, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PaymentInput) (bool, error) {
			h.record("RecordPayment", in)
			if h.paymentErr != nil {
				if err := h.paymentErr(in); err != nil {
					return false, err
				}
			}
			return true, nil
		}).Maybe()
	env.OnActivity(a.CheckSupply, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SupplyInput) (activities.SupplyStatus, error) {
			h.record("CheckSupply", in)
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.supply, nil
		}).Maybe()
	env.OnActivity(a.RequestCut, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CutInput) (activities.CutResult, error) {
			h.record("RequestCut", in)
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.refuseCut != nil {
				if r := h.refuseCut(in); r != nil {
					return activities.CutResult{}, temporal.NewNonRetryableApplicationError(r.Error(), activities.ErrCutRefused, nil, *r)
				}
			}
			if h.dist != nil && in.ATR {
				return h.dist.cut(in, h.env.Now()), nil
			}
			return activities.CutResult{CutID: 77, Joined: h.supply.Cut}, nil
		}).Maybe()
	env.OnActivity(a.NoticeProof, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ProofInput) (activities.ProofStatus, error) {
			h.record("NoticeProof", in)
			h.mu.Lock()
			f := h.proof
			h.mu.Unlock()
			if f != nil {
				return f(), nil
			}
			return h.sentProof(), nil
		}).Maybe()
	env.OnActivity(a.RecordHold, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.HoldInput) (activities.HoldResult, error) {
			h.record("RecordHold", in)
			if h.holdResult != nil {
				return h.holdResult(in), nil
			}
			return activities.HoldResult{Applied: true}, nil
		}).Maybe()
	env.OnActivity(a.RequestPowerLimit, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.LimitInput) (activities.LimitResult, error) {
			h.record("RequestPowerLimit", in)
			if h.refuseLimit != nil {
				if r := h.refuseLimit(in); r != nil {
					return activities.LimitResult{}, temporal.NewNonRetryableApplicationError(r.Error(), activities.ErrCutRefused, nil, *r)
				}
			}
			return activities.LimitResult{RequestID: 1}, nil
		}).Maybe()
	env.OnActivity(a.CancelCase, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CancelInput) error {
			h.record("CancelCase", in)
			return nil
		}).Maybe()
	env.OnActivity(a.DeliverNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeliverInput) (activities.DeliverResult, error) {
			return h.deliver(in), nil
		}).Maybe()
	env.OnActivity(a.SettleInvoice, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return h.settleDelay }).Return(
		func(_ context.Context, in activities.SettleInput) (activities.SettleResult, error) {
			h.record("SettleInvoice", in)
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.dist != nil && h.dist.cutReq != nil {
				return h.dist.settle(in, h.env.Now()), nil
			}
			return h.settle(in), nil
		}).Maybe()
	env.OnActivity(a.SendToDistributor, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendInput) (activities.SendResult, error) {
			h.record("SendToDistributor", in)
			return activities.SendResult{Sent: 1}, nil
		}).Maybe()
	env.OnActivity(a.DistributorRequest, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RequestInput) (activities.DistributorState, error) {
			h.record("DistributorRequest", in)
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.dist.state(in.RequestID), nil
		}).Maybe()
	env.OnActivity(a.RecordBreach, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BreachInput) error {
			h.record("RecordBreach", in)
			return nil
		}).Maybe()
}

// outbox is the store behind the real SendNotice activity: it numbers what it is given.
type outbox struct {
	activities.Store // any other method is a test bug and panics
	mu               sync.Mutex
	next             int64
}

func (o *outbox) PutOutbox(_ context.Context, _ activities.CaseRef, msgs []activities.OutboxMessage) ([]activities.Message, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]activities.Message, 0, len(msgs))
	for _, m := range msgs {
		o.next++
		out = append(out, activities.Message{OutboxID: o.next, Channel: m.Channel, Recipient: m.Recipient, At: m.At})
	}
	return out, nil
}

// sentProof is the proof a qualified provider gives: the formal notice
// (requerimiento or cut letter) received on the day it was sent.
func (h *harness) sentProof() activities.ProofStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls {
		if n, ok := c.Input.(activities.NoticeInput); ok && (n.Kind == activities.KindRequerimiento || n.Kind == activities.KindCutLetter) {
			d := calendar.Date(n.At.In(calendar.Madrid).Date())
			return activities.ProofStatus{Proven: true, ProvenOn: &d, Kind: activities.ProofCertificate, Summary: "certificado"}
		}
	}
	return activities.ProofStatus{}
}

func (h *harness) setContract(k activities.Contract) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.contract = k
}

func (h *harness) setSettle(f func(activities.SettleInput) activities.SettleResult) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settle = f
}

// input is the default case: a domestic invoice under the default policy.
func (h *harness) input() Input {
	return Input{
		Invoice:     testInvoice,
		Customer:    "María López García",
		Cups:        testCups,
		AmountCents: testAmount,
		ReturnedAt:  h.start.AddDate(0, 0, -2),
		Policy:      DefaultPolicy(),
	}
}

// run executes the case to its end and returns its result.
func (h *harness) run(in Input) Result {
	h.t.Helper()
	return h.runWorkflow(ReturnedInvoice, in)
}

func (h *harness) runWorkflow(wf func(workflow.Context, Input) (Result, error), in Input) Result {
	h.t.Helper()
	h.env.ExecuteWorkflow(wf, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "the case did not finish")
	require.NoError(h.t, h.env.GetWorkflowError())
	var r Result
	require.NoError(h.t, h.env.GetWorkflowResult(&r))
	return r
}

// state asks the case for its state, as the clerk does.
func (h *harness) state() State {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryState)
	require.NoError(h.t, err)
	var st State
	require.NoError(h.t, v.Get(&st))
	return st
}

// at runs f at a simulated moment (it must not be in the past).
func (h *harness) at(when time.Time, f func()) {
	h.t.Helper()
	d := when.Sub(h.env.Now())
	require.Positive(h.t, d, "callback at %s is in the past", when)
	h.env.RegisterDelayedCallback(f, d)
}

// The first check comes 17 minutes after the start, the next ones every step:
// cases start on the half hour and act on the hour or the half hour, so with
// hourly or daily steps a check (at xx:47) never ties with a timer of the case.
const (
	firstCheck = 17 * time.Minute
	maxChecks  = 24 * 400
)

// watch queries the state every step of simulated time and hands it to react
// until react reports done. A case that never gets there is cancelled, so the
// test fails instead of hanging.
func (h *harness) watch(step time.Duration, react func(st State) (done bool)) {
	h.t.Helper()
	h.watchFrom(firstCheck, step, react)
}

func (h *harness) watchFrom(first, step time.Duration, react func(st State) (done bool)) {
	h.t.Helper()
	n := 0
	var check func()
	check = func() {
		n++
		st := h.state()
		if react(st) {
			return
		}
		if n >= maxChecks {
			h.t.Errorf("case still in %s after %d checks", st.Stage, n)
			h.env.CancelWorkflow()
			return
		}
		h.env.RegisterDelayedCallback(check, step)
	}
	h.env.RegisterDelayedCallback(check, first)
}

// reviewAndPay is the usual cuts desk and customer: approve the cut as soon
// as it is under review, pay in full one day after the cut.
func (h *harness) reviewAndPay() { h.reviewAndPayEvery(time.Hour) }

// reviewAndPayEvery is reviewAndPay looking at the case every step, for the
// cases that run longer than the hourly checks reach.
func (h *harness) reviewAndPayEvery(step time.Duration) {
	h.watch(step, func(st State) bool {
		switch st.Stage {
		case StageCutReview:
			if st.CutApprovedBy == "" {
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio", Note: "revisado"})
			}
		case StageCut:
			h.at(h.env.Now().Add(24*time.Hour), func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-1"})
			})
			return true
		}
		return false
	})
}

// localAndOrdinary splits the inputs of one activity's calls by how they ran.
func localAndOrdinary[T any](h *harness, activity string) (local, ordinary []T) {
	for _, c := range h.callsOf(activity) {
		if c.Local {
			local = append(local, c.Input.(T))
		} else {
			ordinary = append(ordinary, c.Input.(T))
		}
	}
	return local, ordinary
}

func (h *harness) callsOf(activity string) []call {
	var out []call
	for _, c := range h.calls {
		if c.Activity == activity {
			out = append(out, c)
		}
	}
	return out
}

// inputs returns the inputs of every call of one activity, in order.
func inputs[T any](h *harness, activity string) []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []T
	for _, c := range h.callsOf(activity) {
		out = append(out, c.Input.(T))
	}
	return out
}

func (h *harness) notices() []activities.NoticeInput {
	return inputs[activities.NoticeInput](h, "SendNotice")
}

func (h *harness) noticesOf(kind string) []activities.NoticeInput {
	var out []activities.NoticeInput
	for _, n := range h.notices() {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// sentAt is when each notice of a kind was sent, in simulated time.
func (h *harness) sentAt(kind string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, c := range h.callsOf("SendNotice") {
		if c.Input.(activities.NoticeInput).Kind == kind {
			out = append(out, c.At)
		}
	}
	return out
}

func (h *harness) cuts() []activities.CutInput {
	return inputs[activities.CutInput](h, "RequestCut")
}

// callTimes is when each call of one activity ran, in simulated time.
func (h *harness) callTimes(activity string) []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Time
	for _, c := range h.callsOf(activity) {
		out = append(out, c.At)
	}
	return out
}

// stages is the sequence of stages the history went through.
func stages(st State) []Stage {
	var out []Stage
	for _, e := range st.History {
		if len(out) == 0 || out[len(out)-1] != e.Stage {
			out = append(out, e.Stage)
		}
	}
	return out
}

// firstEvent is the first history line of a stage.
func firstEvent(t *testing.T, st State, s Stage) Event {
	t.Helper()
	i := slices.IndexFunc(st.History, func(e Event) bool { return e.Stage == s })
	require.GreaterOrEqual(t, i, 0, "stage %s never reached; history: %v", s, st.History)
	return st.History[i]
}

// historyMentions reports whether a history line contains every word.
func historyMentions(st State, words ...string) bool {
	return slices.ContainsFunc(st.History, func(e Event) bool {
		for _, w := range words {
			if !strings.Contains(e.What, w) {
				return false
			}
		}
		return true
	})
}

func requireHistoryOrdered(t *testing.T, st State) {
	t.Helper()
	require.NotEmpty(t, st.History)
	for i := 1; i < len(st.History); i++ {
		require.False(t, st.History[i].At.Before(st.History[i-1].At),
			"history goes back in time at line %d: %v then %v", i, st.History[i-1], st.History[i])
	}
}

// sameDay reports whether two moments fall on the same date in Madrid.
func sameDay(a, b time.Time) bool {
	ay, am, ad := a.In(calendar.Madrid).Date()
	by, bm, bd := b.In(calendar.Madrid).Date()
	return ay == by && am == bm && ad == bd
}

func requireSameDay(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, sameDay(want, got), "%s: want %s, got %s", what, want.In(calendar.Madrid).Format("Mon 2006-01-02"),
		got.In(calendar.Madrid).Format("Mon 2006-01-02 15:04"))
}

func requireSameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: want %s, got %s", what, want.In(calendar.Madrid).Format("Mon 2006-01-02 15:04:05"),
		got.In(calendar.Madrid).Format("Mon 2006-01-02 15:04:05"))
}

// endOfDay is the last second of t's day in Madrid.
func endOfDay(t time.Time) time.Time {
	t = t.In(calendar.Madrid)
	return time.Date(t.Year(), t.Month(), t.Day(), 23, 59, 59, 0, calendar.Madrid)
}

// inMadrid moves a moment by whole days and months of the Madrid calendar, as
// the workflow does (times that travelled through JSON carry a fixed offset).
func inMadrid(t time.Time, months, days int) time.Time {
	return t.In(calendar.Madrid).AddDate(0, months, days)
}

// requireAllowedCutDates checks every cut date the case ever handed to an
// activity, and the moment of every cut request, against the calendar.
func (h *harness) requireAllowedCutDates(cal calendar.Calendar) {
	h.t.Helper()
	h.mu.Lock()
	calls := slices.Clone(h.calls)
	h.mu.Unlock()
	for _, c := range calls {
		var dates []*time.Time
		switch in := c.Input.(type) {
		case activities.NoticeInput:
			dates = append(dates, in.CutDate, in.SuspendFrom, in.Case.CutDate)
		case activities.CutInput:
			dates = append(dates, &in.At, in.Case.CutDate)
		case activities.StageInput:
			dates = append(dates, in.Case.CutDate)
		case activities.SettleInput:
			dates = append(dates, in.Case.CutDate)
		case activities.PaymentInput:
			dates = append(dates, in.Case.CutDate)
		case activities.SupplyInput:
			dates = append(dates, in.Case.CutDate)
		case activities.LookupInput:
			dates = append(dates, in.Case.CutDate)
		}
		for _, d := range dates {
			if d != nil {
				require.True(h.t, cal.IsAllowedCutDay(*d), "%s at %s carries %s, not an allowed cut day",
					c.Activity, c.At.In(calendar.Madrid).Format(time.DateTime), d.In(calendar.Madrid).Format("Mon 2006-01-02"))
			}
		}
	}
}

// deliver answers a delivery of the notices' e-mails: sent, but those the
// test refuses.
func (h *harness) deliver(in activities.DeliverInput) activities.DeliverResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Kept apart from calls: delivery follows every notice, and the tests of
	// the process read the actions around it.
	h.deliveries = append(h.deliveries, in)
	var res activities.DeliverResult
	for _, id := range in.OutboxIDs {
		d := activities.Delivered{OutboxID: id, Status: activities.StatusSent, MessageID: fmt.Sprintf("msg-%d", id)}
		if h.refuse[id] != "" {
			d = activities.Delivered{OutboxID: id, Status: activities.StatusFailed, Detail: h.refuse[id]}
		}
		res.Delivered = append(res.Delivered, d)
	}
	return res
}
