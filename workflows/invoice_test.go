package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

func kinds(ns []activities.NoticeInput) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Kind)
	}
	return out
}

func defaultCalendar(t *testing.T) calendar.Calendar {
	t.Helper()
	cal, err := DefaultPolicy().Calendar()
	require.NoError(t, err)
	return cal
}

// callAfter is the first activity that wrote something after the first
// notice of a kind (reads of the contract, the proof and the supply skipped).
func (h *harness) callAfter(kind string) call {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	reads := []string{"LookupContract", "NoticeProof", "CheckSupply"}
	for i, c := range h.calls {
		if n, ok := c.Input.(activities.NoticeInput); ok && n.Kind == kind {
			for _, next := range h.calls[i+1:] {
				if !slices.Contains(reads, next.Activity) {
					return next
				}
			}
			h.t.Fatalf("nothing ran after %s", kind)
		}
	}
	h.t.Fatalf("no %s notice was sent", kind)
	return call{}
}

// PROCESS step 3: three notices with no cut date, the third the formal
// demand; a cut is scheduled only after the regulatory wait that follows it.
func TestDomesticPath_ThreeNoticesWithoutCutDate_ThenRegulatoryWait(t *testing.T) {
	h := newHarness(t, tuesday)
	h.reviewAndPay()
	r := h.run(h.input())
	require.Equal(t, StageReconnected, r.Stage)

	ns := h.notices()
	require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento,
		activities.KindPreCut, activities.KindReconnected}, kinds(ns))
	spacing := DefaultPolicy().NoticeSpacingDays
	for i, n := range ns[:3] {
		requireSameTime(t, inMadrid(tuesday, 0, i*spacing), n.At, n.Kind)
		require.Nil(t, n.CutDate, "domestic notice %s carries a cut date", n.Kind)
		require.Nil(t, n.Case.CutDate, "domestic notice %s carries a cut date in its case", n.Kind)
	}
	require.Nil(t, ns[0].SuspendFrom)
	require.Nil(t, ns[1].SuspendFrom)

	demand := ns[2]
	waitEnd := inMadrid(demand.At, 2, 0)
	require.NotNil(t, demand.SuspendFrom, "the formal demand says from when supply may be suspended")
	require.False(t, demand.SuspendFrom.Before(waitEnd), "suspend-from %s is before the end of the 2-month wait %s", demand.SuspendFrom, waitEnd)

	// The first thing done after the formal demand is scheduling the cut, at the end of the wait.
	next := h.callAfter(activities.KindRequerimiento)
	require.Equal(t, "RecordStage", next.Activity)
	require.Equal(t, string(StageCutScheduled), next.Input.(activities.StageInput).Case.Stage)
	requireSameTime(t, waitEnd, next.At, "cut scheduled")

	st := h.state()
	requireSameTime(t, waitEnd, firstEvent(t, st, StageCutScheduled).At, "cut_scheduled in the history")
	require.False(t, ns[3].At.Before(waitEnd), "pre-cut e-mail before the end of the wait")
	cutDay := calendar.Date(2026, time.May, 20)
	requireSameTime(t, cutDay, *st.CutDate, "cut date")
	requireSameTime(t, cutDay, *demand.SuspendFrom, "the demand announces the day the cut is scheduled for")
	require.Equal(t, []Stage{StageChecking, StageNotice1, StageNotice2, StageNotice3, StageCutScheduled,
		StageCutReview, StageCut, StageReconnecting, StageReconnected}, stages(st))
	require.Len(t, h.cuts(), 1)
	h.requireAllowedCutDates(defaultCalendar(t))

	// The formal demand goes by a certified channel.
	var demandChannels []string
	for _, n := range st.Notices {
		if n.Kind == activities.KindRequerimiento {
			demandChannels = append(demandChannels, n.Channel)
		}
	}
	require.Contains(t, demandChannels, activities.ChannelCertified, "formal demand sent by %v", demandChannels)
}

// PROCESS step 3 and "Vulnerable consumers": the regulatory wait is 4 months
// for Bono Social customers, followed by 6 months of Suministro Mínimo Vital
// with the power limited to 3.5 kW; only then is a cut scheduled.
func TestBonoSocial_WaitsFourMonthsThenMinimumSupply(t *testing.T) {
	tests := []struct {
		name    string
		bono    bool
		powerKW float64
		cutDate time.Time
		limit   bool
	}{
		{"ordinary household waits 2 months", false, 4.6, calendar.Date(2026, time.May, 20), false},
		{"Bono Social household: 4 months, then 6 with 3.5 kW", true, 4.6, calendar.Date(2027, time.January, 20), true},
		{"Bono Social household already at 3.3 kW: no limitation asked", true, 3.3, calendar.Date(2027, time.January, 20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			k := domesticContract()
			k.BonoSocial, k.PowerKW = tt.bono, tt.powerKW
			h.setContract(k)
			var during State
			if tt.bono {
				h.at(madrid(2026, time.September, 1, 12, 0), func() { during = h.state() })
			}
			h.reviewAndPay()
			h.run(h.input())

			demand := h.noticesOf(activities.KindRequerimiento)[0]
			requireSameTime(t, tt.cutDate, *demand.SuspendFrom, "suspend-from: the first day a cut may come")
			st := h.state()
			require.Equal(t, tt.bono, st.BonoSocial)
			requireSameTime(t, tt.cutDate, *st.CutDate, "cut date")
			cuts := h.cuts()
			require.Len(t, cuts, 1)
			requireSameDay(t, tt.cutDate, cuts[0].At, "cut")
			require.Equal(t, 4, cuts[0].Rules.BonoSocialWaitMonths)
			require.Equal(t, 6, cuts[0].Rules.MinimumSupplyMonths)
			limits := inputs[activities.LimitInput](h, "RequestPowerLimit")
			if !tt.bono {
				// Nothing at all happens between the formal demand and the end of the wait.
				next := h.callAfter(activities.KindRequerimiento)
				requireSameTime(t, inMadrid(demand.At, 2, 0), next.At, "first action after the formal demand")
				require.Equal(t, string(StageCutScheduled), next.Input.(activities.StageInput).Case.Stage)
				require.Empty(t, limits)
				return
			}
			require.Equal(t, StageMinimumSupply, during.Stage)
			smv := firstEvent(t, st, StageMinimumSupply)
			requireSameTime(t, inMadrid(demand.At, 4, 0), smv.At, "minimum supply from the end of the 4 months")
			requireSameDay(t, inMadrid(demand.At, 10, 0), firstEvent(t, st, StageCutScheduled).At, "cut scheduled after 6 more months")
			if tt.limit {
				require.Len(t, limits, 1)
				require.Equal(t, MinimumSupplyKW, limits[0].KW)
				requireSameTime(t, inMadrid(demand.At, 4, 0), h.callTimes("RequestPowerLimit")[0], "limitation asked")
			} else {
				// The contracted power is already below 3.5 kW: nothing is
				// asked of the distributor, the ledger records the start.
				require.Len(t, limits, 1)
				require.True(t, limits[0].AlreadyLimited)
				require.Equal(t, 3.3, limits[0].KW)
			}
		})
	}
}

// PROCESS step 6: essential supplies and protected households are never cut;
// they wait on hold for a person, and releasing them reads the contract again.
func TestEssentialSupply_NeverCut(t *testing.T) {
	essential := domesticContract()
	essential.Essential = true
	protected := domesticContract()
	protected.Protected = true
	business := businessContract()
	business.Customer, business.Essential = "Ayuntamiento de Villaviciosa (alumbrado público)", true
	tests := []struct {
		name     string
		contract activities.Contract
		reason   string
	}{
		{"essential domestic supply", essential, "esencial"},
		{"protected household", protected, "protegido"},
		{"essential business supply", business, "esencial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.setContract(tt.contract)
			var held, heldAgain State
			var lookupsAtHold int
			h.watch(time.Hour, func(st State) bool {
				switch {
				case st.Stage != StageOnHold:
				case held.Stage == "":
					held, lookupsAtHold = st, len(h.callTimes("LookupContract"))
					h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "supervisora"})
				default:
					heldAgain = st
					h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-9"})
					return true
				}
				return false
			})
			r := h.run(h.input())

			require.Equal(t, StagePaid, r.Stage)
			require.NotNil(t, held.Hold)
			require.True(t, held.Hold.NeverCut)
			require.Contains(t, held.Hold.Reason, tt.reason)
			require.Equal(t, "sistema", held.Hold.By)
			require.Nil(t, held.CutDate, "a supply that is never cut has no cut date")
			// The release made the case read the contract again, and it stayed on hold.
			require.Equal(t, StageOnHold, heldAgain.Stage)
			require.True(t, heldAgain.Hold.NeverCut)
			require.Equal(t, lookupsAtHold+1, len(h.callTimes("LookupContract")))
			require.True(t, historyMentions(heldAgain, "sigue sin poder cortarse"))

			require.Empty(t, h.cuts(), "RequestCut called for a supply that is never cut")
			require.Empty(t, h.callTimes("CheckSupply"))
			require.Empty(t, h.noticesOf(activities.KindPreCut))
			require.Empty(t, h.noticesOf(activities.KindCutLetter))
			for _, n := range h.notices() {
				require.Nil(t, n.CutDate, "%s announces a cut date", n.Kind)
				require.Nil(t, n.SuspendFrom, "%s threatens a suspension that will never happen", n.Kind)
			}
			require.Len(t, h.noticesOf(activities.KindRequerimiento), 1, "the formal demand is still sent")
			require.Len(t, h.noticesOf(activities.KindPaid), 1)
		})
	}
}

// PROCESS step 6: a supply that stops being essential may be cut once a
// person releases the hold.
func TestEssentialSupply_ReleasedAfterContractChangesProceedsToCut(t *testing.T) {
	h := newHarness(t, tuesday)
	k := domesticContract()
	k.Essential = true
	h.setContract(k)
	var releasedAt time.Time
	h.watch(time.Hour, func(st State) bool {
		switch st.Stage {
		case StageOnHold:
			if releasedAt.IsZero() {
				k.Essential = false
				h.setContract(k)
				releasedAt = h.env.Now()
				h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "supervisora"})
			}
		case StageCutReview:
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		case StageCut:
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-2"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	require.False(t, releasedAt.IsZero(), "the case never went on hold")
	st := h.state()
	sched := firstEvent(t, st, StageCutScheduled)
	requireSameTime(t, releasedAt, sched.At, "cut scheduled on release")
	want := defaultCalendar(t).NextCutDay(inMadrid(releasedAt, 0, DefaultPolicy().PreCutEmailDays))
	requireSameTime(t, want, *st.CutDate, "cut date")
	require.Len(t, h.cuts(), 1)
	require.Equal(t, "rocio", h.cuts()[0].ApprovedBy)
	h.requireAllowedCutDates(defaultCalendar(t))
}

// PROCESS step 6: a contract flagged essential after the cut was scheduled
// is looked at again before the pre-cut e-mail and goes on hold instead: no
// e-mail announces a cut that may not happen, and there is no review.
func TestEssentialSupply_FlaggedBeforeCutDateGoesOnHold(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // cut letter for Wednesday 18 March
	h.at(madrid(2026, time.March, 10, 12, 0), func() {
		k := businessContract()
		k.Essential = true
		h.setContract(k)
	})
	var held State
	h.at(madrid(2026, time.March, 18, 12, 0), func() {
		held = h.state()
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-14"})
	})
	r := h.run(h.input())

	require.Equal(t, StageOnHold, held.Stage)
	require.NotNil(t, held.Hold)
	require.True(t, held.Hold.NeverCut)
	require.Equal(t, StagePaid, r.Stage)
	require.Empty(t, h.cuts())
	require.Empty(t, h.callTimes("CheckSupply"))
	lookups := h.callTimes("LookupContract")
	requireSameTime(t, madrid(2026, time.March, 15, 9, 0), lookups[len(lookups)-1], "contract read again before the pre-cut e-mail")
	require.Empty(t, h.noticesOf(activities.KindPreCut), "a supply that may not be cut is not told of a cut")
}

// PROCESS step 6: a supply flagged essential while its cut is under review is
// not cut, even once the cuts desk approved it: the contract is read again
// right before the request leaves.
func TestEssentialSupply_FlaggedDuringReviewIsNotCut(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // review on Wednesday 18 March at 9:00
	var review State
	h.at(madrid(2026, time.March, 18, 10, 0), func() {
		review = h.state()
		k := businessContract()
		k.Essential = true
		h.setContract(k)
	})
	h.at(madrid(2026, time.March, 18, 11, 0), func() {
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	var held State
	h.at(madrid(2026, time.March, 18, 12, 0), func() { held = h.state() })
	h.at(madrid(2026, time.March, 25, 12, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-16"})
	})
	r := h.run(h.input())

	require.Equal(t, StageCutReview, review.Stage)
	require.Equal(t, StageOnHold, held.Stage, "approved, then found essential: on hold")
	require.NotNil(t, held.Hold)
	require.True(t, held.Hold.NeverCut)
	require.Empty(t, held.CutApprovedBy, "the approval was for a cut that no longer may be")
	require.True(t, historyMentions(held, "ya no permite el corte aprobado"))
	require.Empty(t, h.cuts(), "no request to the distributor")
	require.Equal(t, StagePaid, r.Stage)
	lookups := h.callTimes("LookupContract")
	requireSameTime(t, madrid(2026, time.March, 18, 11, 0), lookups[len(lookups)-1], "contract read again on the approval")
}

// PROCESS steps 6 and 7: an approval given on a Friday waits for Monday; a
// household flagged protected over the weekend is not cut on Monday. Once the
// flag is gone and a person releases it, the cut goes back to review and is
// requested only on a new approval, on an allowed day.
func TestProtectedHousehold_FlaggedAfterApprovalIsHeldThenReviewedAgain(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.at(madrid(2026, time.March, 20, 10, 0), func() { // Friday
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	var friday, monday, released State
	h.at(madrid(2026, time.March, 20, 12, 0), func() { friday = h.state() })
	h.at(madrid(2026, time.March, 21, 12, 0), func() { // Saturday
		k := businessContract()
		k.Protected = true
		h.setContract(k)
	})
	h.at(madrid(2026, time.March, 23, 12, 0), func() { monday = h.state() })
	h.at(madrid(2026, time.March, 24, 10, 0), func() { // Tuesday
		h.setContract(businessContract())
		h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "supervisora"})
	})
	h.at(madrid(2026, time.March, 24, 10, 30), func() {
		released = h.state()
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "marta"})
	})
	h.at(madrid(2026, time.March, 25, 12, 0), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-17"})
	})
	r := h.run(h.input())

	require.Equal(t, StageCutReview, friday.Stage, "approved on a Friday: waits for the next allowed day")
	require.Equal(t, "rocio", friday.CutApprovedBy)
	require.Equal(t, StageOnHold, monday.Stage)
	require.True(t, monday.Hold.NeverCut)
	require.Contains(t, monday.Hold.Reason, "hogar protegido")
	require.Equal(t, StageCutReview, released.Stage, "released: reviewed again, not cut on the old approval")
	require.Empty(t, released.CutApprovedBy)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.Equal(t, "marta", cuts[0].ApprovedBy)
	requireSameTime(t, madrid(2026, time.March, 24, 10, 30), cuts[0].At, "cut on the new approval")
	require.Equal(t, StageReconnected, r.Stage)
	h.requireAllowedCutDates(defaultCalendar(t))
}

// PROCESS step 8: a supply point with several returned invoices is cut once:
// a case whose CUPS is already cut joins that cut without a second request.
func TestSupplyAlreadyCut_JoinsTheExistingCut(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.supply = activities.SupplyStatus{Cut: true, CutID: 5}
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-15"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.Empty(t, cuts[0].ApprovedBy)
	requireSameTime(t, madrid(2026, time.March, 18, 9, 0), cuts[0].At, "joined on the cut date")
	st := h.state()
	require.NotContains(t, stages(st), StageCutReview, "nothing to review: no request goes to the distributor")
	require.True(t, historyMentions(st, "ya estaba cortado"))
}

// PROCESS step 4: a business gets the cut letter at once, with a cut date
// BusinessCutLeadDays later moved to the next allowed cut day.
func TestBusinessPath_CutLetterAtOnceWithCutDateOnAllowedDay(t *testing.T) {
	tests := []struct {
		name     string
		start    time.Time
		holidays []string
		want     time.Time
	}{
		{"a Wednesday stays", madrid(2026, time.March, 3, 10, 30), nil, calendar.Date(2026, time.March, 18)},
		{"a Friday moves to Monday", madrid(2026, time.March, 5, 10, 30), nil, calendar.Date(2026, time.March, 23)},
		{"the eve of 8 December moves past the holiday", madrid(2026, time.November, 22, 10, 30), nil, calendar.Date(2026, time.December, 9)},
		{"the eve of Good Friday moves to Monday", madrid(2026, time.March, 18, 10, 30), nil, calendar.Date(2026, time.April, 6)},
		{"the eve of a regional holiday of the policy", madrid(2026, time.March, 3, 10, 30), []string{"2026-03-19"}, calendar.Date(2026, time.March, 23)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.start)
			h.setContract(businessContract())
			h.reviewAndPay()
			in := h.input()
			in.Policy.Holidays = tt.holidays
			r := h.run(in)
			require.Equal(t, StageReconnected, r.Stage)

			ns := h.notices()
			require.Equal(t, []string{activities.KindCutLetter, activities.KindPreCut, activities.KindReconnected}, kinds(ns))
			letter := ns[0]
			requireSameTime(t, tt.start, letter.At, "cut letter sent at once")
			require.NotNil(t, letter.CutDate)
			requireSameTime(t, tt.want, *letter.CutDate, "cut date in the letter")
			// The letter goes as a PDF and as a certified e-mail.
			st := h.state()
			var channels []string
			for _, n := range st.Notices {
				if n.Kind == activities.KindCutLetter {
					channels = append(channels, n.Channel)
				}
			}
			require.ElementsMatch(t, []string{activities.ChannelLetter, activities.ChannelCertified}, channels)
			requireSameTime(t, tt.want, *st.CutDate, "cut date in the state")
			cuts := h.cuts()
			require.Len(t, cuts, 1)
			requireSameDay(t, tt.want, cuts[0].At, "cut")

			cal, err := in.Policy.Calendar()
			require.NoError(t, err)
			h.requireAllowedCutDates(cal)
		})
	}
}

// PROCESS step 5: the customer is e-mailed PreCutEmailDays before the cut date.
func TestPreCutEmail_SentDaysBeforeCutWithCutDate(t *testing.T) {
	tests := []struct {
		name     string
		contract activities.Contract
		cutDate  time.Time
		sentAt   time.Time
	}{
		// The business letter sets 18 March: the e-mail goes on the 15th at the action hour.
		{"business", businessContract(), calendar.Date(2026, time.March, 18), madrid(2026, time.March, 15, 9, 0)},
		// The domestic wait ends on 17 May at 10:30 and the cut is the 20th: the e-mail goes at once.
		{"domestic", domesticContract(), calendar.Date(2026, time.May, 20), madrid(2026, time.May, 17, 10, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.setContract(tt.contract)
			h.reviewAndPay()
			h.run(h.input())

			pre := h.noticesOf(activities.KindPreCut)
			require.Len(t, pre, 1)
			requireSameTime(t, tt.sentAt, pre[0].At, "pre-cut e-mail")
			requireSameTime(t, tt.sentAt, h.sentAt(activities.KindPreCut)[0], "pre-cut e-mail, simulated time")
			require.NotNil(t, pre[0].CutDate)
			requireSameTime(t, tt.cutDate, *pre[0].CutDate, "cut date in the e-mail")
			requireSameDay(t, inMadrid(tt.cutDate, 0, -DefaultPolicy().PreCutEmailDays), pre[0].At, "pre-cut e-mail day")
			require.True(t, pre[0].At.Before(h.cuts()[0].At))
		})
	}
}

// PROCESS step 6: on the cut date the cuts desk reviews the cut; nothing is
// cut until it approves, a hold pauses the review and a release resumes it.
func TestCutReview_NothingCutUntilApproved(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	var reviewAt, approvedAt time.Time
	var onHold State
	step, checksInReview := 0, 0
	h.watch(time.Hour, func(st State) bool {
		if step < 4 {
			require.Empty(t, h.cuts(), "cut requested before approval (stage %s, step %d)", st.Stage, step)
		}
		switch step {
		case 0: // first look at the review: put it on hold
			if st.Stage == StageCutReview {
				reviewAt = h.env.Now()
				h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "el cliente dice que ha pagado", By: "rocio"})
				step++
			}
		case 1: // on hold: an approval now is ignored
			require.Equal(t, StageOnHold, st.Stage)
			onHold = st
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			step++
		case 2: // still on hold, still not cut: release
			require.Equal(t, StageOnHold, st.Stage)
			h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "rocio"})
			step++
		case 3: // back under review; it stays there a whole day without approval
			require.Equal(t, StageCutReview, st.Stage)
			if checksInReview++; checksInReview == 24 {
				approvedAt = h.env.Now()
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "luis", Note: "sin pago"})
				step++
			}
		case 4:
			require.Equal(t, StageCut, st.Stage)
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-3"})
			return true
		}
		return false
	})
	r := h.run(h.input())

	require.Equal(t, StageReconnected, r.Stage)
	requireSameTime(t, madrid(2026, time.March, 18, 9, 47), reviewAt, "first look at the review")
	require.NotNil(t, onHold.Hold)
	require.Equal(t, "el cliente dice que ha pagado", onHold.Hold.Reason)
	require.False(t, onHold.Hold.NeverCut)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.Equal(t, "luis", cuts[0].ApprovedBy)
	requireSameTime(t, approvedAt, cuts[0].At, "cut on approval")
	require.Equal(t, string(StageCutRequested), cuts[0].Case.Stage, "the ledger records the request as requested, not as cut")
	st := h.state()
	require.True(t, historyMentions(st, "aprobación de corte rechazada", string(StageOnHold)))
	require.Equal(t, []Stage{StageChecking, StageCutScheduled, StageCutReview, StageOnHold, StageCutReview,
		StageCut, StageReconnecting, StageReconnected}, stages(st))
	require.Equal(t, "luis", st.CutApprovedBy)
	h.requireAllowedCutDates(defaultCalendar(t))
}

// PROCESS "Allowed cut days": an approval on a day a cut is not allowed
// moves the cut to the next allowed cut day.
func TestCutReview_LateApprovalCutsOnNextAllowedDay(t *testing.T) {
	tests := []struct {
		name       string
		start      time.Time
		approvedAt time.Time
		cutAt      time.Time
	}{
		{"approved on a Friday", tuesday, madrid(2026, time.March, 20, 12, 0), madrid(2026, time.March, 23, 9, 0)},
		{"approved on a Saturday", tuesday, madrid(2026, time.March, 21, 12, 0), madrid(2026, time.March, 23, 9, 0)},
		{"approved on the eve of Good Friday", madrid(2026, time.March, 10, 10, 30), madrid(2026, time.April, 2, 12, 0), madrid(2026, time.April, 6, 9, 0)},
		{"approved on a Thursday", tuesday, madrid(2026, time.March, 19, 12, 0), madrid(2026, time.March, 19, 12, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.start)
			h.setContract(businessContract())
			h.at(tt.approvedAt, func() {
				require.Equal(t, StageCutReview, h.state().Stage)
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			})
			h.watch(time.Hour, func(st State) bool {
				if st.Stage == StageCut {
					h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-4"})
					return true
				}
				return false
			})
			r := h.run(h.input())

			require.Equal(t, StageReconnected, r.Stage)
			cuts := h.cuts()
			require.Len(t, cuts, 1)
			requireSameTime(t, tt.cutAt, cuts[0].At, "cut")
			requireSameTime(t, tt.cutAt, h.callTimes("RequestCut")[0], "cut, simulated time")
			requireSameTime(t, tt.cutAt, *r.CutAt, "cut in the result")
			requireSameDay(t, tt.cutAt, *cuts[0].Case.CutDate, "cut date sent with the request")
			requireSameDay(t, tt.cutAt, *h.state().CutDate, "cut date in the state")
			h.requireAllowedCutDates(defaultCalendar(t))
		})
	}
}

// PROCESS "Allowed cut days": a cut postponed to an allowed day and then put
// PROCESS steps 6 and 7: an approval holds for the allowed cut day it was
// given for. A hold keeps the case past that day, so once released it goes
// back to the cuts desk, and the cut comes only with a new approval, on an
// allowed day.
func TestCutReview_ApprovalHeldPastItsDayIsReviewedAgain(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	h.at(madrid(2026, time.March, 20, 12, 0), func() { // Friday: postponed to Monday 23
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.at(madrid(2026, time.March, 21, 10, 0), func() {
		h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "revisar contrato", By: "luis"})
	})
	var released State
	h.at(madrid(2026, time.March, 27, 12, 0), func() { // released on the next Friday
		require.Equal(t, StageOnHold, h.state().Stage)
		h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "luis"})
	})
	h.at(madrid(2026, time.March, 27, 13, 0), func() {
		released = h.state()
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "marta"}) // Friday again: waits for Monday
	})
	h.watch(time.Hour, func(st State) bool {
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-5"})
			return true
		}
		return false
	})
	h.run(h.input())

	require.Equal(t, StageCutReview, released.Stage, "released past the approval's day: reviewed again")
	require.Empty(t, released.CutApprovedBy)
	holds := inputs[activities.HoldInput](h, "RecordHold")
	require.Len(t, holds, 2, "the hold went to the ledger and left it")
	require.True(t, holds[0].On)
	require.False(t, holds[1].On)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.Equal(t, "marta", cuts[0].ApprovedBy)
	requireSameTime(t, madrid(2026, time.March, 30, 9, 0), cuts[0].At, "cut on Monday after the new approval")
	h.requireAllowedCutDates(defaultCalendar(t))
}

// PROCESS step 5: a hold that outlasts the pre-cut e-mail's moment does not
// make the e-mail announce a date already gone, nor the cut come without the
// PreCutEmailDays of warning.
func TestPreCutEmail_AfterLongHoldAnnouncesFutureCut(t *testing.T) {
	h := newHarness(t, tuesday) // business: cut letter for Wednesday 18 March
	h.setContract(businessContract())
	h.at(madrid(2026, time.March, 10, 12, 0), func() {
		h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "acuerdo de pago en estudio", By: "luis"})
	})
	releasedAt := madrid(2026, time.March, 25, 12, 0)
	h.at(releasedAt, func() {
		h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "luis"})
	})
	h.reviewAndPay()
	h.run(h.input())

	pre := h.noticesOf(activities.KindPreCut)
	require.Len(t, pre, 1)
	requireSameTime(t, releasedAt, pre[0].At, "pre-cut e-mail on release")
	days := DefaultPolicy().PreCutEmailDays
	require.False(t, pre[0].CutDate.Before(calendar.Date(2026, time.March, 25+days)),
		"the e-mail of %s announces a cut on %s", pre[0].At, pre[0].CutDate)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	requireSameDay(t, *pre[0].CutDate, cuts[0].At, "cut on the announced day")
	h.requireAllowedCutDates(defaultCalendar(t))
}

// PROCESS step 8: a partial payment lowers the amount due and the sequence goes on.
func TestPartialPayment_LowersAmountDueAndSequenceGoesOn(t *testing.T) {
	tests := []struct {
		name   string
		ledger int64 // already in the payments ledger when the case opens
		signal int64 // paid by signal two days after the start
	}{
		{"paid by signal", 0, 4000},
		{"found in the ledger", 4000, 0},
		{"both", 1000, 3000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.ledgerPaid = tt.ledger
			due := testAmount - tt.ledger - tt.signal
			if tt.signal > 0 {
				h.at(inMadrid(tuesday, 0, 2), func() {
					h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: tt.signal, Reference: "BIZUM-1"})
				})
			}
			var afterPayment State
			h.at(inMadrid(tuesday, 0, 3), func() { afterPayment = h.state() })
			rest := inMadrid(tuesday, 0, 15) // after the formal demand
			h.at(rest, func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: due, Reference: "BIZUM-2"})
			})
			r := h.run(h.input())

			require.Equal(t, due, afterPayment.AmountDueCents)
			require.Equal(t, testAmount, afterPayment.AmountCents)
			require.Equal(t, StageNotice1, afterPayment.Stage, "the partial payment does not stop the sequence")
			require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento, activities.KindPaid},
				kinds(h.notices()))
			ns := h.notices()
			require.Equal(t, testAmount-tt.ledger, ns[0].Case.AmountDueCents, "aviso 1")
			for _, n := range ns[1:3] {
				require.Equal(t, due, n.Case.AmountDueCents, "%s asks for what is still due", n.Kind)
			}
			requireSameTime(t, inMadrid(tuesday, 0, 7), ns[1].At, "aviso 2 on its day")
			requireSameTime(t, inMadrid(tuesday, 0, 14), ns[2].At, "formal demand on its day")

			pays := inputs[activities.PaymentInput](h, "RecordPayment")
			var recorded []int64
			for _, p := range pays {
				recorded = append(recorded, p.AmountCents)
			}
			want := []int64{due}
			if tt.signal > 0 {
				want = []int64{tt.signal, due}
			}
			require.Equal(t, want, recorded, "signalled payments go to the ledger; ledger payments are not written twice")
			if tt.signal > 0 {
				requireSameTime(t, inMadrid(tuesday, 0, 2), h.callTimes("RecordPayment")[0], "payment written to the ledger when received")
			}
			require.Equal(t, StagePaid, r.Stage)
			require.Equal(t, testAmount, r.PaidCents)
			requireSameTime(t, rest, h.env.Now(), "closed when the rest was paid")
		})
	}
}

// PROCESS step 8: full payment before a cut cancels what is pending and
// closes the case as paid.
func TestFullPaymentBeforeCut_ClosesPaidWithoutCut(t *testing.T) {
	tests := []struct {
		name     string
		contract activities.Contract
		paidAt   time.Time
		stage    Stage
	}{
		{"between aviso 1 and aviso 2", domesticContract(), inMadrid(tuesday, 0, 3), StageNotice1},
		{"during the regulatory wait", domesticContract(), inMadrid(tuesday, 1, 0), StageNotice3},
		{"business, cut scheduled", businessContract(), inMadrid(tuesday, 0, 5), StageCutScheduled},
		{"under review", businessContract(), madrid(2026, time.March, 18, 12, 0), StageCutReview},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.setContract(tt.contract)
			var sentBefore int
			h.at(tt.paidAt, func() {
				require.Equal(t, tt.stage, h.state().Stage)
				sentBefore = len(h.notices())
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-6"})
			})
			r := h.run(h.input())

			require.Equal(t, StagePaid, r.Stage)
			require.Equal(t, testAmount, r.PaidCents)
			require.Nil(t, r.CutAt)
			require.Empty(t, h.cuts())
			// Pending timers are abandoned: the case ends the moment it is paid.
			requireSameTime(t, tt.paidAt, h.env.Now(), "end of the case")
			settles := inputs[activities.SettleInput](h, "SettleInvoice")
			require.Len(t, settles, 1)
			require.Equal(t, string(StagePaid), settles[0].Case.Stage)
			require.Zero(t, settles[0].Case.AmountDueCents)
			requireSameTime(t, tt.paidAt, settles[0].PaidAt, "settled")
			ns := h.notices()
			require.Len(t, ns, sentBefore+1, "only the payment confirmation follows the payment")
			require.Equal(t, activities.KindPaid, ns[len(ns)-1].Kind)
			st := h.state()
			require.Equal(t, StagePaid, st.Stage)
			require.Zero(t, st.AmountDueCents)
			require.Empty(t, st.NextAction)
			require.Nil(t, st.NextActionAt)
		})
	}
}

// PROCESS step 8: a case waiting in needs_contact that is paid closes at
// once; the wait for contact data is abandoned and no notice is ever rendered.
func TestFullPaymentBeforeCut_WhileWaitingForContactData(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(activities.Contract{Found: false})
	paidAt := inMadrid(tuesday, 0, 5)
	var waiting State
	h.at(paidAt, func() {
		waiting = h.state()
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-17"})
	})
	r := h.run(h.input())

	require.Equal(t, StageNeedsContact, waiting.Stage)
	require.Empty(t, waiting.Notices)
	require.Equal(t, StagePaid, r.Stage)
	require.Equal(t, testAmount, r.PaidCents)
	require.Nil(t, r.CutAt)
	requireSameTime(t, paidAt, h.env.Now(), "end of the case")
	require.Empty(t, h.notices(), "no notice rendered, not even the payment confirmation")
	require.Empty(t, h.deliveries)
	require.Empty(t, h.cuts())
	require.Len(t, h.callTimes("LookupContract"), 1, "paid, not updated: the contract is not read again")
	settles := inputs[activities.SettleInput](h, "SettleInvoice")
	require.Len(t, settles, 1)
	require.Equal(t, string(StagePaid), settles[0].Case.Stage)
	requireSameTime(t, paidAt, settles[0].PaidAt, "settled")
	st := h.state()
	require.Empty(t, st.Notices)
	require.Zero(t, st.AmountDueCents)
	require.Empty(t, st.NextAction)
	require.Equal(t, []Stage{StageChecking, StageNeedsContact, StagePaid}, stages(st))
}

// PROCESS steps 6 and 8: a cut approved on a Friday waits for Monday; paid on
// the Saturday in between, the cut is never requested.
func TestFullPaymentBeforeCut_ApprovedCutWaitingForAllowedDay(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract()) // review on Wednesday 18 March at 9:00
	var review, approved State
	h.at(madrid(2026, time.March, 18, 10, 0), func() { review = h.state() })
	h.at(madrid(2026, time.March, 20, 12, 0), func() { // Friday: not an allowed cut day
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	h.at(madrid(2026, time.March, 20, 13, 0), func() { approved = h.state() })
	paidAt := madrid(2026, time.March, 21, 12, 0) // Saturday
	var sentBefore int
	h.at(paidAt, func() {
		sentBefore = len(h.notices())
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-18"})
	})
	r := h.run(h.input())

	require.Equal(t, StageCutReview, review.Stage)
	monday := madrid(2026, time.March, 23, 9, 0)
	require.Equal(t, "rocio", approved.CutApprovedBy)
	require.NotNil(t, approved.CutDate)
	requireSameDay(t, monday, *approved.CutDate, "approved on Friday: cut date moved to Monday")
	require.NotNil(t, approved.NextActionAt)
	requireSameTime(t, monday, *approved.NextActionAt, "the cut waits for Monday")
	require.Empty(t, h.cuts(), "no request to the distributor")
	require.Equal(t, StagePaid, r.Stage)
	require.Equal(t, testAmount, r.PaidCents)
	require.Nil(t, r.CutAt)
	requireSameTime(t, paidAt, h.env.Now(), "end of the case: Monday's timer abandoned")
	settles := inputs[activities.SettleInput](h, "SettleInvoice")
	require.Len(t, settles, 1)
	require.Equal(t, string(StagePaid), settles[0].Case.Stage)
	ns := h.notices()
	require.Len(t, ns, sentBefore+1, "only the payment confirmation follows the payment")
	require.Equal(t, activities.KindPaid, ns[len(ns)-1].Kind)
	st := h.state()
	require.Equal(t, StagePaid, st.Stage)
	require.Nil(t, st.CutAt)
	require.Empty(t, st.NextAction)
	require.Nil(t, st.NextActionAt)
}

// PROCESS step 8: payment after the cut triggers the reconnection, once no
// other invoice of the supply point is open.
func TestPaymentAfterCut_Reconnects(t *testing.T) {
	payAfterCut := func(h *harness) (paidAt *time.Time) {
		paidAt = new(time.Time)
		h.watch(time.Hour, func(st State) bool {
			switch st.Stage {
			case StageCutReview:
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			case StageCut:
				*paidAt = h.env.Now()
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-7"})
				return true
			}
			return false
		})
		return paidAt
	}

	t.Run("last open invoice of the supply point", func(t *testing.T) {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		paidAt := payAfterCut(h)
		r := h.run(h.input())

		require.Equal(t, StageReconnected, r.Stage)
		require.NotNil(t, r.CutAt)
		require.NotNil(t, r.ReconnectAt)
		requireSameTime(t, *paidAt, *r.ReconnectAt, "reconnection requested")
		settles := inputs[activities.SettleInput](h, "SettleInvoice")
		require.Len(t, settles, 1)
		require.Equal(t, string(StageReconnecting), settles[0].Case.Stage)
		requireSameTime(t, endOfDay(inMadrid(*paidAt, 0, 1)), settles[0].DueBy, "reconnection due by the end of the next day")
		ns := h.notices()
		require.Equal(t, activities.KindReconnected, ns[len(ns)-1].Kind)
		require.Empty(t, h.noticesOf(activities.KindPaid))
		st := h.state()
		require.Equal(t, StageReconnected, st.Stage)
		require.NotNil(t, st.ReconnectAt)
		require.Equal(t, []Stage{StageCut, StageReconnecting, StageReconnected}, stages(st)[len(stages(st))-3:])
	})

	t.Run("a case started with a longer bound is reconnected by the next day", func(t *testing.T) {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		paidAt := payAfterCut(h)
		in := h.input()
		in.Policy.ReconnectWithinDays = 3 // as the policy override once allowed
		r := h.run(in)

		require.Equal(t, StageReconnected, r.Stage)
		settles := inputs[activities.SettleInput](h, "SettleInvoice")
		require.Len(t, settles, 1)
		requireSameTime(t, endOfDay(inMadrid(*paidAt, 0, 1)), settles[0].DueBy, "reconnection due by the end of the next day")
	})

	t.Run("other invoices keep the supply point cut", func(t *testing.T) {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		h.setSettle(func(activities.SettleInput) activities.SettleResult {
			return activities.SettleResult{SupplyCut: true, StillOpen: []string{"FE26-000124", "FE26-000130"}}
		})
		payAfterCut(h)
		r := h.run(h.input())

		require.Equal(t, StagePaid, r.Stage)
		require.NotNil(t, r.CutAt)
		require.Nil(t, r.ReconnectAt)
		st := h.state()
		require.True(t, historyMentions(st, "FE26-000124", "FE26-000130"), "history: %v", st.History)
		require.Empty(t, h.noticesOf(activities.KindReconnected))
		require.Len(t, h.noticesOf(activities.KindPaid), 1)
	})
}

// Every stage the case records carries its number in the run, 1, 2, 3...:
// the ledger's audit line of a stage is keyed by it, so a workflow task run
// again after the server lost it, at a later time, writes it once
// (store.RecordStage).
func TestRecordStage_NumbersTheStagesOfTheRun(t *testing.T) {
	h := newHarness(t, tuesday)
	h.setContract(businessContract())
	holds := 0
	h.watch(time.Hour, func(st State) bool {
		switch st.Stage {
		case StageCutReview:
			if holds < 2 { // the same hold twice: two stages alike, two lines
				holds++
				h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "el cliente dice que ha pagado", By: "rocio"})
			} else {
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			}
		case StageOnHold:
			h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "rocio"})
		case StageCut:
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-7"})
			return true
		}
		return false
	})
	r := h.run(h.input())
	require.Equal(t, StageReconnected, r.Stage)

	recorded := inputs[activities.StageInput](h, "RecordStage")
	var held []int
	for i, in := range recorded {
		require.Equal(t, i+1, in.Seq, "stage %d (%s) of the run", i+1, in.Case.Stage)
		if in.Case.Stage == string(StageOnHold) {
			held = append(held, in.Seq)
		}
	}
	require.Len(t, held, 2, "stages recorded: %+v", recorded)
	require.NotEqual(t, held[0], held[1])
}

// PROCESS step 1: an invoice already paid closes at once, with no notice.
func TestPaidBeforeFirstNotice_ClosesWithoutNotice(t *testing.T) {
	for _, paid := range []int64{testAmount, testAmount + 500} {
		t.Run(money.Format(paid)+" in the ledger", func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.ledgerPaid = paid
			r := h.run(h.input())

			require.Equal(t, StagePaid, r.Stage)
			require.Equal(t, paid, r.PaidCents)
			require.Empty(t, h.notices())
			require.Empty(t, h.callTimes("LookupContract"))
			require.Empty(t, h.callTimes("RecordPayment"), "the ledger's own payment is not written again")
			opened := inputs[activities.OpenCaseInput](h, "OpenCase")
			require.Len(t, opened, 1)
			require.Equal(t, testAmount, opened[0].AmountCents)
			require.Equal(t, WorkflowID(testInvoice), opened[0].Case.WorkflowID)
			require.Len(t, h.callTimes("SettleInvoice"), 1)
			requireSameTime(t, tuesday, h.env.Now(), "closed at once")
			st := h.state()
			require.True(t, historyMentions(st, "ya pagado"))
			require.Equal(t, []Stage{StageChecking, StagePaid}, stages(st))
		})
	}
}

// PROCESS step 2: a customer who cannot be reached waits in needs_contact
// until the contact data arrives; then the notices start.
func TestNeedsContact_WaitsForContactData(t *testing.T) {
	noContact := domesticContract()
	noContact.Phone, noContact.Email = "", ""
	unknownType := domesticContract()
	unknownType.Segment = "Comunidad de vecinos"
	tests := []struct {
		name     string
		contract activities.Contract
		why      string
	}{
		{"no phone and no e-mail", noContact, "sin teléfono ni e-mail"},
		{"no contract for the CUPS", activities.Contract{Found: false}, "sin contrato"},
		{"unknown customer type", unknownType, "tipo de cliente desconocido"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			h.setContract(tt.contract)
			updatedAt := inMadrid(tuesday, 0, 10)
			var waiting []State
			h.watch(24*time.Hour, func(st State) bool {
				if h.env.Now().Before(updatedAt) {
					waiting = append(waiting, st)
				}
				return !h.env.Now().Before(updatedAt)
			})
			h.at(updatedAt, func() {
				h.setContract(domesticContract())
				h.env.SignalWorkflow(SignalContactUpdated, ContactUpdatedSignal{By: "ana"})
			})
			h.at(updatedAt.Add(time.Hour), func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-8"})
			})
			r := h.run(h.input())

			require.Len(t, waiting, 10)
			for _, st := range waiting {
				require.Equal(t, StageNeedsContact, st.Stage)
				require.Empty(t, st.Notices)
				require.True(t, historyMentions(st, tt.why), "history: %v", st.History)
			}
			lookups := h.callTimes("LookupContract")
			require.Len(t, lookups, 2)
			requireSameTime(t, updatedAt, lookups[1], "contract read again on contact-updated")
			recorded := inputs[activities.StageInput](h, "RecordStage")
			require.Equal(t, string(StageNeedsContact), recorded[0].Case.Stage)
			ns := h.notices()
			require.Equal(t, []string{activities.KindAviso1, activities.KindPaid}, kinds(ns))
			requireSameTime(t, updatedAt, ns[0].At, "first notice once the customer can be reached")
			require.Equal(t, "600111222", ns[0].Contract.Phone)
			require.Equal(t, StagePaid, r.Stage)
		})
	}

	t.Run("contact updated while the contract is being read", func(t *testing.T) {
		// The clerk fixes the contract and signals while the first lookup,
		// which read the old contract, is still running.
		h := newHarness(t, tuesday)
		h.setContract(noContact)
		h.onLookup = func(n int) {
			if n == 1 {
				h.setContract(domesticContract())
				h.env.SignalWorkflow(SignalContactUpdated, ContactUpdatedSignal{By: "ana"})
			}
		}
		h.at(inMadrid(tuesday, 0, 2), func() {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-10"})
		})
		h.run(h.input())

		ns := h.notices()
		require.NotEmpty(t, ns, "the contact update was lost: the case stayed in needs_contact")
		require.Equal(t, activities.KindAviso1, ns[0].Kind)
		requireSameTime(t, tuesday, ns[0].At, "first notice")
	})
}

// The state query answers what a clerk needs at every stage.
func TestStateQuery_AtEveryStage(t *testing.T) {
	h := newHarness(t, tuesday)
	// The first lookup finds no contact data; OpenCase takes an hour, so the
	// checking stage can be seen.
	h.openDelay = time.Hour
	noContact := domesticContract()
	noContact.Phone, noContact.Email = "", ""
	h.setContract(noContact)
	contactAt := inMadrid(tuesday, 0, 2)
	h.at(contactAt, func() {
		h.setContract(domesticContract())
		h.env.SignalWorkflow(SignalContactUpdated, ContactUpdatedSignal{By: "ana"})
	})
	seen := map[Stage]State{}
	var order []Stage
	reviews := 0
	h.watchFrom(30*time.Minute+firstCheck, time.Hour, func(st State) bool {
		if _, ok := seen[st.Stage]; !ok {
			seen[st.Stage] = st
			order = append(order, st.Stage)
		}
		switch st.Stage {
		case StageCutReview:
			if reviews++; reviews == 1 {
				h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "llamar al cliente", By: "rocio"})
			} else {
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			}
		case StageOnHold:
			h.env.SignalWorkflow(SignalRelease, ReleaseSignal{By: "rocio"})
		case StageCut:
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-11"})
			return true
		}
		return false
	})
	h.run(h.input())
	seen[StageReconnected] = h.state()
	order = append(order, StageReconnected)

	require.Equal(t, []Stage{StageChecking, StageNeedsContact, StageNotice1, StageNotice2, StageNotice3,
		StageCutScheduled, StageCutReview, StageOnHold, StageCut, StageReconnected}, order)
	aviso1 := contactAt
	demand := h.noticesOf(activities.KindRequerimiento)[0].At
	// Demand on 19 March, wait until Tuesday 19 May, cut on Monday 25 May.
	cutDate := calendar.Date(2026, time.May, 25)
	preCut := DefaultPolicy().at(inMadrid(cutDate, 0, -DefaultPolicy().PreCutEmailDays))
	review := DefaultPolicy().at(cutDate)

	tests := []struct {
		stage       Stage
		segment     string
		due         int64
		notices     int // messages sent so far
		next        string
		nextAt      *time.Time
		cutDate     bool
		hold, cut   bool
		reconnected bool
	}{
		{StageChecking, "", testAmount, 0, "", nil, false, false, false, false},
		{StageNeedsContact, activities.SegmentDomestic, testAmount, 0, "contact-updated", nil, false, false, false, false},
		{StageNotice1, activities.SegmentDomestic, testAmount, 2, "aviso 2", ptr(inMadrid(aviso1, 0, 7)), false, false, false, false},
		{StageNotice2, activities.SegmentDomestic, testAmount, 4, "aviso 3", ptr(inMadrid(aviso1, 0, 14)), false, false, false, false},
		{StageNotice3, activities.SegmentDomestic, testAmount, 6, "espera reglamentaria", ptr(inMadrid(demand, 2, 0)), false, false, false, false},
		{StageCutScheduled, activities.SegmentDomestic, testAmount, 6, "e-mail de aviso de corte", &preCut, true, false, false, false},
		{StageCutReview, activities.SegmentDomestic, testAmount, 7, "approve-cut", nil, true, false, false, false},
		{StageOnHold, activities.SegmentDomestic, testAmount, 7, "release", nil, true, true, false, false},
		{StageCut, activities.SegmentDomestic, testAmount, 7, "paid", nil, true, false, true, false},
		{StageReconnected, activities.SegmentDomestic, 0, 8, "", nil, true, false, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.stage), func(t *testing.T) {
			st := seen[tt.stage]
			require.Equal(t, tt.stage, st.Stage)
			require.Equal(t, testInvoice, st.Invoice)
			require.Equal(t, testCups, st.Cups)
			require.Equal(t, "default", st.Policy)
			require.Equal(t, tt.segment, st.Segment)
			require.Equal(t, testAmount, st.AmountCents)
			require.Equal(t, tt.due, st.AmountDueCents)
			require.Len(t, st.Notices, tt.notices)
			require.Contains(t, st.NextAction, tt.next)
			if tt.next == "" {
				require.Empty(t, st.NextAction)
			}
			if tt.nextAt == nil {
				require.Nil(t, st.NextActionAt)
			} else {
				require.NotNil(t, st.NextActionAt, "a timer is running")
				requireSameTime(t, *tt.nextAt, *st.NextActionAt, "next action")
			}
			if tt.cutDate {
				require.NotNil(t, st.CutDate)
				requireSameTime(t, cutDate, *st.CutDate, "cut date")
			} else {
				require.Nil(t, st.CutDate)
			}
			if tt.hold {
				require.NotNil(t, st.Hold)
				require.Equal(t, "llamar al cliente", st.Hold.Reason)
				require.Equal(t, "rocio", st.Hold.By)
			} else {
				require.Nil(t, st.Hold)
			}
			require.Equal(t, tt.cut, st.CutAt != nil)
			if tt.cut {
				require.Equal(t, "rocio", st.CutApprovedBy)
				require.False(t, st.CutAt.Before(review))
			}
			require.Equal(t, tt.reconnected, st.ReconnectAt != nil)
			requireHistoryOrdered(t, st)
			require.Equal(t, tt.stage, st.History[len(st.History)-1].Stage, "the last history line is of the current stage")
		})
	}
	require.Equal(t, "600111222", seen[StageNotice1].Phone)
	require.Empty(t, seen[StageNeedsContact].Phone)
}

func ptr[T any](v T) *T { return &v }

// The clerk's and the cuts desk's signals are checked before they change anything.
func TestSignalsHygiene(t *testing.T) {
	t.Run("a repeated payment reference counts once", func(t *testing.T) {
		h := newHarness(t, tuesday)
		day1 := inMadrid(tuesday, 0, 1)
		for i := range 3 {
			h.at(day1.Add(time.Duration(i)*time.Hour), func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 2000, Reference: " REM-77 "})
			})
		}
		var st State
		h.at(day1.Add(4*time.Hour), func() {
			st = h.state()
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount - 2000, Reference: "REM-78"})
		})
		r := h.run(h.input())

		require.Equal(t, testAmount-2000, st.AmountDueCents)
		require.Len(t, st.Payments, 1)
		require.True(t, historyMentions(st, "pago repetido ignorado"))
		require.Len(t, h.callTimes("RecordPayment"), 2)
		require.Equal(t, testAmount, r.PaidCents)
	})

	t.Run("amounts out of range are refused", func(t *testing.T) {
		h := newHarness(t, tuesday)
		day1 := inMadrid(tuesday, 0, 1)
		for i, amount := range []int64{-500, 0, MaxPaymentCents + 1} {
			h.at(day1.Add(time.Duration(i)*time.Hour), func() {
				h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: amount, Reference: "X"})
			})
		}
		var st State
		h.at(day1.Add(4*time.Hour), func() {
			st = h.state()
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "OK"})
		})
		r := h.run(h.input())

		require.Equal(t, testAmount, st.AmountDueCents)
		require.Empty(t, st.Payments)
		require.Equal(t, StageNotice1, st.Stage)
		refused := 0
		for _, e := range st.History {
			if strings.HasPrefix(e.What, "pago rechazado") {
				refused++
			}
		}
		require.Equal(t, 3, refused, "history: %v", st.History)
		pays := inputs[activities.PaymentInput](h, "RecordPayment")
		require.Len(t, pays, 1)
		require.Equal(t, testAmount, pays[0].AmountCents)
		require.Equal(t, testAmount, r.PaidCents)
	})

	t.Run("approve-cut outside the review is ignored", func(t *testing.T) {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		h.at(inMadrid(tuesday, 0, 1), func() { // cut scheduled for 18 March
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "impaciente"})
		})
		approvedAt := madrid(2026, time.March, 18, 15, 0)
		h.at(approvedAt, func() {
			require.Equal(t, StageCutReview, h.state().Stage, "the early approval was taken")
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		})
		h.at(approvedAt.Add(time.Hour), func() {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TRF-12"})
		})
		h.run(h.input())

		cuts := h.cuts()
		require.Len(t, cuts, 1)
		require.Equal(t, "rocio", cuts[0].ApprovedBy)
		requireSameTime(t, approvedAt, cuts[0].At, "cut")
		require.True(t, historyMentions(h.state(), "aprobación de corte rechazada", string(StageCutScheduled)))
	})

	t.Run("hold after the cut is refused", func(t *testing.T) {
		h := newHarness(t, tuesday)
		h.setContract(businessContract())
		var afterHold State
		h.watch(time.Hour, func(st State) bool {
			switch {
			case st.Stage == StageCutReview:
				h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			case st.Stage == StageCut && afterHold.Stage == "":
				h.env.SignalWorkflow(SignalHold, HoldSignal{Reason: "demasiado tarde", By: "luis"})
				h.at(h.env.Now().Add(time.Hour), func() {
					afterHold = h.state()
					h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-13"})
				})
				return true
			}
			return false
		})
		r := h.run(h.input())

		require.Equal(t, StageCut, afterHold.Stage)
		require.Nil(t, afterHold.Hold)
		require.True(t, historyMentions(afterHold, "espera rechazada"))
		require.Equal(t, StageReconnected, r.Stage)
	})
}

// The demo policy runs a whole domestic case in a few minutes, with case-time
// dates that still respect the calendar.
func TestPolicy_DemoRunsWholeCaseInMinutes(t *testing.T) {
	h := newHarness(t, tuesday)
	in := h.input()
	in.Policy = DemoPolicy()
	var atNotice1 State
	var atNotice1Attrs indexed
	h.watchFrom(250*time.Millisecond+3*time.Millisecond, 500*time.Millisecond, func(st State) bool {
		switch st.Stage {
		case StageNotice1:
			if atNotice1.Stage == "" {
				atNotice1, atNotice1Attrs = st, h.indexed()
			}
		case StageCutReview:
			h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
		case StageCut:
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "DEMO"})
			return true
		}
		return false
	})
	r := h.runWorkflow(withSearchAttributes, in)

	require.Equal(t, StageReconnected, r.Stage)
	elapsed := h.env.Now().Sub(tuesday)
	require.Less(t, elapsed, 5*time.Minute, "the demo case took %s", elapsed)
	require.Greater(t, elapsed, time.Minute)

	ns := h.notices()
	require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento,
		activities.KindPreCut, activities.KindReconnected}, kinds(ns))
	for i, n := range ns[:3] {
		requireSameTime(t, inMadrid(tuesday, 0, 7*i), n.At, n.Kind+" in case time")
	}
	st := h.state()
	sched := firstEvent(t, st, StageCutScheduled)
	require.False(t, sched.At.Before(inMadrid(ns[2].At, 2, 0)), "cut scheduled at %s, before the 2-month wait", sched.At)
	cal := defaultCalendar(t)
	cuts := h.cuts()
	require.Len(t, cuts, 1)
	require.True(t, cal.IsAllowedCutDay(cuts[0].At), "demo cut on %s", cuts[0].At)
	require.True(t, cal.IsAllowedCutDay(*st.CutDate))
	h.requireAllowedCutDates(cal)

	// Case time in the state; real time in the search attribute the UI filters on.
	require.NotNil(t, atNotice1.NextActionAt)
	requireSameTime(t, inMadrid(tuesday, 0, 7), *atNotice1.NextActionAt, "next action in case time")
	require.NotNil(t, atNotice1Attrs.NextActionAt)
	requireSameTime(t, tuesday.Add(7*24*time.Hour/time.Duration(DemoPolicy().Scale)), *atNotice1Attrs.NextActionAt, "next action in real time")
}

// Policy.Validate keeps the regulation's minimums and sane intervals.
func TestPolicy_ValidateRejectsShortRegulatoryWaits(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Policy)
		ok     bool
	}{
		{"default", func(*Policy) {}, true},
		{"demo", func(p *Policy) { *p = DemoPolicy() }, true},
		{"longer waits", func(p *Policy) { p.RegulatoryWaitMonths, p.BonoSocialWaitMonths = 3, 6 }, true},
		{"regulatory wait of 1 month", func(p *Policy) { p.RegulatoryWaitMonths = 1 }, false},
		{"Bono Social wait of 3 months", func(p *Policy) { p.BonoSocialWaitMonths = 3 }, false},
		{"Bono Social wait of 2 months", func(p *Policy) { p.BonoSocialWaitMonths = 2 }, false},
		{"scale 0", func(p *Policy) { p.Scale = 0 }, false},
		{"no spacing between notices", func(p *Policy) { p.NoticeSpacingDays = 0 }, false},
		{"no business lead", func(p *Policy) { p.BusinessCutLeadDays = 0 }, false},
		{"no pre-cut lead", func(p *Policy) { p.PreCutEmailDays = 0 }, false},
		{"action hour 24", func(p *Policy) { p.ActionHour = 24 }, false},
		{"no reconnection bound", func(p *Policy) { p.ReconnectWithinDays = 0 }, false},
		{"reconnection in 2 days", func(p *Policy) { p.ReconnectWithinDays = 2 }, false},
		{"reconnection in a week", func(p *Policy) { p.ReconnectWithinDays = 7 }, false},
		{"demo, reconnection in 2 days", func(p *Policy) { *p = DemoPolicy(); p.ReconnectWithinDays = 2 }, false},
		{"holiday not a date", func(p *Policy) { p.Holidays = []string{"19/03/2026"} }, false},
		{"regional holiday", func(p *Policy) { p.Holidays = []string{"2026-03-19"} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// A case that cannot be run fails at once, and no retry can fix it.
func TestInvalidInput_FailsWithoutRetry(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Input)
	}{
		{"no invoice", func(in *Input) { in.Invoice = "  " }},
		{"amount 0", func(in *Input) { in.AmountCents = 0 }},
		{"negative amount", func(in *Input) { in.AmountCents = -100 }},
		{"no CUPS", func(in *Input) { in.Cups = "" }},
		{"regulatory wait below the minimum", func(in *Input) { in.Policy.RegulatoryWaitMonths = 1 }},
		{"no policy", func(in *Input) { in.Policy = Policy{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tuesday)
			in := h.input()
			tt.change(&in)
			h.env.ExecuteWorkflow(ReturnedInvoice, in)

			require.True(t, h.env.IsWorkflowCompleted())
			err := h.env.GetWorkflowError()
			require.Error(t, err)
			var app *temporal.ApplicationError
			require.True(t, errors.As(err, &app), "error %v", err)
			require.Equal(t, "InvalidInput", app.Type())
			require.True(t, app.NonRetryable())
			require.Empty(t, h.calls, "no activity runs for an invalid case")
		})
	}
}

func TestDelivery_RefusedEmailIsShownAndTheCaseGoesOn(t *testing.T) {
	h := newHarness(t, tuesday)
	// The outbox numbers messages in order: aviso 1 goes as WhatsApp (#1) and e-mail (#2).
	h.refuse = map[int64]string{2: "400: the to address is not valid"}
	var st State
	h.at(inMadrid(tuesday, 0, 2), func() { st = h.state() })
	h.at(inMadrid(tuesday, 0, 8), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: testAmount, Reference: "TR-1"})
	})
	r := h.run(h.input())

	require.Len(t, st.Notices, 2)
	require.Equal(t, activities.StatusFailed, st.Notices[1].Status)
	require.Equal(t, "400: the to address is not valid", st.Notices[1].Detail)
	require.Equal(t, activities.StatusSent, st.Notices[0].Status)
	require.True(t, slices.ContainsFunc(st.History, func(e Event) bool {
		return strings.Contains(e.What, "rechazado") && strings.Contains(e.What, "not valid")
	}), "the refusal is in the history")
	require.Equal(t, []string{activities.KindAviso1, activities.KindAviso2, activities.KindPaid}, kinds(h.notices()),
		"a refused e-mail does not stop the sequence")
	require.Len(t, h.deliveries, 3, "every notice is handed to delivery once")
	require.Equal(t, []int64{1, 2}, h.deliveries[0].OutboxIDs)
	require.Equal(t, StagePaid, r.Stage)
}
