package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

// withReturn is the default case started by a bank's return file.
func (h *harness) withReturn(reason string, path ReturnPath) Input {
	in := h.input()
	in.Return = &BankReturn{Reason: reason, Path: path, File: "BANK-MSG-1"}
	return in
}

// payAt pays the whole invoice at a simulated moment.
func (h *harness) payAt(when time.Time, ref string) {
	h.at(when, func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: ref})
	})
}

// stateAt queries the case at a simulated moment into *st.
func (h *harness) stateAt(when time.Time, st *State) {
	h.at(when, func() { *st = h.state() })
}

// PROCESS "Why the bank returned it": no funds (AM04) is the normal process;
// the reason is on the state and nothing asks for a new IBAN.
func TestBankReturn_NoFundsGoesTheNormalWay(t *testing.T) {
	h := newHarness(t, tuesday)
	var during State
	h.stateAt(madrid(2026, time.March, 11, 12, 0), &during)
	h.payAt(madrid(2026, time.March, 12, 10, 0), "TRF-40")
	r := h.run(h.withReturn("AM04", PathFunds))

	require.Equal(t, StagePaid, r.Stage)
	require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindPaid}, noticeKinds(h))
	for _, n := range h.notices() {
		require.False(t, n.NewMandate, "%s asks for a new mandate", n.Kind)
	}
	require.NotNil(t, during.Return)
	require.Equal(t, "AM04", during.Return.Reason)
	require.Equal(t, StageNotice2, during.Stage)
	require.Empty(t, during.Task)
	require.Empty(t, inputs[activities.HoldInput](h, "RecordHold"), "nothing held")
}

// PROCESS "Why the bank returned it": a disputed charge (MD06) is on hold for
// a person before any notice, the hold in the ledger so no cut passes it; no
// notice goes out until a person releases it, then the process goes on.
func TestBankReturn_DisputedIsHeldBeforeAnyNoticeUntilAPersonReleases(t *testing.T) {
	h := newHarness(t, tuesday)
	var held State
	h.stateAt(madrid(2026, time.March, 20, 12, 0), &held)
	release := h.update(madrid(2026, time.March, 23, 10, 0), UpdateRelease, ReleaseSignal{By: "luis"})
	h.payAt(madrid(2026, time.March, 25, 10, 0), "TRF-41")
	r := h.run(h.withReturn("MD06", PathDisputed))

	require.Equal(t, StageOnHold, held.Stage, "held, three weeks on")
	require.NotNil(t, held.Hold)
	require.Contains(t, held.Hold.Reason, "MD06")
	require.Empty(t, held.Attention, "a dispute is a person's decision, not an error")
	holds := inputs[activities.HoldInput](h, "RecordHold")
	require.NotEmpty(t, holds)
	require.True(t, holds[0].On, "the hold went to the ledger")
	require.NoError(t, release.err)
	require.Equal(t, "released", release.answer.Outcome)
	notices := h.notices()
	require.NotEmpty(t, notices)
	for _, n := range notices {
		require.False(t, n.At.Before(madrid(2026, time.March, 23, 10, 0)), "%s sent at %s while the charge was disputed", n.Kind, n.At)
	}
	require.Equal(t, activities.KindAviso1, notices[0].Kind, "the process starts over from aviso 1 once released")
	require.Equal(t, StagePaid, r.Stage)
}

// PROCESS "Why the bank returned it": a closed account (AC04) follows the
// normal process and asks for a new IBAN or mandate in every notice, and the
// clerks get the task.
func TestBankReturn_AccountAsksForANewIBANOrMandate(t *testing.T) {
	h := newHarness(t, tuesday)
	var during State
	h.stateAt(madrid(2026, time.March, 11, 12, 0), &during)
	h.payAt(madrid(2026, time.March, 12, 10, 0), "TRF-42")
	r := h.run(h.withReturn("AC04", PathAccount))

	require.Equal(t, StagePaid, r.Stage)
	require.Equal(t, TaskNewMandate, during.Task)
	require.Equal(t, StageNotice2, during.Stage, "the normal process")
	for _, n := range h.notices() {
		if n.Kind == activities.KindPaid {
			continue
		}
		require.True(t, n.NewMandate, "%s does not ask for a new IBAN or mandate", n.Kind)
	}
}

// PROCESS "Why the bank returned it": a deceased holder (MD07) is on hold for
// a person; a payment (the heirs) still closes the case.
func TestBankReturn_DeceasedIsHeld(t *testing.T) {
	h := newHarness(t, tuesday)
	var held State
	h.stateAt(madrid(2026, time.April, 20, 12, 0), &held)
	h.payAt(madrid(2026, time.April, 21, 10, 0), "TRF-43")
	r := h.run(h.withReturn("MD07", PathDeceased))

	require.Equal(t, StageOnHold, held.Stage)
	require.Contains(t, held.Hold.Reason, "fallecido")
	require.Empty(t, h.notices(), "nothing was sent")
	require.Equal(t, StagePaid, r.Stage)
}

// PROCESS "Why the bank returned it": the retailer's own error (AM05, a
// duplicate) holds the case with NeedsAttention and nothing goes to the
// customer, not even a confirmation.
func TestBankReturn_OurErrorHoldsWithAttentionAndSendsNothing(t *testing.T) {
	h := newHarness(t, tuesday)
	var held State
	h.stateAt(madrid(2026, time.March, 20, 12, 0), &held)
	h.payAt(madrid(2026, time.March, 21, 10, 0), "TRF-44")
	r := h.run(h.withReturn("AM05", PathOurError))

	require.Equal(t, StageOnHold, held.Stage)
	require.True(t, held.Hold.Silent)
	require.Contains(t, held.Attention, "AM05")
	require.Empty(t, h.notices(), "nothing is sent to the customer")
	require.Equal(t, StagePaid, r.Stage)
}

// A bank's reason that reaches a case already open (started from a TRADE
// export) sets its path there: a dispute after aviso 1 holds it, the clerk's
// command gets that answer, and no further notice goes out.
func TestBankReturnUpdate_DisputeReachesAnOpenCase(t *testing.T) {
	h := newHarness(t, tuesday)
	u := h.update(madrid(2026, time.March, 5, 10, 0), UpdateBankReturn, BankReturn{Reason: "MS02", Path: PathDisputed, Originator: "debtor", By: "importación de devoluciones"})
	var held State
	h.stateAt(madrid(2026, time.April, 30, 12, 0), &held)
	h.payAt(madrid(2026, time.May, 4, 10, 0), "TRF-45")
	r := h.run(h.input())

	require.True(t, u.done)
	require.NoError(t, u.rejected)
	require.NoError(t, u.err)
	require.Equal(t, "on_hold", u.answer.Outcome)
	require.Equal(t, StageOnHold, u.answer.Stage, "the answer comes once the case is held")
	require.Contains(t, u.answer.Detail, "path disputed")
	require.Equal(t, StageOnHold, held.Stage)
	require.Equal(t, "MS02", held.Return.Reason)
	require.Equal(t, []string{activities.KindAviso1, activities.KindPaid}, noticeKinds(h),
		"nothing after aviso 1 but the payment's confirmation")
	require.Equal(t, StagePaid, r.Stage)
}

// The retailer's own error found after notices went out: the case stops,
// NeedsAttention is raised, and the payment's confirmation is not sent.
func TestBankReturnUpdate_OurErrorSilencesAnOpenCase(t *testing.T) {
	h := newHarness(t, tuesday)
	u := h.update(madrid(2026, time.March, 5, 10, 0), UpdateBankReturn, BankReturn{Reason: "RR01", Path: PathOurError})
	h.payAt(madrid(2026, time.March, 20, 10, 0), "TRF-46")
	r := h.run(h.input())

	require.NoError(t, u.err)
	require.Equal(t, "on_hold", u.answer.Outcome)
	require.Equal(t, []string{activities.KindAviso1}, noticeKinds(h), "no confirmation after our own error")
	require.True(t, historyMentions(h.state(), "confirmación de pago no enviada"))
	require.Equal(t, StagePaid, r.Stage)
}

// A bank's reason is refused with why: the same one twice, an unknown path,
// a closed case; one that comes once the cut is with the distributor cannot
// hold the case, so it flags it for a person.
func TestBankReturnUpdate_RefusalsAndTooLateToHold(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	first := h.update(madrid(2026, time.March, 4, 10, 0), UpdateBankReturn, BankReturn{Reason: "AC06", Path: PathAccount})
	again := h.update(madrid(2026, time.March, 4, 11, 0), UpdateBankReturn, BankReturn{Reason: "AC06", Path: PathAccount})
	unknown := h.update(madrid(2026, time.March, 4, 12, 0), UpdateBankReturn, BankReturn{Reason: "XX99", Path: "maybe"})
	approve := h.update(madrid(2026, time.March, 18, 10, 0), UpdateApproveCut, ApproveCutSignal{By: "rocio"})
	late := h.update(madrid(2026, time.March, 18, 11, 0), UpdateBankReturn, BankReturn{Reason: "MD06", Path: PathDisputed})
	var after State
	h.stateAt(madrid(2026, time.March, 18, 12, 0), &after)
	h.payAt(madrid(2026, time.March, 19, 10, 0), "TRF-47")
	r := h.run(h.input())
	closed := h.state()

	require.NoError(t, first.err)
	require.Equal(t, "path_set", first.answer.Outcome)
	require.ErrorContains(t, again.rejected, "already recorded")
	require.ErrorContains(t, unknown.rejected, "unknown return path")
	require.NoError(t, approve.err)
	require.NoError(t, late.rejected)
	require.NoError(t, late.err)
	require.Equal(t, "path_set", late.answer.Outcome)
	require.Contains(t, late.answer.Detail, "not held")
	require.Contains(t, after.Attention, "MD06")
	require.Equal(t, StageReconnected, r.Stage)
	require.Equal(t, "MD06", closed.Return.Reason)
	require.False(t, h.noticesOf(activities.KindCutLetter)[0].NewMandate, "the cut letter went before AC06")
	pre := h.noticesOf(activities.KindPreCut)
	require.Len(t, pre, 1)
	require.True(t, pre[0].NewMandate, "the pre-cut e-mail went after AC06 and asks for a new mandate")
}

// A case cannot start with a reason it does not know the path of.
func TestBankReturn_InvalidPathRefusedAtStart(t *testing.T) {
	h := newHarness(t, tuesday)
	h.env.ExecuteWorkflow(ReturnedInvoice, h.withReturn("AM04", "whatever"))
	require.True(t, h.env.IsWorkflowCompleted())
	require.ErrorContains(t, h.env.GetWorkflowError(), "unknown return path")
}

func noticeKinds(h *harness) []string {
	var out []string
	for _, n := range h.notices() {
		out = append(out, n.Kind)
	}
	return out
}
