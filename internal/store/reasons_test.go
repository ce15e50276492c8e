package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

// putReturn stores a bank's return of invoice straight into the ledger, in a
// file of its own, recorded at imported.
func putReturn(t *testing.T, s *Store, invoice, reason, path, status string, returned, imported time.Time) {
	t.Helper()
	var file int64
	require.NoError(t, s.Pool().QueryRow(t.Context(), `
		INSERT INTO bank_files (sha256, format, message_id) VALUES (md5(random()::text), 'pain.002', 'MSG')
		RETURNING id`).Scan(&file))
	exec(t, s, `
		INSERT INTO bank_returns (file_id, end_to_end_id, amount_cents, returned_on, reason, path, invoice, status, imported_at)
		VALUES ($1, $2, 12345, $3, $4, $5, $2, $6, $7)`, file, invoice, returned, reason, path, status, imported)
}

// TestReportRowsCarryTheBankReasonOfTheReturn: a row's reason is that of the
// latest return a bank's file gave its invoice and the ledger matched to it
// (started, told or known), recorded by the cutoff; an invoice TRADE
// returned, or whose bank's return is still unplaced, has none.
func TestReportRowsCarryTheBankReasonOfTheReturn(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	exec(t, s, `INSERT INTO invoices (invoice, customer, cups, amount_cents, amount_due_cents, returned_at,
			status, stage, run_id, opened_at, updated_at) VALUES
		('F-TRADE', 'Ana', 'ES1', 10000, 10000, '2025-03-01', 'open', 'notice_1', 'run-1', '2025-03-01', now()),
		('F-TWICE', 'Bea', 'ES2', 5000, 5000, '2025-03-02', 'open', 'on_hold', 'run-1', '2025-03-02', now()),
		('F-PEND', 'Carlos', 'ES3', 3000, 3000, '2025-03-03', 'open', 'notice_1', 'run-1', '2025-03-03', now()),
		('F-LATE', 'Dora', 'ES4', 2000, 2000, '2025-03-04', 'open', 'notice_1', 'run-1', '2025-03-04', now())`)
	early := time.Date(2025, time.March, 5, 10, 0, 0, 0, madrid)
	// F-TWICE: AM04 first; the bank's later return of it says MD06.
	putReturn(t, s, "F-TWICE", "AM04", "funds", ReturnSent, early.AddDate(0, 0, -3), early)
	putReturn(t, s, "F-TWICE", "MD06", "disputed", ReturnKnown, early.AddDate(0, 0, -1), early)
	putReturn(t, s, "F-PEND", "AC04", "account", ReturnPending, early, early)
	putReturn(t, s, "F-LATE", "MD07", "deceased", ReturnStarted, early, time.Date(2025, time.March, 20, 10, 0, 0, 0, madrid))

	read := func(day time.Time) map[string]ReportRow {
		t.Helper()
		v, err := s.OpenReportView(ctx, day, false)
		require.NoError(t, err)
		defer v.Close()
		return reportRows(t, v, nil)
	}
	now := read(time.Time{})
	require.Len(t, now, 4)
	for inv, want := range map[string][2]string{
		"F-TRADE": {"", ""},
		"F-TWICE": {"MD06", "disputed"},
		"F-PEND":  {"", ""},
		"F-LATE":  {"MD07", "deceased"},
	} {
		require.Equal(t, want, [2]string{now[inv].ReturnReason, now[inv].ReturnPath}, inv)
	}

	// At the end of 10 March, F-LATE's file was not yet in the ledger.
	then := read(time.Date(2025, time.March, 10, 0, 0, 0, 0, madrid))
	require.Equal(t, "MD06", then["F-TWICE"].ReturnReason)
	require.Empty(t, then["F-LATE"].ReturnReason)
	require.Empty(t, then["F-LATE"].ReturnPath)
}

// TestCallListShowsReasonsAndAsksForANewMandate: each entry gives the bank's
// reason of every open invoice; a customer with one open invoice is called
// when its return says the account or mandate failed (a new IBAN or mandate
// is asked for), not for any other reason; a paid invoice's reason asks
// nothing.
func TestCallListShowsReasonsAndAsksForANewMandate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	for _, k := range []activities.Contract{
		{Cups: "ES0021000000000001JN", Customer: "Ana García", TaxID: "12345678Z", Segment: "domestico", Phone: "+34600111222"},
		{Cups: "ES0021000000000002XX", Customer: "Ana García", TaxID: "12345678Z", Segment: "domestico", Phone: "+34600111222"},
		{Cups: "ES0021000000000003XX", Customer: "Bar Pepe", TaxID: "B00000000", Segment: "empresa", Phone: "+34911000000"},
		{Cups: "ES0021000000000004XX", Customer: "Luis Gil", TaxID: "X1234567L", Segment: "domestico", Phone: "+34600111223"},
		{Cups: "ES0021000000000005XX", Customer: "Eva Gil", TaxID: "Y1234567X", Segment: "domestico", Phone: "+34600111224"},
	} {
		require.NoError(t, s.UpsertContract(ctx, k))
	}
	ana1, ana2 := ref("F-1", "ES0021000000000001JN"), ref("F-2", "ES0021000000000002XX")
	pepe, luis := ref("F-3", "ES0021000000000003XX"), ref("F-4", "ES0021000000000004XX")
	eva := ref("F-5", "ES0021000000000005XX")
	for _, c := range []activities.CaseRef{ana1, ana2, pepe, luis, eva} {
		open(t, s, c)
	}
	on := time.Date(2025, time.March, 10, 0, 0, 0, 0, madrid)
	putReturn(t, s, "F-2", "AM04", "funds", ReturnStarted, on, on)
	putReturn(t, s, "F-3", "AC04", "account", ReturnStarted, on, on)
	putReturn(t, s, "F-4", "MD06", "disputed", ReturnStarted, on, on)
	putReturn(t, s, "F-5", "MD01", "account", ReturnSent, on, on)
	_, err := s.Settle(ctx, activities.SettleInput{Case: eva, PaidAt: day(2025, 6, 20, 12)})
	require.NoError(t, err)

	list, err := s.CallList(ctx)
	require.NoError(t, err)
	byTaxID := map[string]CallEntry{}
	for _, e := range list {
		byTaxID[e.TaxID] = e
	}
	require.Len(t, list, 2, "Luis owes one disputed invoice and Eva paid hers: no call")

	ana := byTaxID["12345678Z"]
	require.Equal(t, []string{"F-1", "F-2"}, ana.Invoices)
	require.Equal(t, []string{"", "AM04"}, ana.Reasons, "F-1 came from TRADE")
	require.Equal(t, []string{"", "funds"}, ana.Paths)
	require.False(t, ana.NewMandate)

	bar := byTaxID["B00000000"]
	require.Equal(t, []string{"F-3"}, bar.Invoices, "one open invoice, on the account path")
	require.Equal(t, []string{"AC04"}, bar.Reasons)
	require.Equal(t, []string{"account"}, bar.Paths)
	require.True(t, bar.NewMandate)
	require.Equal(t, "+34911000000", bar.Phone)
	require.Equal(t, pepe.AmountDueCents, bar.TotalCents)
}
