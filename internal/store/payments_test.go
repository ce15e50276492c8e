package store

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/workflows"
)

func TestImportPayments_OneTransferPayingTwoInvoicesRecordsBoth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	open(t, s, ref("F-1", testCups))
	open(t, s, ref("F-2", testCups))
	rows := []sheets.Payment{
		{Row: 2, PaidAt: day(2025, 3, 20, 0), Invoice: "F-1", AmountCents: 12345, Method: "transferencia", Reference: "TRF-77"},
		{Row: 3, PaidAt: day(2025, 3, 20, 0), Invoice: "F-2", AmountCents: 12345, Method: "transferencia", Reference: "TRF-77"},
		// A second partial payment under the same reference, another day.
		{Row: 4, PaidAt: day(2025, 4, 20, 0), Invoice: "F-2", AmountCents: 100, Method: "transferencia", Reference: "TRF-77"},
	}
	got, err := s.ImportPayments(ctx, "pagos.xlsx", rows)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, r := range got {
		require.True(t, r.New, "row %d", r.Payment.Row)
		require.Equal(t, workflows.PaymentKeyOf(r.Payment.Invoice, "TRF-77", r.Payment.PaidAt, r.Payment.AmountCents), r.Key)
	}
	require.Zero(t, got[0].OverpaidCents)
	require.Equal(t, int64(100), got[2].OverpaidCents)

	again, err := s.ImportPayments(ctx, "pagos.xlsx", rows)
	require.NoError(t, err)
	for _, r := range again {
		require.False(t, r.New, "row %d: the same workbook again adds nothing", r.Payment.Row)
	}
	require.Equal(t, 3, count(t, s, `SELECT count(*) FROM payments`))
}

// A workbook imported when a payment's key was its reference alone, or a
// case that still keys it so, meets the key that names the invoice: one
// payment.
func TestPayments_TheOlderKeyOfAReferenceIsTheSamePayment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := ref("F-1", testCups)
	open(t, s, c)
	_, err := s.Pool().Exec(ctx, `
		INSERT INTO payments (key, invoice, paid_at, amount_cents, reference, source) VALUES
			('ref:TRF-1', 'F-1', $1, 5000, 'TRF-1', 'import'),
			('ref:TRF-2', 'F-9', $1, 7000, 'TRF-2', 'import')`, day(2025, 3, 20, 0))
	require.NoError(t, err)

	got, err := s.ImportPayments(ctx, "pagos.xlsx", []sheets.Payment{
		{Row: 2, PaidAt: day(2025, 3, 20, 0), Invoice: "F-1", AmountCents: 5000, Reference: "TRF-1"},
		// The same reference paid another invoice too: a payment of its own.
		{Row: 3, PaidAt: day(2025, 3, 20, 0), Invoice: "F-2", AmountCents: 7000, Reference: "TRF-2"},
	})
	require.NoError(t, err)
	require.False(t, got[0].New)
	require.Equal(t, "ref:TRF-1", got[0].Key)
	require.True(t, got[1].New)

	// The paid signal, keyed either way, finds the payment.
	for _, key := range []string{
		workflows.PaymentKeyOf("F-1", "TRF-1", day(2025, 3, 20, 0), 5000),
		workflows.PaymentKey("F-1", "TRF-1", day(2025, 3, 20, 0), 5000),
	} {
		inserted, err := s.RecordPayment(ctx, activities.PaymentInput{Case: c, Key: key, AmountCents: 5000,
			PaidAt: day(2025, 3, 20, 0), Reference: "TRF-1"})
		require.NoError(t, err, key)
		require.False(t, inserted, key)
	}
	// A case that keys the old way, paid by a transfer the workbook recorded
	// under the new key, dated another day by the clerk.
	d := ref("F-2", testCups)
	open(t, s, d)
	inserted, err := s.RecordPayment(ctx, activities.PaymentInput{Case: d, Key: "ref:TRF-2", AmountCents: 7000,
		PaidAt: day(2025, 3, 22, 0), Reference: "TRF-2"})
	require.NoError(t, err)
	require.False(t, inserted)
	require.Equal(t, 3, count(t, s, `SELECT count(*) FROM payments`))
}

func TestRecordPayment_AKeyOfAnotherPaymentIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c := ref("F-1", testCups)
	open(t, s, c)
	in := activities.PaymentInput{Case: c, Key: "ref:TRF-1", AmountCents: 5000, PaidAt: day(2025, 3, 20, 0), Reference: "TRF-1"}
	inserted, err := s.RecordPayment(ctx, in)
	require.NoError(t, err)
	require.True(t, inserted)

	other := ref("F-2", testCups)
	open(t, s, other)
	in.Case = other
	_, err = s.RecordPayment(ctx, in)
	var refusal *activities.PaymentRefusal
	require.True(t, errors.As(err, &refusal), "%v", err)
	require.Equal(t, "ref:TRF-1", refusal.Key)
	require.Contains(t, refusal.Detail, "F-1")
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM payments`))
}
