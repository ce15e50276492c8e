package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

// cancellation is what the invoice row says of a cancellation.
type cancellation struct {
	Status, By, Reason string
	At                 *time.Time
}

func cancelOf(t *testing.T, s *Store, invoice string) cancellation {
	t.Helper()
	var c cancellation
	require.NoError(t, s.Pool().QueryRow(context.Background(), `
		SELECT status, cancelled_by, cancel_reason, cancelled_at FROM invoices WHERE invoice = $1`, invoice).
		Scan(&c.Status, &c.By, &c.Reason, &c.At))
	return c
}

func audits(t *testing.T, s *Store, invoice, action string) int {
	t.Helper()
	return count(t, s, `SELECT count(*) FROM audit WHERE invoice = $1 AND action = $2`, invoice, action)
}

// The clerk's request is written on the open invoice, with an audit entry
// signed by the clerk; an invoice the ledger does not hold open is refused
// with a reason the clerk can read.
func TestRequestCancelWritesWhoAndWhyOnTheOpenInvoice(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001AB")
	open(t, s, c)
	require.NoError(t, s.RequestCancel(ctx, " F-1 ", "rocio", " factura anulada por rectificativa "))
	got := cancelOf(t, s, "F-1")
	require.Equal(t, cancellation{Status: "open", By: "rocio", Reason: "factura anulada por rectificativa"}, got,
		"still open: the case closes it")
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE invoice = 'F-1' AND action = 'cancel_requested'
		AND actor = 'rocio' AND workflow_id = 'impago-F-1' AND run_id = 'run-1'
		AND detail->>'reason' = 'factura anulada por rectificativa'`))

	paid := ref("F-2", "ES0021000000000002AB")
	open(t, s, paid)
	_, err := s.Settle(ctx, activities.SettleInput{Case: paid, PaidAt: day(2025, 3, 12, 10)})
	require.NoError(t, err)

	for _, tc := range []struct {
		name                string
		invoice, by, reason string
		wantIs              error
		wantContains        string
	}{
		{name: "unknown invoice", invoice: "F-404", by: "rocio", reason: "x", wantIs: ErrNotFound, wantContains: "F-404 is not in the ledger"},
		{name: "paid invoice", invoice: "F-2", by: "rocio", reason: "x", wantIs: ErrInvoiceClosed, wantContains: "F-2 is paid"},
		{name: "no reason", invoice: "F-1", by: "rocio", reason: "  ", wantContains: "no reason"},
		{name: "no one", invoice: "F-1", by: "", reason: "x", wantContains: "no one asks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RequestCancel(ctx, tc.invoice, tc.by, tc.reason)
			require.ErrorContains(t, err, tc.wantContains)
			if tc.wantIs != nil {
				require.ErrorIs(t, err, tc.wantIs)
			}
		})
	}
	require.Zero(t, audits(t, s, "F-2", "cancel_requested"))
	require.Equal(t, "rocio", cancelOf(t, s, "F-1").By, "a refused request leaves the earlier one")
}

// The case closes its invoice as cancelled once, however often the activity
// is retried; the person's words from the request win over what the case
// passes on, which is used only when there was no request.
func TestCancelInvoiceClosesTheInvoiceOnceWithThePersonsWords(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	at := day(2025, 4, 2, 10)
	for _, tc := range []struct {
		name       string
		invoice    string
		request    bool
		by, reason string // what the case passes on
		want       cancellation
	}{
		{name: "requested by a clerk", invoice: "F-10", request: true, by: "temporal-ui", reason: "workflow cancelled",
			want: cancellation{Status: "cancelled", By: "rocio", Reason: "duplicada"}},
		{name: "cancelled from the Web UI", invoice: "F-11", by: "ana", reason: "cliente fallecido",
			want: cancellation{Status: "cancelled", By: "ana", Reason: "cliente fallecido"}},
		{name: "nobody said who", invoice: "F-12",
			want: cancellation{Status: "cancelled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ref(tc.invoice, "ES00210000000000"+tc.invoice[2:]+"AB")
			open(t, s, c)
			if tc.request {
				require.NoError(t, s.RequestCancel(ctx, tc.invoice, "rocio", "duplicada"))
			}
			c.Stage = "cancelled"
			in := activities.CancelInput{Case: c, By: tc.by, Reason: tc.reason, At: at}
			for range 3 { // the activity retried
				require.NoError(t, s.CancelInvoice(ctx, in))
			}
			got := cancelOf(t, s, tc.invoice)
			require.NotNil(t, got.At, "cancelled_at")
			require.WithinDuration(t, time.Now(), *got.At, time.Minute, "cancelled_at is when the ledger closed it")
			got.At = nil
			require.Equal(t, tc.want, got)
			require.Equal(t, 1, audits(t, s, tc.invoice, "cancelled"))
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM invoices WHERE invoice = $1 AND stage = 'cancelled'`, tc.invoice))
			actor := tc.want.By
			if actor == "" {
				actor = actorSystem
			}
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE invoice = $1 AND action = 'cancelled'
				AND actor = $2 AND business_at = $3`, tc.invoice, actor, at))
			err := s.RequestCancel(ctx, tc.invoice, "rocio", "otra vez")
			require.ErrorIs(t, err, ErrInvoiceClosed, "a cancelled invoice takes no request")
		})
	}
}

// A payment that reached the ledger first wins: the invoice stays paid, and a
// case cancelled before the ledger opened its invoice has nothing to close.
func TestCancelInvoiceLeavesAPaidOrUnknownInvoiceAlone(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-20", "ES0021000000000020AB")
	open(t, s, c)
	require.NoError(t, s.RequestCancel(ctx, "F-20", "rocio", "duplicada"))
	_, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 12, 10)})
	require.NoError(t, err)
	require.NoError(t, s.CancelInvoice(ctx, activities.CancelInput{Case: c, By: "rocio", Reason: "duplicada", At: time.Now()}))
	require.Equal(t, "paid", cancelOf(t, s, "F-20").Status)
	require.Nil(t, cancelOf(t, s, "F-20").At)
	require.Zero(t, audits(t, s, "F-20", "cancelled"))

	never := ref("F-21", "")
	require.NoError(t, s.CancelInvoice(ctx, activities.CancelInput{Case: never, At: time.Now()}))
	require.Zero(t, count(t, s, `SELECT count(*) FROM invoices WHERE invoice = 'F-21'`))
	require.Zero(t, audits(t, s, "F-21", "cancelled"))
}

// The daily check compares the ledger's open invoices, each with the run that
// opened it, with the cases running in Temporal: paid and cancelled ones are
// not on the list.
func TestListOpenInvoicesHasTheRunThatOpenedEach(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	none, err := s.ListOpenInvoices(ctx)
	require.NoError(t, err)
	require.Empty(t, none)

	for _, inv := range []string{"F-31", "F-32", "F-33", "F-34"} {
		c := ref(inv, "ES00210000000000"+inv[2:]+"AB")
		open(t, s, c)
	}
	second := ref("F-32", "ES0021000000000032AB")
	second.RunID, second.Stage = "run-2", "notice_1"
	_, err = s.OpenCase(ctx, activities.OpenCaseInput{Case: second, AmountCents: 12345, ReturnedAt: day(2025, 5, 1, 9)})
	require.NoError(t, err, "returned again: a new run reopens it")
	paid := ref("F-33", "ES0021000000000033AB")
	_, err = s.Settle(ctx, activities.SettleInput{Case: paid, PaidAt: day(2025, 3, 12, 10)})
	require.NoError(t, err)
	require.NoError(t, s.CancelInvoice(ctx, activities.CancelInput{Case: ref("F-34", ""), By: "ana", Reason: "error", At: time.Now()}))
	// Opened in this order; the reopened one last.
	exec(t, s, `UPDATE invoices SET opened_at = $2 WHERE invoice = $1`, "F-31", day(2025, 3, 10, 12))
	exec(t, s, `UPDATE invoices SET opened_at = $2 WHERE invoice = $1`, "F-32", day(2025, 5, 1, 9))

	got, err := s.ListOpenInvoices(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, activities.OpenInvoice{Invoice: "F-31", WorkflowID: "impago-F-31", RunID: "run-1", Stage: "started"},
		activities.OpenInvoice{Invoice: got[0].Invoice, WorkflowID: got[0].WorkflowID, RunID: got[0].RunID, Stage: got[0].Stage})
	require.True(t, got[0].OpenedAt.Equal(day(2025, 3, 10, 12)))
	require.Equal(t, "F-32", got[1].Invoice)
	require.Equal(t, "run-2", got[1].RunID)
	require.Equal(t, "notice_1", got[1].Stage)
}

// An invoice whose case was cancelled, or held, and that the bank returns
// again opens clean: a new case owes it, with no cancellation nor hold of the
// old one.
func TestCancelledInvoiceReturnedAgainReopensClean(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-20", "ES0021000000000020AB")
	open(t, s, c)
	res, err := s.RecordHold(ctx, activities.HoldInput{Case: c, On: true, Reason: "revisar", By: "luis", At: day(2025, 4, 1, 9)})
	require.NoError(t, err)
	require.True(t, res.Applied)
	require.NoError(t, s.RequestCancel(ctx, "F-20", "rocio", "duplicada"))
	require.NoError(t, s.CancelInvoice(ctx, activities.CancelInput{Case: c, By: "temporal-ui", At: day(2025, 4, 2, 10)}))

	again := c
	again.RunID = "run-2"
	open(t, s, again)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM invoices WHERE invoice = 'F-20' AND status = 'open' AND run_id = 'run-2'
		AND cancelled_at IS NULL AND cancelled_by = '' AND cancel_reason = '' AND hold_reason = '' AND hold_at IS NULL`))
}
