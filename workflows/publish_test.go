package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

const querySearchAttributes = "search-attributes"

// indexed is what the server indexes for a case: the typed search attributes
// as the workflow upserted them.
type indexed struct {
	Stage, Segment, InvoiceNumber, Cups, Customer string
	AmountDue                                     *float64
	CutDate, NextActionAt                         *time.Time
}

// withSearchAttributes runs a case and answers a query with its current
// search attributes, which the test environment keeps as the server would.
func withSearchAttributes(ctx workflow.Context, in Input) (Result, error) {
	err := workflow.SetQueryHandler(ctx, querySearchAttributes, func() (indexed, error) {
		sa := workflow.GetTypedSearchAttributes(ctx)
		var x indexed
		x.Stage, _ = sa.GetKeyword(AttrStage)
		x.Segment, _ = sa.GetKeyword(AttrSegment)
		x.InvoiceNumber, _ = sa.GetKeyword(AttrInvoiceNumber)
		x.Cups, _ = sa.GetKeyword(AttrCups)
		x.Customer, _ = sa.GetKeyword(AttrCustomer)
		if v, ok := sa.GetFloat64(AttrAmountDue); ok {
			x.AmountDue = &v
		}
		if v, ok := sa.GetTime(AttrCutDate); ok {
			x.CutDate = &v
		}
		if v, ok := sa.GetTime(AttrNextActionAt); ok {
			x.NextActionAt = &v
		}
		return x, nil
	})
	if err != nil {
		return Result{}, err
	}
	return ReturnedInvoice(ctx, in)
}

func (h *harness) indexed() indexed {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(querySearchAttributes)
	require.NoError(h.t, err)
	var x indexed
	require.NoError(h.t, v.Get(&x))
	return x
}

// requireIndexedMatches checks the search attributes against the state the clerk sees.
func requireIndexedMatches(t *testing.T, st State, x indexed) {
	t.Helper()
	require.Equal(t, string(st.Stage), x.Stage, "Stage")
	require.NotNil(t, x.AmountDue, "AmountDue")
	require.InDelta(t, float64(st.AmountDueCents)/100, *x.AmountDue, 1e-9, "AmountDue at %s", st.Stage)
	if st.CutDate == nil {
		require.Nil(t, x.CutDate, "CutDate at %s", st.Stage)
	} else {
		require.NotNil(t, x.CutDate, "CutDate at %s", st.Stage)
		requireSameTime(t, *st.CutDate, *x.CutDate, "CutDate")
	}
	if st.NextActionAt == nil || st.Stage.Closed() {
		require.Nil(t, x.NextActionAt, "NextActionAt at %s", st.Stage)
	} else {
		require.NotNil(t, x.NextActionAt, "NextActionAt at %s", st.Stage)
		requireSameTime(t, *st.NextActionAt, *x.NextActionAt, "NextActionAt (scale 1)")
	}
}

// The supervisor's list filters (stage, amount due, cut date) stay current
// through the whole case.
func TestSearchAttributes_KeptCurrent(t *testing.T) {
	h := newHarness(t, tuesday)
	h.at(inMadrid(tuesday, 0, 2), func() {
		h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 2345, Reference: "TRF-20"})
	})
	friday := madrid(2026, time.May, 22, 12, 0) // the cut date is Wednesday 20 May
	h.at(friday, func() {
		h.env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
	})
	snaps := map[Stage]indexed{}
	var afterApproval indexed
	checks := 0
	h.watch(time.Hour, func(st State) bool {
		checks++
		x := h.indexed()
		requireIndexedMatches(t, st, x)
		if _, ok := snaps[st.Stage]; !ok {
			snaps[st.Stage] = x
		}
		if afterApproval.Stage == "" && h.env.Now().After(friday) {
			afterApproval = x
		}
		if st.Stage == StageCut {
			h.env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: st.AmountDueCents, Reference: "TRF-21"})
			return true
		}
		return false
	})
	h.runWorkflow(withSearchAttributes, h.input())

	require.Greater(t, checks, 1000)
	n1 := snaps[StageNotice1]
	require.Equal(t, string(StageNotice1), n1.Stage)
	require.Equal(t, activities.SegmentDomestic, n1.Segment)
	require.Equal(t, testInvoice, n1.InvoiceNumber)
	require.Equal(t, testCups, n1.Cups)
	require.Equal(t, "María López García", n1.Customer)
	require.InDelta(t, 123.45, *n1.AmountDue, 1e-9)
	require.Nil(t, n1.CutDate)
	requireSameTime(t, inMadrid(tuesday, 0, 7), *n1.NextActionAt, "NextActionAt at notice_1")

	sched := snaps[StageCutScheduled]
	require.InDelta(t, 100.00, *sched.AmountDue, 1e-9, "the partial payment is in the list")
	requireSameTime(t, calendar.Date(2026, time.May, 20), *sched.CutDate, "CutDate when scheduled")
	// A Friday approval moves the cut to Monday, and the list shows it.
	requireSameTime(t, calendar.Date(2026, time.May, 25), *afterApproval.CutDate, "CutDate after a Friday approval")
	require.Nil(t, snaps[StageCutReview].NextActionAt)

	final := h.indexed()
	require.Equal(t, string(StageReconnected), final.Stage)
	require.InDelta(t, 0, *final.AmountDue, 1e-9)
	require.Nil(t, final.NextActionAt)
	requireSameTime(t, calendar.Date(2026, time.May, 25), *final.CutDate, "CutDate at the end")
	requireIndexedMatches(t, h.state(), final)
}
