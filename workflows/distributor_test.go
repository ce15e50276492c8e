package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// fakeDistributor is the ledger's side of ATR and the distributor in one: a
// cut request gets a code, a settlement of a requested cut gets its step 03,
// and the distributor answers as the test says, by signal, as the worker's
// inbox does. Its fields are read and written under the harness's lock.
type fakeDistributor struct {
	acceptAfter   time.Duration // from the request to the 02 (and from the 03 to the 04)
	activateAfter time.Duration // from the 02 to the 05
	reject        string        // a rejection code for the 02; "" accepts
	class         string        // its class
	silent        bool          // answers nothing to the cut request
	silentRelease bool          // answers nothing to the 03
	executeOn     *time.Time    // the FechaActivacion to report; nil: the planned day
	executeAnyway bool          // executes the cut even after a cancellation
	unreachable   bool          // takes nothing handed over with the ledger's write (Send)
	untold        bool          // its 05 reaches the ledger but never the case, nor with another answer

	cutReq      *activities.DistributorState
	release     *activities.DistributorState
	requestedAt time.Time
	acceptedAt  time.Time
	releasedAt  time.Time
	executed    bool
	msg         int64
	handed      []int64 // requests handed over by the call that wrote them
}

// hand takes a request the ledger call that wrote it hands over (Send), as
// the activity does: Sent unless the distributor is unreachable.
func (d *fakeDistributor) hand(send bool, req *activities.DistributorState) bool {
	if !send || req == nil || d.unreachable {
		return false
	}
	d.handed = append(d.handed, req.RequestID)
	return true
}

func (d *fakeDistributor) cut(in activities.CutInput, now time.Time) activities.CutResult {
	day := calendar.Date(in.At.In(calendar.Madrid).Date())
	d.cutReq = &activities.DistributorState{RequestID: 501, Kind: activities.RequestCut, Code: "000000000501",
		Status: activities.RequestSent, PlannedOn: &day}
	d.requestedAt = now
	return activities.CutResult{CutID: 77, Request: d.copy(d.cutReq), Sent: d.hand(in.Send, d.cutReq)}
}

func (d *fakeDistributor) settle(in activities.SettleInput, now time.Time) activities.SettleResult {
	kind := activities.RequestCancel
	if d.executed {
		kind = activities.RequestReconnect
	}
	d.release = &activities.DistributorState{RequestID: 502, Kind: kind, Code: d.cutReq.Code, Status: activities.RequestSent}
	d.releasedAt = now
	return activities.SettleResult{SupplyCut: true, Reconnection: kind == activities.RequestReconnect, Release: kind,
		Request: d.copy(d.release), Sent: d.hand(in.Send, d.release)}
}

func (d *fakeDistributor) copy(s *activities.DistributorState) *activities.DistributorState {
	c := *s
	return &c
}

func (d *fakeDistributor) state(id int64) activities.DistributorState {
	if d.release != nil && id == d.release.RequestID {
		return *d.release
	}
	return *d.cutReq
}

// answer signals an answer of the distributor to the case.
func (h *harness) answer(step, kind string, date time.Time, req *activities.DistributorState) {
	d := h.dist
	d.msg++
	req.Answer = d.msg
	s := activities.DistributorAnswer{MessageID: d.msg, File: "B1_" + step + "_" + req.Code + "_01.xml", Step: step, Kind: kind,
		Date: date, Request: *req}
	if req.Kind != activities.RequestCut && !d.untold {
		cut := *d.cutReq
		s.Cut = &cut
	}
	h.env.SignalWorkflow(SignalDistributor, s)
}

// distributorAnswers plays the distributor every simulated hour until the
// case closes.
func (h *harness) distributorAnswers(d *fakeDistributor) {
	h.dist = d
	h.watch(time.Hour, func(st State) bool {
		if st.Stage.Closed() {
			return true
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		now := h.env.Now()
		today := calendar.Date(now.In(calendar.Madrid).Date())
		if r := d.cutReq; r != nil && !d.silent {
			switch {
			case r.Status == activities.RequestSent && !now.Before(d.requestedAt.Add(d.acceptAfter)):
				if d.reject != "" {
					r.Status, r.AnsweredOn = activities.RequestRejected, &today
					r.Rejections = []activities.Rejection{{Code: d.reject, Text: "motivo " + d.reject, Class: d.class}}
					if d.class == "never_cut" {
						// What the ledger does with such a rejection.
						h.contract.Protection = "la distribuidora rechaza el corte: " + d.reject + " suministro esencial"
					}
					h.answer("02", "rejected", today, r)
					break
				}
				r.Status, r.AnsweredOn = activities.RequestAccepted, &today
				d.acceptedAt = now
				h.answer("02", "accepted", today, r)
			case r.Status == activities.RequestAccepted && !d.executed && (d.release == nil || d.executeAnyway) &&
				!now.Before(d.acceptedAt.Add(d.activateAfter)):
				day := *r.PlannedOn
				if d.executeOn != nil {
					day = *d.executeOn
				}
				r.Status, r.ExecutedOn, d.executed = activities.RequestExecuted, &day, true
				if !d.untold {
					h.answer("05", "activated", day, r)
				}
			}
		}
		if r := d.release; r != nil && !d.silentRelease && r.Status == activities.RequestSent &&
			!now.Before(d.releasedAt.Add(d.acceptAfter)) && (!d.executeAnyway || d.executed) {
			r.Status, r.AnsweredOn = activities.RequestAccepted, &today
			h.answer("04", "cancel_accepted", today, r)
		}
		return false
	})
}

// approveAt has the cuts desk approve the cut as soon as it is under review,
// and the customer pay in full when pay says so.
func (h *harness) approveAndPayWhen(pay func(st State) bool) {
	paid := false
	h.watch(time.Hour, func(st State) bool {
		switch {
		case st.Stage == StageCutReview && st.CutApprovedBy == "" && st.Hold == nil:
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		case !paid && pay(st):
			paid = true
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-9"})
		}
		return st.Stage.Closed() || paid
	})
}

// PROCESS step 7 with the distributor: the case is cut only when the
// distributor says it cut (B1 05), on the day it says; the reconnection
// after payment is a B1 03, and the case is reconnected only when the
// distributor accepts it (04), watched against the end of the next day.
func TestDistributor_CutOnlyWhenExecutedAndReconnectedOnAcceptance(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // cut letter for Wednesday 18 March
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 20 * time.Hour})
	var requested, cut, reconnecting State
	h.approveAndPayWhen(func(st State) bool {
		switch st.Stage {
		case StageCutRequested:
			if requested.Stage == "" {
				requested = st
			}
		case StageCut:
			cut = st
			return true
		}
		return false
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageReconnectRequested {
			reconnecting = st
			return true
		}
		return st.Stage.Closed()
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.Nil(t, requested.CutAt, "not cut while only requested")
	require.NotNil(t, requested.Request)
	require.Equal(t, "000000000501", requested.Request.Code)
	require.NotNil(t, cut.CutAt)
	requireSameDay(t, madrid(2026, time.March, 18, 0, 0), *cut.CutDate, "cut date is the executed day")
	require.NotNil(t, reconnecting.ReconnectDueAt, "the reconnection is watched")
	requireSameDay(t, madrid(2026, time.March, 20, 0, 0), *reconnecting.ReconnectDueAt, "due by the end of the day after payment")
	st := h.state()
	require.Nil(t, st.ReconnectDueAt)
	require.Empty(t, st.Attention)
	require.Equal(t, []Stage{StageChecking, StageCutScheduled, StageCutReview, StageCutRequested, StageCut,
		StageReconnectRequested, StageReconnected}, stages(st))
	require.Equal(t, []int64{501, 502}, h.dist.handed, "the 01 and the 03 leave with the ledger's write")
	require.Empty(t, inputs[activities.SendInput](h, "SendToDistributor"), "nothing left to send")
	require.True(t, h.cuts()[0].ATR)
	require.Len(t, h.noticesOf(activities.KindReconnected), 1)
}

// A request the distributor did not take when the ledger wrote it is handed
// over by SendToDistributor, an ordinary activity retried until it goes: the
// 01 and the 03 both leave.
func TestDistributor_RequestNotTakenWithTheWriteIsSentAfter(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 20 * time.Hour, unreachable: true})
	h.approveAndPayWhen(func(st State) bool { return st.Stage == StageCut })
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.Empty(t, h.dist.handed)
	sends := inputs[activities.SendInput](h, "SendToDistributor")
	require.Len(t, sends, 2, "the 01 and the 03 leave")
	require.Equal(t, int64(501), sends[0].RequestID)
	require.Equal(t, int64(502), sends[1].RequestID)
	require.True(t, h.cuts()[0].Send, "the request asked to be handed over with its write")
	settles := inputs[activities.SettleInput](h, "SettleInvoice")
	require.Len(t, settles, 1)
	require.True(t, settles[0].Send)
}

// A payment before the distributor cut cancels the request (B1 03) instead of
// cutting and reconnecting: the case ends paid, never cut.
func TestDistributor_PaidBeforeTheCutCancelsTheRequest(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 72 * time.Hour})
	h.approveAndPayWhen(func(st State) bool {
		return st.Stage == StageCutRequested && st.Request != nil && st.Request.Status == activities.RequestAccepted
	})
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	require.Nil(t, r.CutAt)
	st := h.state()
	require.Equal(t, []Stage{StageChecking, StageCutScheduled, StageCutReview, StageCutRequested, StageCutCancelRequested, StagePaid}, stages(st))
	settles := inputs[activities.SettleInput](h, "SettleInvoice")
	require.Len(t, settles, 1)
	require.Equal(t, string(StageCutCancelRequested), settles[0].Case.Stage)
	require.False(t, h.dist.executed, "the distributor never cut")
	require.True(t, historyMentions(st, "anuló la solicitud de corte"))
	require.Empty(t, h.noticesOf(activities.KindReconnected))
}

// The distributor cut before it read the cancellation: its acceptance of the
// 03 is then the reconnection, and the case says so.
func TestDistributor_CutBeforeTheCancellationWasReadIsReconnected(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 30 * time.Hour, executeAnyway: true})
	h.approveAndPayWhen(func(st State) bool {
		return st.Stage == StageCutRequested && st.Request != nil && st.Request.Status == activities.RequestAccepted
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.NotNil(t, r.CutAt)
	st := h.state()
	require.Equal(t, []Stage{StageChecking, StageCutScheduled, StageCutReview, StageCutRequested, StageCutCancelRequested,
		StageReconnectRequested, StageReconnected}, stages(st))
	require.Len(t, h.noticesOf(activities.KindReconnected), 1)
}

// The distributor cut before it read the cancellation, and neither its 05 nor
// the cut's state with its acceptance of the 03 reached the case (the worker
// recorded them and stopped before it told the case): the case reads the cut
// request from the ledger before it closes as never cut, and the acceptance
// is the reconnection.
func TestDistributor_ACutNeverToldIsReadBeforeClosingAsNotCut(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 30 * time.Hour, executeAnyway: true, untold: true})
	h.approveAndPayWhen(func(st State) bool {
		return st.Stage == StageCutRequested && st.Request != nil && st.Request.Status == activities.RequestAccepted
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.NotNil(t, r.CutAt)
	require.NotEmpty(t, inputs[activities.RequestInput](h, "DistributorRequest"), "the cut read from the ledger")
	st := h.state()
	require.Equal(t, []Stage{StageChecking, StageCutScheduled, StageCutReview, StageCutRequested, StageCutCancelRequested,
		StageReconnectRequested, StageReconnected}, stages(st))
	require.Len(t, h.noticesOf(activities.KindReconnected), 1)
	require.Empty(t, h.noticesOf(activities.KindPaid))
}

// A rejection for a protected supply (table 27, e.g. 32 essential supply):
// the ledger flags the supply point, and the case is held for good; no
// second request leaves.
func TestDistributor_ProtectedRejectionHoldsForGood(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	d := &fakeDistributor{acceptAfter: 5 * time.Hour, reject: "32", class: "never_cut"}
	h.distributorAnswers(d)
	var held State
	h.approveAndPayWhen(func(st State) bool {
		if st.Stage == StageOnHold {
			held = st
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	require.NotNil(t, held.Hold)
	require.True(t, held.Hold.NeverCut)
	require.Contains(t, held.Hold.Reason, "32")
	require.Len(t, h.cuts(), 1, "no second request")
	require.Nil(t, r.CutAt)
}

// A rejection because the supply is already cut joins that cut: the case is
// cut, from the day the distributor says.
func TestDistributor_AlreadyCutRejectionJoinsThatCut(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, reject: "12", class: "already_cut"})
	var cut State
	h.approveAndPayWhen(func(st State) bool {
		if st.Stage == StageCut {
			cut = st
			return true
		}
		return false
	})
	h.run(h.input())

	require.NotNil(t, cut.CutAt)
	requireSameDay(t, madrid(2026, time.March, 18, 0, 0), *cut.CutDate, "cut as of the rejection")
	require.True(t, historyMentions(cut, "ya estaba cortado"))
}

// A technical rejection (C4, not technically possible) raises NeedsAttention
// and holds the case; released, it goes back to review and a new request.
func TestDistributor_TechnicalRejectionNeedsAPerson(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	d := &fakeDistributor{acceptAfter: 5 * time.Hour, reject: "C4", class: "technical"}
	h.distributorAnswers(d)
	var held State
	released := false
	h.watch(time.Hour, func(st State) bool {
		switch {
		case st.Stage == StageCutReview && st.CutApprovedBy == "" && st.Hold == nil:
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		case st.Stage == StageOnHold && !released:
			held, released = st, true
			h.mu.Lock()
			d.reject = "" // the distributor will take the next one
			h.mu.Unlock()
			h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "supervisor"})
		case st.Stage == StageCut:
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-2"})
			return true
		}
		return false
	})
	h.dist.activateAfter = 10 * time.Hour
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.Contains(t, held.Attention, "C4")
	require.False(t, held.Hold.NeverCut)
	require.Len(t, h.cuts(), 2, "a new request after the release")
}

// No answer within the bound (5 working days for the 02): the case asks the
// ledger, then raises NeedsAttention and keeps waiting where everyone sees
// it; the late answer clears it.
func TestDistributor_SilenceRaisesAttention(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	d := &fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 5 * time.Hour, silent: true}
	h.distributorAnswers(d)
	var flagged State
	h.approveAndPayWhen(func(st State) bool {
		if st.Attention != "" && flagged.Stage == "" {
			flagged = st
			h.mu.Lock()
			d.silent = false
			h.mu.Unlock()
		}
		return st.Stage == StageCut
	})
	h.run(h.input())

	require.Equal(t, StageCutRequested, flagged.Stage)
	require.Contains(t, flagged.Attention, "no responde")
	require.Contains(t, flagged.NextAction, "paso 02")
	// Wednesday 18 March + 5 working days (Thursday 19 ... Wednesday 25).
	require.NotNil(t, flagged.AttentionSince)
	requireSameDay(t, madrid(2026, time.March, 25, 0, 0), *flagged.AttentionSince, "raised when the bound passed")
	require.Len(t, inputs[activities.RequestInput](h, "DistributorRequest"), 1, "the ledger was asked first")
	st := h.state()
	require.Empty(t, st.Attention, "cleared by the answer")
}

// A cut executed on a day no cut is allowed (a Friday) is the distributor's
// breach: recorded, and flagged for a person.
func TestDistributor_CutOnAForbiddenDayIsABreach(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	friday := calendar.Date(2026, time.March, 20)
	h.distributorAnswers(&fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 40 * time.Hour, executeOn: &friday})
	var cut State
	h.approveAndPayWhen(func(st State) bool {
		if st.Stage == StageCut {
			cut = st
			return true
		}
		return false
	})
	h.run(h.input())

	require.Contains(t, cut.Breach, "20/03/2026")
	require.Contains(t, cut.Attention, "20/03/2026")
	breaches := inputs[activities.BreachInput](h, "RecordBreach")
	require.Len(t, breaches, 1)
	require.Equal(t, int64(501), breaches[0].RequestID)
}

// The reconnection not accepted by the end of the day after payment raises
// NeedsAttention; the case keeps the due time on its state.
func TestDistributor_ReconnectionOverdueRaisesAttention(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	d := &fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 10 * time.Hour, silentRelease: true}
	h.distributorAnswers(d)
	var late State
	h.approveAndPayWhen(func(st State) bool { return st.Stage == StageCut })
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageReconnectRequested && st.Attention != "" {
			late = st
			h.mu.Lock()
			d.silentRelease = false
			h.mu.Unlock()
			return true
		}
		return st.Stage.Closed()
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.Contains(t, late.Attention, "reconexión no aceptada a tiempo")
	require.NotNil(t, late.ReconnectDueAt)
	require.True(t, late.AttentionSince.After(*late.ReconnectDueAt) || late.AttentionSince.Equal(*late.ReconnectDueAt))
}

// PROCESS "Payments": every payment the case takes is in the ledger, also
// one that comes once the debt is paid (paid twice, or more than was due)
// while the case waits for the distributor's answer to its reconnection: it
// is written when it comes, not when the case closes, which may be days
// later. A case that reached that wait before the change writes it when it
// closes, as it did.
func TestDistributor_PaymentWhileSettledGoesToTheLedgerAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version workflow.Version
	}{{"now", 1}, {"before flush-while-settled", workflow.DefaultVersion}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.setContract(businessContract())
			if tc.version == workflow.DefaultVersion {
				h.env.OnGetVersion(flushWhileSettled, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			d := &fakeDistributor{acceptAfter: 5 * time.Hour, activateAfter: 10 * time.Hour, silentRelease: true}
			h.distributorAnswers(d)
			h.approveAndPayWhen(func(st State) bool { return st.Stage == StageCut })
			var paidAgainAt time.Time
			var whileWaiting []activities.PaymentInput
			var waiting State
			h.watch(time.Hour, func(st State) bool {
				switch {
				case st.Stage == StageReconnectRequested && paidAgainAt.IsZero():
					paidAgainAt = h.env.Now()
					h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 5000, Reference: "TRF-10"})
				case st.Stage == StageReconnectRequested && h.env.Now().Sub(paidAgainAt) >= 3*time.Hour:
					// Still waiting for the 04, three hours after the payment.
					waiting = st
					whileWaiting = inputs[activities.PaymentInput](h, "RecordPayment")
					h.mu.Lock()
					d.silentRelease = false
					h.mu.Unlock()
					return true
				}
				return st.Stage.Closed()
			})
			r := h.run(h.input())

			require.Equal(t, StageReconnected, r.Stage)
			require.Equal(t, StageReconnectRequested, waiting.Stage)
			require.Zero(t, waiting.AmountDueCents)
			refs := func(ps []activities.PaymentInput) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.Reference)
				}
				return out
			}
			if tc.version == workflow.DefaultVersion {
				require.Equal(t, []string{"TRF-9"}, refs(whileWaiting), "before the change: written at the close")
			} else {
				require.Equal(t, []string{"TRF-9", "TRF-10"}, refs(whileWaiting), "written while the case waits")
				require.Equal(t, "reconexión aceptada por la distribuidora (paso 04)", waiting.NextAction, "the wait goes on after the payment")
			}
			require.Equal(t, []string{"TRF-9", "TRF-10"}, refs(inputs[activities.PaymentInput](h, "RecordPayment")), "every payment in the ledger at the end")
			require.Equal(t, testAmount+5000, r.PaidCents, "the overpayment counts in what was paid")
		})
	}
}

// A case started before the distributor spoke ATR keeps its path when it
// reaches its cut: its request carries no ATR message, and it is cut when the
// request is written.
func TestDistributor_CasesStartedBeforeKeepTheirPath(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.env.OnGetVersion(localLedger, workflow.DefaultVersion, localNotices).Return(workflow.DefaultVersion)
	h.env.OnGetVersion(distributorATR, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.dist = &fakeDistributor{}
	h.reviewAndPay()
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.False(t, h.cuts()[0].ATR, "no B1 message for a case started before")
	require.Empty(t, inputs[activities.SendInput](h, "SendToDistributor"))
	st := h.state()
	require.Equal(t, []Stage{StageCut, StageReconnecting, StageReconnected}, stages(st)[len(stages(st))-3:])
}
