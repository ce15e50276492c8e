package workflows

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// updateResult is what a clerk's update got back from the case.
type updateResult struct {
	done     bool
	rejected error // refused by the validator: nothing in the history
	answer   Answer
	err      error // refused by the handler
}

// update sends a clerk's update at a simulated moment.
func (h *harness) update(when time.Time, name string, arg any) *updateResult {
	h.t.Helper()
	res := &updateResult{}
	h.at(when, func() {
		h.env.UpdateWorkflow(name, fmt.Sprintf("%s-%d", name, when.UnixNano()), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { res.done, res.rejected = true, err },
			OnComplete: func(v any, err error) {
				res.done, res.err = true, err
				switch v := v.(type) {
				case Answer:
					res.answer = v
				case *commonpb.Payloads:
					require.NoError(h.t, converter.GetDefaultDataConverter().FromPayloads(v, &res.answer))
				}
			},
		}, arg)
	})
	return res
}

func refusal(reason, detail string, until *time.Time) *activities.CutRefusal {
	return &activities.CutRefusal{Reason: reason, Detail: detail, Until: until}
}

// PROCESS "The cut, at the moment it is requested": the ledger found the
// invoice paid (a payments import the case had not heard of): no cut, the
// case settles.
func TestCutRefused_NothingDueInTheLedgerSettles(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.refuseCut = func(activities.CutInput) *activities.CutRefusal {
		return refusal(activities.RefusedNothingDue, "pendiente 0,00 € según el registro", nil)
	}
	h.reviewAndPay()
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	require.Nil(t, r.CutAt, "no cut")
	require.Len(t, h.cuts(), 1, "asked once, refused")
	require.True(t, historyMentions(h.state(), "el registro rechaza el corte", "nothing_due"))
}

// PROCESS "Allowed cut days": the request left on an allowed day by the
// case's clock but reached the ledger on a day that is not (delayed past
// midnight into a Friday): the case waits for the next allowed day in
// cut_blocked and goes back to review, the approval being for another day.
func TestCutRefused_NotACutDayWaitsAndReviewsAgain(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // review Wednesday 18 March
	monday := calendar.Date(2026, time.March, 23)
	h.refuseCut = func(in activities.CutInput) *activities.CutRefusal {
		if in.ApprovedBy == "rocio" {
			return refusal(activities.RefusedNotCutDay, "viernes 20/03/2026: no es día de corte", &monday)
		}
		return nil
	}
	h.at(madrid(2026, time.March, 19, 10, 0), func() {
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	var blocked, review State
	h.at(madrid(2026, time.March, 21, 12, 0), func() { blocked = h.state() })
	h.at(madrid(2026, time.March, 23, 10, 0), func() {
		review = h.state()
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "marta"})
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-20"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageCutBlocked, blocked.Stage)
	require.Equal(t, StageCutReview, review.Stage, "back to review after the refusal")
	require.Empty(t, review.CutApprovedBy)
	cuts := h.cuts()
	require.Len(t, cuts, 2)
	require.Equal(t, "marta", cuts[1].ApprovedBy)
	requireSameTime(t, madrid(2026, time.March, 23, 10, 0), cuts[1].At, "cut on the new approval")
	require.Equal(t, StageReconnected, r.Stage)
}

// PROCESS "The cut, at the moment it is requested": a hold the ledger knows
// of stops the request; the case waits on hold and, once released, goes back
// to review.
func TestCutRefused_OnHoldInTheLedgerWaitsForRelease(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	first := true
	h.refuseCut = func(activities.CutInput) *activities.CutRefusal {
		if first {
			first = false
			return refusal(activities.RefusedOnHold, "en espera: cliente llama para pagar (luis)", nil)
		}
		return nil
	}
	var held State
	h.at(madrid(2026, time.March, 18, 12, 0), func() {
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.at(madrid(2026, time.March, 18, 13, 0), func() { held = h.state() })
	h.at(madrid(2026, time.March, 19, 10, 0), func() {
		h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "luis"})
	})
	h.at(madrid(2026, time.March, 19, 11, 0), func() {
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-21"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageOnHold, held.Stage)
	require.Contains(t, held.Hold.Reason, "cliente llama para pagar")
	require.Len(t, h.cuts(), 2)
	require.Equal(t, StageReconnected, r.Stage)
	holds := inputs[activities.HoldInput](h, "RecordHold")
	require.NotEmpty(t, holds)
	require.False(t, holds[len(holds)-1].On, "the release left the ledger's hold")
}

// PROCESS "The cut, at the moment it is requested": every payment the case
// has received goes to the ledger before the request, in that order, so the
// ledger's check sees it.
func TestCutRequest_PaymentsReceivedBeforeAreRecordedFirst(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.at(madrid(2026, time.March, 18, 12, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 4000, Reference: "TRF-22"})
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-23"})
			return true
		}
		return false
	})
	h.run(h.input())

	h.mu.Lock()
	defer h.mu.Unlock()
	paid, cut := -1, -1
	for i, c := range h.calls {
		if c.Activity == "RecordPayment" && paid < 0 {
			paid = i
		}
		if c.Activity == "RequestCut" && cut < 0 {
			cut = i
		}
	}
	require.GreaterOrEqual(t, paid, 0)
	require.Less(t, paid, cut, "payment recorded before the cut request")
	req := h.calls[cut].Input.(activities.CutInput)
	require.True(t, req.Checked)
	require.Equal(t, testAmount-4000, req.Case.AmountDueCents)
	require.NotNil(t, req.Rules.NotBefore, "the date the cut letter told")
	requireSameDay(t, calendar.Date(2026, time.March, 18), *req.Rules.NotBefore, "not before the letter's date")
}

// PROCESS "Actors": a clerk's payment gets the case's real answer, recorded
// in the ledger before it is given.
func TestPaidUpdate_AnswersWhatThePaymentDid(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	partial := h.update(madrid(2026, time.March, 5, 10, 0), UpdatePaid, PaidSignal{AmountCents: 2345, Reference: "TRF-30"})
	again := h.update(madrid(2026, time.March, 5, 11, 0), UpdatePaid, PaidSignal{AmountCents: 2345, Reference: "TRF-30",
		PaidAt: madrid(2026, time.March, 5, 10, 0)})
	tooMuch := h.update(madrid(2026, time.March, 5, 12, 0), UpdatePaid, PaidSignal{AmountCents: MaxPaymentCents + 1})
	var rest *updateResult
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut && rest == nil {
			rest = h.update(h.env.Now().Add(time.Hour), UpdatePaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-31"})
			return true
		}
		if st.Stage == StageCutReview && st.CutApprovedBy == "" {
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		}
		return false
	})
	r := h.run(h.input())

	require.True(t, partial.done)
	require.NoError(t, partial.err)
	require.Equal(t, "recorded", partial.answer.Outcome)
	require.Equal(t, testAmount-2345, partial.answer.AmountDueCents)
	require.Contains(t, partial.answer.Detail, "recorded: 100,00 € due")
	require.True(t, again.done)
	require.Equal(t, "duplicate", again.answer.Outcome, "the same transfer reported twice counts once")
	require.Error(t, tooMuch.rejected, "a payment beyond any invoice is refused before the history")
	require.NotNil(t, rest)
	require.True(t, rest.done)
	require.NoError(t, rest.err)
	require.Contains(t, rest.answer.Detail, "reconnection requested")
	require.Equal(t, StageReconnected, r.Stage)
	require.Len(t, inputs[activities.PaymentInput](h, "RecordPayment"), 2)
}

// PROCESS "Actors": an approval outside review, a hold after the cut, a
// release of a case not on hold are refused with the case's reason.
func TestClerkUpdates_RefusedWithTheReason(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	early := h.update(madrid(2026, time.March, 5, 10, 0), UpdateApproveCut, ApproveCutSignal{By: "rocio"})
	release := h.update(madrid(2026, time.March, 5, 11, 0), UpdateRelease, ReleaseSignal{By: "luis"})
	approve := h.update(madrid(2026, time.March, 18, 10, 0), UpdateApproveCut, ApproveCutSignal{By: "rocio"})
	late := h.update(madrid(2026, time.March, 18, 11, 0), UpdateHold, HoldSignal{Reason: "llamó", By: "luis"})
	h.at(madrid(2026, time.March, 19, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-32"})
	})
	h.run(h.input())

	require.ErrorContains(t, early.rejected, "not under review (stage cut_scheduled)")
	require.ErrorContains(t, release.rejected, "not on hold")
	require.NoError(t, approve.rejected)
	require.NoError(t, approve.err)
	require.Equal(t, "approved", approve.answer.Outcome)
	require.Contains(t, approve.answer.Detail, "cut requested")
	require.ErrorContains(t, late.rejected, "nothing left to hold (stage cut)")
}

// PROCESS "Actors": a hold the ledger refuses, because the cut was requested
// while the hold was on its way, is refused to the clerk.
func TestHoldUpdate_RefusedByTheLedgerOnceCut(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.holdResult = func(activities.HoldInput) activities.HoldResult {
		return activities.HoldResult{Detail: "corte ya solicitado para esta factura"}
	}
	hold := h.update(madrid(2026, time.March, 10, 10, 0), UpdateHold, HoldSignal{Reason: "llamó", By: "luis"})
	h.reviewAndPay()
	h.run(h.input())

	require.True(t, hold.done)
	require.ErrorContains(t, hold.err, "corte ya solicitado")
	require.Len(t, h.cuts(), 1, "the case went on to its cut")
}

// PROCESS "No case waits forever on an error": a payment the ledger refuses
// (a reference that records another payment) is taken back from the amount
// due at once and never retried.
func TestPaymentRefusedByTheLedger_IsTakenBack(t *testing.T) {
	h := newHarness(t, tuesday)
	h.paymentErr = func(in activities.PaymentInput) error {
		if in.Reference == "TRF-BAD" {
			r := activities.PaymentRefusal{Key: in.Key, Detail: "la clave ya registra otro pago"}
			return temporal.NewNonRetryableApplicationError(r.Error(), activities.ErrPaymentRefused, nil, r)
		}
		return nil
	}
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-BAD"})
	})
	var after State
	h.at(madrid(2026, time.March, 4, 11, 0), func() { after = h.state() })
	h.at(madrid(2026, time.March, 5, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-OK"})
	})
	r := h.run(h.input())

	require.Equal(t, testAmount, after.AmountDueCents, "the refused payment no longer lowers the amount due")
	require.True(t, historyMentions(after, "pago no registrado", "otro pago"))
	require.Empty(t, after.Attention)
	require.Equal(t, StagePaid, r.Stage)
	require.Len(t, inputs[activities.PaymentInput](h, "RecordPayment"), 2, "refused once, never retried")
}

// PROCESS "No case waits forever on an error": the database away for two
// hours makes the case raise NeedsAttention after the policy's bound, on top
// of its stage; the flag clears when the activity succeeds.
func TestNeedsAttention_RaisedAfterTheBoundAndCleared(t *testing.T) {
	h := newHarness(t, tuesday)
	back := tuesday.Add(2 * time.Hour)
	h.lookupErr = func() error {
		if h.env.Now().Before(back) {
			return errors.New("connect: connection refused")
		}
		return nil
	}
	var flagged State
	h.at(tuesday.Add(90*time.Minute), func() { flagged = h.state() })
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-40"})
	})
	r := h.run(h.input())

	require.Equal(t, StageChecking, flagged.Stage, "the stage stays; the flag is on top")
	require.Contains(t, flagged.Attention, "buscar contrato")
	require.Contains(t, flagged.Attention, "connection refused")
	st := h.state()
	require.Empty(t, st.Attention)
	require.True(t, historyMentions(st, "atención resuelta"))
	require.Equal(t, StagePaid, r.Stage)
}

// PROCESS "Vulnerable consumers": a household flagged Bono Social after the
// formal demand waits 4 months from the proven demand, not 2, then keeps the
// Suministro Mínimo Vital.
func TestBonoSocial_FlaggedDuringTheWaitGetsFourMonths(t *testing.T) {
	h := newHarness(t, tuesday) // formal demand 17 March
	h.at(madrid(2026, time.April, 1, 12, 0), func() {
		k := domesticContract()
		k.BonoSocial = true
		h.setContract(k)
	})
	var at2months State
	h.at(madrid(2026, time.May, 25, 12, 0), func() { at2months = h.state() })
	h.reviewAndPay()
	h.run(h.input())

	require.Equal(t, StageNotice3, at2months.Stage, "still in the regulatory wait after 2 months")
	st := h.state()
	requireSameDay(t, calendar.Date(2026, time.July, 17), firstEvent(t, st, StageMinimumSupply).At, "4 months after the demand")
	requireSameDay(t, calendar.Date(2027, time.January, 17), firstEvent(t, st, StageCutScheduled).At, "then 6 of minimum supply")
}

// PROCESS "The cut, at the moment it is requested": the regulatory wait runs
// from the day the formal demand is proven to have reached the customer.
func TestRegulatoryWait_CountsFromTheProvenDay(t *testing.T) {
	h := newHarness(t, tuesday) // formal demand 17 March
	received := calendar.Date(2026, time.April, 6)
	h.proof = func() activities.ProofStatus {
		if h.env.Now().Before(received) {
			return activities.ProofStatus{}
		}
		return activities.ProofStatus{Proven: true, ProvenOn: &received, Kind: activities.ProofAcknowledge, Summary: "acuse"}
	}
	h.at(madrid(2026, time.April, 6, 12, 0), func() {
		h.env.SignalWorkflow(SignalProofRecorded, ProofRecordedSignal{By: "ana"})
	})
	h.reviewAndPay()
	h.run(h.input())

	st := h.state()
	requireSameDay(t, calendar.Date(2026, time.June, 6), firstEvent(t, st, StageCutScheduled).At, "2 months from the proven day")
	require.Len(t, h.cuts(), 1)
}

// PROCESS "Vulnerable consumers": a decreed ban covering the consumer on the
// cut day makes the cut wait, visibly, until the ban ends.
func TestCutBan_CutWaitsUntilTheBanEnds(t *testing.T) {
	h := newHarness(t, tuesday) // ordinary domestic: cut would be 20 May
	in := h.input()
	in.Policy.CutBans = []activities.CutBan{{
		Name: "prohibición de cortes de prueba", From: calendar.Date(2026, time.May, 1), To: calendar.Date(2026, time.May, 31),
		Classes: []string{activities.ClassDomestic},
	}}
	var banned State
	h.at(madrid(2026, time.May, 25, 12, 0), func() { banned = h.state() })
	h.reviewAndPay()
	h.run(in)

	require.Equal(t, StageCutBlocked, banned.Stage)
	require.True(t, historyMentions(banned, "prohibición de cortes de prueba"))
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.False(t, cuts[0].At.Before(calendar.Date(2026, time.June, 1)), "cut at %s, inside the ban", cuts[0].At)
	require.Len(t, cuts[0].Rules.Bans, 1, "the ledger checks the ban too")
}

// PROCESS "Allowed cut days": past the last year of holiday data a case does
// not guess a cut day: it waits with NeedsAttention until the calendar is there.
func TestCalendarMissing_RaisesAttentionInsteadOfGuessing(t *testing.T) {
	h := newHarness(t, madrid(2026, time.December, 18, 10, 30))
	k := businessContract()
	k.CalendarThrough = 2026
	h.setContract(k) // the cut letter would be dated Monday 4 January 2027
	var flagged State
	h.at(madrid(2026, time.December, 20, 12, 0), func() {
		flagged = h.state()
		k := businessContract()
		k.CalendarThrough = 2027
		h.setContract(k)
	})
	h.reviewAndPay()
	h.run(h.input())

	require.Equal(t, StageCutBlocked, flagged.Stage)
	require.Contains(t, flagged.Attention, "falta el calendario de 2027")
	require.Empty(t, h.state().Attention)
	require.Len(t, h.cuts(), 1)
}

// PROCESS "Actors": a case cancelled by a person closes its invoice as
// cancelled in the ledger and sends nothing more.
func TestCancel_ClosesTheInvoiceAsCancelled(t *testing.T) {
	h := newHarness(t, tuesday)
	h.at(madrid(2026, time.March, 12, 12, 0), func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(ReturnedInvoice, h.input())

	require.True(t, h.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, h.env.GetWorkflowError(), &canceled)
	cancels := inputs[activities.CancelInput](h, "CancelCase")
	require.Len(t, cancels, 1)
	require.Equal(t, string(StageCancelled), cancels[0].Case.Stage)
	require.Len(t, h.noticesOf(activities.KindAviso2), 1)
	require.Empty(t, h.noticesOf(activities.KindRequerimiento), "nothing sent after the cancellation")
	require.Equal(t, StageCancelled, h.state().Stage)
}

// PROCESS step 8: a payment that arrives while the case is closing still
// reaches the ledger.
func TestPaymentWhileClosing_StillRecorded(t *testing.T) {
	h := newHarness(t, tuesday)
	h.settleDelay = time.Minute
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-50"})
	})
	h.at(madrid(2026, time.March, 4, 10, 0).Add(30*time.Second), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 500, Reference: "TRF-51"})
	})
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	keys := []string{}
	for _, p := range inputs[activities.PaymentInput](h, "RecordPayment") {
		keys = append(keys, p.Reference)
	}
	require.Equal(t, []string{"TRF-50", "TRF-51"}, keys, "the late payment is in the ledger too")
	require.Equal(t, testAmount+500, r.PaidCents)
}

// PROCESS "Actors": an approval whose case is paid before anything came of
// it is still answered, and never keeps the case from closing.
func TestApproveUpdate_AnsweredWhenAPaymentClosesTheCase(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	approve := &updateResult{}
	h.at(madrid(2026, time.March, 18, 12, 0), func() {
		h.env.UpdateWorkflow(UpdateApproveCut, "approve", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { approve.done, approve.rejected = true, err },
			OnComplete: func(_ any, err error) { approve.done, approve.err = true, err },
		}, ApproveCutSignal{By: "rocio"})
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-60"})
	})
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	require.Empty(t, h.cuts())
	require.True(t, approve.done, "the approval got an answer")
	require.NoError(t, approve.rejected)
	require.NoError(t, approve.err)
}

// PROCESS "Actors": a hold released while the ledger was recording it leaves
// neither the case nor the ledger on hold.
func TestHold_ReleasedWhileTheLedgerRecordsIt(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	first := true
	h.holdResult = func(in activities.HoldInput) activities.HoldResult {
		if in.On && first {
			first = false
			h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "luis"})
		}
		return activities.HoldResult{Applied: true}
	}
	h.at(madrid(2026, time.March, 10, 12, 0), func() {
		h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "revisar", By: "luis"})
	})
	h.reviewAndPay()
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	holds := inputs[activities.HoldInput](h, "RecordHold")
	require.NotEmpty(t, holds)
	require.False(t, holds[len(holds)-1].On, "the ledger's hold was lifted")
}

// PROCESS "Vulnerable consumers": a Bono Social household lives its months
// of Suministro Mínimo Vital with the power limited before any cut, however
// late the proof of the formal demand came. Here the acuse is recorded eleven
// months after the demand (its window of 4 + 6 months long past): the
// limitation is asked at once, and the cut comes six months after it.
func TestBonoSocial_LateProofStillGetsTheWholeMinimumSupply(t *testing.T) {
	h := newHarness(t, tuesday) // formal demand 17 March 2026
	k := domesticContract()
	k.BonoSocial = true
	h.setContract(k)
	received := calendar.Date(2026, time.March, 19)
	recorded := madrid(2027, time.February, 10, 12, 0)
	h.proof = func() activities.ProofStatus {
		if h.env.Now().Before(recorded) {
			return activities.ProofStatus{}
		}
		return activities.ProofStatus{Proven: true, ProvenOn: &received, Kind: activities.ProofAcknowledge, Summary: "acuse"}
	}
	h.at(recorded, func() { h.env.SignalWorkflow(SignalProofRecorded, ProofRecordedSignal{By: "ana"}) })
	h.reviewAndPayEvery(6 * time.Hour) // the case runs for a year and a half
	h.run(h.input())

	st := h.state()
	limits := h.callTimes("RequestPowerLimit")
	require.Len(t, limits, 1, "the limitation is asked, late as the proof came")
	requireSameDay(t, recorded, limits[0], "asked when the proof was recorded")
	requireSameDay(t, recorded, firstEvent(t, st, StageMinimumSupply).At, "minimum supply from then")
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.False(t, cuts[0].At.Before(inMadrid(recorded, 6, 0)), "cut at %s, within six months of the limitation", cuts[0].At)
}

// A limitation the ledger refuses (a hold it holds, say) is asked again the
// next day, and the months of minimum supply run from the one it took: no
// case leaves them with the power never limited.
func TestBonoSocial_RefusedLimitationAskedAgain(t *testing.T) {
	h := newHarness(t, tuesday) // formal demand 17 March: minimum supply from 17 July
	k := domesticContract()
	k.BonoSocial = true
	h.setContract(k)
	refusals := 0
	h.refuseLimit = func(activities.LimitInput) *activities.CutRefusal {
		if refusals < 2 {
			refusals++
			return refusal(activities.RefusedOnHold, "espera en el registro", nil)
		}
		return nil
	}
	h.reviewAndPayEvery(6 * time.Hour)
	h.run(h.input())

	asked := h.callTimes("RequestPowerLimit")
	require.Len(t, asked, 3, "asked until the ledger took it")
	requireSameDay(t, calendar.Date(2026, time.July, 17), asked[0], "first asked at the end of the wait")
	requireSameDay(t, calendar.Date(2026, time.July, 19), asked[2], "taken two days later")
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.False(t, cuts[0].At.Before(inMadrid(asked[2], 6, 0)), "cut at %s, within six months of the limitation taken", cuts[0].At)
}

// A ledger call that fails as a local activity (Postgres slow to answer, a row
// locked by another case of the supply point) is run again as an ordinary
// activity, retried as before, and the case goes on without a flag.
func TestLocalLedger_FallsBackToAnActivity(t *testing.T) {
	h := newHarness(t, tuesday)
	h.lookupLocalErr = errors.New("canceling statement due to lock timeout")
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-41"})
	})
	r := h.run(h.input())

	local, ordinary := localAndOrdinary[activities.LookupInput](h, "LookupContract")
	require.Positive(t, len(local), "no local attempt")
	require.Positive(t, len(ordinary), "no ordinary activity after the local one failed")
	require.NotEmpty(t, h.callsOf("SendNotice"), "the first notice did not leave")
	require.Equal(t, StagePaid, r.Stage)
	require.Empty(t, h.state().Attention)
}

// A case started with localNotices sends each notice by a local activity, in
// the workflow task that decides it; one started before keeps the ordinary
// activity it began with.
func TestLocalNotices_SentInTheTaskThatDecidesThem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ledger workflow.Version
		local  bool
	}{
		{"localNotices", localNotices, true},
		{"localLedger before it", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.env.OnGetVersion(localLedger, workflow.DefaultVersion, localNotices).Return(tc.ledger)
			h.at(madrid(2026, time.March, 12, 10, 0), func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-42"})
			})
			r := h.run(h.input())

			require.Equal(t, StagePaid, r.Stage)
			sends := h.callsOf("SendNotice")
			require.Len(t, sends, 3, "aviso 1, aviso 2 and the payment's confirmation")
			for _, c := range sends {
				require.Equal(t, tc.local, c.Local, "%s", c.Input.(activities.NoticeInput).Kind)
			}
			require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindPaid}, kinds(h.notices()))
		})
	}
}

// A notice whose local activity does not succeed within its bound is sent by
// the ordinary activity, with the same idempotency key: the customer gets it
// once, and the case goes on.
func TestLocalNotices_FallBackToAnActivity(t *testing.T) {
	h := newHarness(t, tuesday)
	h.noticeLocalErr = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-43"})
	})
	r := h.run(h.input())

	local, ordinary := localAndOrdinary[activities.NoticeInput](h, "SendNotice")
	require.NotEmpty(t, local, "no local attempt")
	require.Equal(t, []string{activities.KindAviso1, activities.KindPaid}, kinds(ordinary), "each notice once by the ordinary activity")
	require.Equal(t, StagePaid, r.Stage)
	require.Empty(t, h.state().Attention)
	require.Len(t, h.state().Notices, 3, "aviso 1 by WhatsApp and e-mail, the confirmation by e-mail")
}

// A notice the case does not know of, because the workflow task whose local
// activity sent it was never recorded and the task run again took another
// path, is in the outbox: the settlement says so (Notified), and the payment
// is confirmed as after any notice.
func TestSettle_ConfirmsAPaymentAfterANoticeOnlyTheLedgerKnows(t *testing.T) {
	for _, notified := range []bool{true, false} {
		t.Run(fmt.Sprintf("notified %v", notified), func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.ledgerPaid = testAmount // paid at the check, before the case sent anything
			h.setSettle(func(activities.SettleInput) activities.SettleResult {
				return activities.SettleResult{Notified: notified}
			})
			r := h.run(h.input())

			require.Equal(t, StagePaid, r.Stage)
			if notified {
				require.Equal(t, []string{activities.KindPaid}, kinds(h.notices()))
				require.Len(t, h.callsOf("LookupContract"), 1, "the contract read for the confirmation")
			} else {
				require.Empty(t, h.notices(), "paid before anything was sent: nothing to confirm")
			}
		})
	}
}

// E-mails of its run the case does not know of, still pending or left
// sending by an attempt cut short (a workflow task the server lost stored and
// claimed them), are delivered when it settles, before it closes; those it
// knows of are its own deliveries' to follow.
func TestSettle_DeliversTheEmailsOfNoticesOnlyTheLedgerKnows(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.setSettle(func(activities.SettleInput) activities.SettleResult {
		return activities.SettleResult{Notified: true, Unsent: []int64{9001, 9002, 1}}
	})
	h.at(madrid(2026, time.March, 4, 10, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-44"})
	})
	r := h.run(h.input())

	require.Equal(t, StagePaid, r.Stage)
	var lost []activities.DeliverInput
	h.mu.Lock()
	for _, d := range h.deliveries {
		if slices.Contains(d.OutboxIDs, 9001) {
			lost = append(lost, d)
		}
	}
	h.mu.Unlock()
	require.Len(t, lost, 1, "one DeliverNotice for the e-mails the case did not know of")
	require.Equal(t, []int64{9001, 9002}, lost[0].OutboxIDs, "outbox #1 is the case's own cut letter")
	require.Equal(t, int64(1), h.state().Notices[0].OutboxID)
	require.Len(t, h.noticesOf(activities.KindPaid), 1)
}
