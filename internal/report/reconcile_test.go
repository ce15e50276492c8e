package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/store"
)

// check runs the checker over moves as the report would.
func check(prev *store.ReportRun, cutoff time.Time, moves []store.ReportMovement, total int64) Reconciliation {
	c := newChecker(prev, cutoff)
	for _, m := range moves {
		c.add(m)
	}
	return c.finish(total, store.StrayPayments{})
}

func TestReconcileArithmetic(t *testing.T) {
	t.Parallel()
	yesterday := time.Date(2026, 3, 14, 9, 0, 0, 0, madrid)
	now := yesterday.Add(24 * time.Hour)
	prev := func(total, lines int64) *store.ReportRun {
		return &store.ReportRun{ID: 3, CutoffAt: yesterday, TotalCents: total, LinesCents: lines}
	}
	type want struct {
		status           string
		newReturns       int64
		payments         int64
		overpaid         int64
		expected         int64
		difference       int64
		explained        map[string]int64 // invoice → cents; "" is the stored previous total
		reasonContaining string
	}
	tests := []struct {
		name  string
		prev  *store.ReportRun
		moves []store.ReportMovement
		total int64
		want  want
	}{
		{
			name:  "first report",
			prev:  nil,
			total: 5000,
			want:  want{status: CheckFirst, expected: 5000},
		},
		{
			name:  "nothing moved",
			prev:  prev(10000, 10000),
			total: 10000,
			want:  want{status: CheckBalanced, expected: 10000},
		},
		{
			name: "a new return and a partial payment",
			prev: prev(10000, 10000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 10000, InTable: true, AmountCents: 10000, PaidCents: 4000, Payments: 1, PendingCents: 6000},
				{Invoice: "B", InTable: true, Opened: true, AmountCents: 5000, PendingCents: 5000},
			},
			total: 11000,
			want:  want{status: CheckBalanced, newReturns: 5000, payments: 4000, expected: 11000},
		},
		{
			name: "an overpayment is shown, not subtracted",
			prev: prev(3000, 3000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 3000, InTable: true, AmountCents: 3000, PaidCents: 3500, Payments: 2},
			},
			total: 0,
			want:  want{status: CheckBalanced, payments: 3000, overpaid: 500},
		},
		{
			name: "a new return paid the same day",
			prev: prev(0, 0),
			moves: []store.ReportMovement{
				{Invoice: "C", InTable: true, Opened: true, AmountCents: 2000, PaidCents: 2000, Payments: 1},
			},
			total: 0,
			want:  want{status: CheckBalanced, newReturns: 2000, payments: 2000},
		},
		{
			name: "the amount due fell without a payment",
			prev: prev(10000, 10000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 10000, InTable: true, AmountCents: 10000, PendingCents: 9000},
			},
			total: 9000,
			want: want{status: CheckUnbalanced, expected: 10000, difference: -1000,
				explained: map[string]int64{"A": -1000}, reasonContaining: "bajó"},
		},
		{
			name:  "the stored previous total was altered",
			prev:  prev(11000, 10000),
			total: 10000,
			want: want{status: CheckUnbalanced, expected: 11000, difference: -1000,
				explained: map[string]int64{"": -1000}, reasonContaining: "total anterior"},
		},
		{
			name: "a row disappeared",
			prev: prev(5000, 5000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 5000},
			},
			total: 0,
			want: want{status: CheckUnbalanced, expected: 5000, difference: -5000,
				explained: map[string]int64{"A": -5000}, reasonContaining: "ya no está"},
		},
		{
			name: "returned again while the earlier case still owed",
			prev: prev(5000, 5000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 5000, InTable: true, Opened: true, AmountCents: 7000, PendingCents: 7000},
			},
			total: 7000,
			want: want{status: CheckUnbalanced, newReturns: 7000, expected: 12000, difference: -5000,
				explained: map[string]int64{"A": -5000}, reasonContaining: "devuelta de nuevo"},
		},
		{
			name: "differences that cancel out still fail",
			prev: prev(20000, 20000),
			moves: []store.ReportMovement{
				{Invoice: "A", PreviousCents: 10000, InTable: true, AmountCents: 10000, PendingCents: 9000},
				{Invoice: "B", PreviousCents: 10000, InTable: true, AmountCents: 12000, PendingCents: 11000},
			},
			total: 20000,
			want: want{status: CheckUnbalanced, expected: 20000,
				explained: map[string]int64{"A": -1000, "B": 1000}, reasonContaining: "subió"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := check(tc.prev, now, tc.moves, tc.total)
			w := tc.want
			require.Equal(t, w.status, rec.Status, rec.Note)
			require.Equal(t, w.newReturns, rec.NewReturnsCents, "new returns")
			require.Equal(t, w.payments, rec.PaymentsCents, "payments")
			require.Equal(t, w.overpaid, rec.OverpaidCents, "overpaid")
			require.Equal(t, w.expected, rec.ExpectedCents, "expected")
			require.Equal(t, w.difference, rec.DifferenceCents, "difference")
			require.Equal(t, tc.total, rec.TotalCents)
			got := map[string]int64{}
			var reasons []string
			for _, e := range rec.Explanations {
				got[e.Invoice] = e.Cents
				reasons = append(reasons, e.Reason)
			}
			if w.explained == nil {
				require.Empty(t, got)
			} else {
				require.Equal(t, w.explained, got)
				require.Contains(t, strings.Join(reasons, "\n"), w.reasonContaining)
			}
			require.Equal(t, w.status != CheckUnbalanced, rec.Balanced())
		})
	}
}

func TestReconcileSkipsAReportBeforeTheLastChecked(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 3, 15, 9, 0, 0, 0, madrid)
	rec := check(&store.ReportRun{ID: 9, CutoffAt: last, TotalCents: 100, LinesCents: 100}, last.Add(-time.Hour), nil, 70)
	require.Equal(t, CheckSkipped, rec.Status)
	require.True(t, rec.Balanced())
	require.Contains(t, rec.Note, "nº 9")
}

func TestReconcileKeepsTheLargestExplanations(t *testing.T) {
	t.Parallel()
	var moves []store.ReportMovement
	var total int64
	for i := range maxExplanations + 10 {
		cents := int64(100 * (i + 1))
		moves = append(moves, store.ReportMovement{Invoice: string(rune('A'+i%26)) + string(rune('0'+i/26)),
			PreviousCents: 100000, InTable: true, AmountCents: 100000, PendingCents: 100000 - cents})
		total += 100000 - cents
	}
	prevTotal := int64(100000 * len(moves))
	rec := check(&store.ReportRun{ID: 1, CutoffAt: time.Now().Add(-time.Hour), TotalCents: prevTotal, LinesCents: prevTotal},
		time.Now(), moves, total)
	require.Len(t, rec.Explanations, maxExplanations)
	require.Equal(t, 10, rec.MoreExplanations)
	require.Equal(t, int64(-100*(maxExplanations+10)), rec.Explanations[0].Cents, "largest first")
	require.Equal(t, int64(-100*11), rec.Explanations[maxExplanations-1].Cents, "the ten smallest left out")
}
