package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

// newStore opens a Store on a migrated schema of its own, dropped when the
// test ends.
func newStore(t testing.TB) *store.Store {
	t.Helper()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	s, done, err := store.OpenIsolated(context.Background(), dsn, "report_test")
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := done(); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return s
}

// ledger drives cases through the store the way the workflow does.
type ledger struct {
	t  *testing.T
	db *store.Store
	n  int
}

func (l *ledger) open(invoice, customer, cups string, cents int64, returned time.Time) *activities.CaseRef {
	l.t.Helper()
	c := &activities.CaseRef{WorkflowID: "impago-" + invoice, RunID: "run-1", Invoice: invoice, Customer: customer,
		Cups: cups, Stage: "notice_1", AmountDueCents: cents}
	_, err := l.db.OpenCase(context.Background(), activities.OpenCaseInput{Case: *c, AmountCents: cents, ReturnedAt: returned})
	require.NoError(l.t, err)
	return c
}

// pay records a payment the case received and lowers what it owes, never
// below zero, as the workflow does.
func (l *ledger) pay(c *activities.CaseRef, cents int64) {
	l.t.Helper()
	l.n++
	c.AmountDueCents = max(c.AmountDueCents-cents, 0)
	_, err := l.db.RecordPayment(context.Background(), activities.PaymentInput{Case: *c,
		Key: fmt.Sprintf("pago-%s-%d", c.Invoice, l.n), AmountCents: cents, PaidAt: time.Now()})
	require.NoError(l.t, err)
}

func (l *ledger) settle(c *activities.CaseRef, stage string) {
	l.t.Helper()
	c.Stage = stage
	_, err := l.db.Settle(context.Background(), activities.SettleInput{Case: *c, PaidAt: time.Now()})
	require.NoError(l.t, err)
}

func (l *ledger) cut(c *activities.CaseRef) {
	l.t.Helper()
	c.Stage = "cut"
	_, err := l.db.RequestCut(context.Background(), activities.CutInput{Case: *c, ApprovedBy: "cortes", At: time.Now()})
	require.NoError(l.t, err)
}

func (l *ledger) notice(c *activities.CaseRef, kind string, channels ...string) {
	l.t.Helper()
	var msgs []activities.OutboxMessage
	for _, ch := range channels {
		msgs = append(msgs, activities.OutboxMessage{Key: c.Invoice + "-" + kind + "-" + ch, Kind: kind, Channel: ch,
			Recipient: "cliente@example.com", Body: "aviso", At: time.Now()})
	}
	_, err := l.db.PutOutbox(context.Background(), *c, msgs)
	require.NoError(l.t, err)
}

func (l *ledger) exec(q string, args ...any) {
	l.t.Helper()
	_, err := l.db.Pool().Exec(context.Background(), q, args...)
	require.NoError(l.t, err)
}

func daysAgo(n int) time.Time { return time.Now().AddDate(0, 0, -n) }

// TestReportChecksADayOfReturnsAndPayments: yesterday's total, plus the
// invoices returned today, minus the payments recorded today, is today's
// total; overpayments and payments the table cannot take are shown apart.
func TestReportChecksADayOfReturnsAndPayments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &ledger{t: t, db: newStore(t)}
	a := l.open("F-A", "Ana", "ES0001", 10000, daysAgo(10))
	b := l.open("F-B", "Bea", "ES0002", 5000, daysAgo(40))
	c := l.open("F-C", "Carlos", "ES0003", 3000, daysAgo(70))

	first, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	require.Equal(t, CheckFirst, first.Check.Status)
	require.Equal(t, int64(18000), first.Totals.PendingCents)
	require.NotZero(t, first.RunID)

	l.open("F-D", "Diego", "ES0004", 2000, daysAgo(0))
	l.pay(a, 4000)
	l.pay(b, 5000)
	l.settle(b, "paid")
	l.pay(c, 3500) // 5,00 € more than it owed
	l.settle(c, "paid")
	// A payment of an invoice no case knows, and one dated before A's return.
	l.exec(`INSERT INTO payments (key, invoice, paid_at, amount_cents, source) VALUES ('x1', 'F-ZZZ', now(), 777, 'import')`)
	l.exec(`INSERT INTO payments (key, invoice, paid_at, amount_cents, source) VALUES ('x2', 'F-A', now() - interval '30 days', 100, 'import')`)

	res, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	rec := res.Check
	require.Equal(t, CheckBalanced, rec.Status, "%+v", rec.Explanations)
	require.Equal(t, first.RunID, rec.PreviousRunID)
	require.Equal(t, int64(18000), rec.PreviousCents)
	require.Equal(t, 1, rec.NewReturns)
	require.Equal(t, int64(2000), rec.NewReturnsCents)
	require.Equal(t, 3, rec.Payments)
	require.Equal(t, int64(4000+5000+3000), rec.PaymentsCents)
	require.Equal(t, int64(500), rec.OverpaidCents)
	require.Equal(t, "F-C", rec.Overpaid[0].Invoice)
	require.Equal(t, store.PaymentGroup{Count: 1, Cents: 777, Invoices: []string{"F-ZZZ"}}, rec.Stray.Unknown)
	require.Equal(t, store.PaymentGroup{Count: 1, Cents: 100, Invoices: []string{"F-A"}}, rec.Stray.BeforeReturn)
	require.Equal(t, int64(8000), rec.TotalCents)
	require.Equal(t, int64(8000), rec.ExpectedCents)
	require.Zero(t, rec.DifferenceCents)
	require.Empty(t, rec.Explanations)

	// By stage and age: A (10 days, notice_1) and D (today, notice_1) owe.
	require.Equal(t, [4]int64{8000, 0, 0, 0}, res.Totals.AgeCents)
	require.Equal(t, 2, res.Totals.Owing)
	require.Equal(t, 2, res.Totals.Resolved)

	// The next day is checked against the lines this one left.
	d := &activities.CaseRef{WorkflowID: "impago-F-D", RunID: "run-1", Invoice: "F-D", Customer: "Diego", Cups: "ES0004",
		Stage: "notice_1", AmountDueCents: 2000}
	l.pay(d, 2000)
	l.settle(d, "paid")
	l.pay(a, 1000)
	l.open("F-E", "Elena", "ES0005", 1500, daysAgo(1))
	next, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	require.Equal(t, CheckBalanced, next.Check.Status, "%+v", next.Check.Explanations)
	require.Equal(t, res.RunID, next.Check.PreviousRunID)
	require.Equal(t, int64(8000+1500-2000-1000), next.Check.TotalCents)
	var lines int
	var sum int64
	require.NoError(t, l.db.Pool().QueryRow(ctx, `SELECT count(*), sum(pending_cents) FROM report_lines`).Scan(&lines, &sum))
	require.Equal(t, 2, lines, "A and E owe")
	require.Equal(t, next.Check.TotalCents, sum)
}

// TestReportRightAfterAnotherBalancesWithNoMovement: nothing happened between
// two reports, so the second balances with no returns and no payments.
func TestReportRightAfterAnotherBalancesWithNoMovement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &ledger{t: t, db: newStore(t)}
	a := l.open("F-A", "Ana", "ES0001", 10000, daysAgo(5))
	l.pay(a, 2500)
	l.open("F-B", "Bea", "ES0002", 4000, daysAgo(95))

	first, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	second, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	rec := second.Check
	require.Equal(t, CheckBalanced, rec.Status)
	require.Equal(t, first.RunID, rec.PreviousRunID)
	require.Equal(t, first.Totals.PendingCents, rec.PreviousCents)
	require.Equal(t, int64(11500), rec.TotalCents)
	require.Zero(t, rec.NewReturns)
	require.Zero(t, rec.Payments)
	require.Zero(t, rec.DifferenceCents)
	require.Equal(t, [4]int64{7500, 0, 0, 4000}, second.Totals.AgeCents)

	// The summary reads the same without storing anything.
	summary, err := Run(ctx, l.db, Options{})
	require.NoError(t, err)
	require.Zero(t, summary.RunID)
	require.Equal(t, second.RunID, summary.Check.PreviousRunID)
	require.Equal(t, CheckBalanced, summary.Check.Status)
}

// TestReportNamesTheDifference: a previous total altered after it was stored,
// and an amount due lowered without a payment, fail the check with the
// difference and what explains it. The failed run never becomes the previous
// total; a person can accept one.
func TestReportNamesTheDifference(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &ledger{t: t, db: newStore(t)}
	a := l.open("F-A", "Ana", "ES0001", 10000, daysAgo(5))
	l.open("F-B", "Bea", "ES0002", 5000, daysAgo(5))
	first, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)

	l.exec(`UPDATE report_runs SET total_cents = total_cents + 1234 WHERE id = $1`, first.RunID)
	res, err := Run(ctx, l.db, Options{Record: true, Out: filepath.Join(t.TempDir(), "impagos.xlsx")})
	require.ErrorIs(t, err, ErrUnbalanced)
	require.ErrorContains(t, err, "-12,34 €")
	rec := res.Check
	require.Equal(t, CheckUnbalanced, rec.Status)
	require.Equal(t, int64(-1234), rec.DifferenceCents)
	require.Len(t, rec.Explanations, 1)
	require.Empty(t, rec.Explanations[0].Invoice)
	require.Equal(t, int64(-1234), rec.Explanations[0].Cents)
	require.Contains(t, rec.Explanations[0].Reason, "total anterior guardado (162,34 €)")
	require.FileExists(t, res.File, "the workbook is written all the same")
	var status string
	require.NoError(t, l.db.Pool().QueryRow(ctx, `SELECT status FROM report_runs WHERE id = $1`, res.RunID).Scan(&status))
	require.Equal(t, store.RunUnbalanced, status)

	// The amount due of A falls without a payment row.
	a.AmountDueCents = 9000
	l.exec(`UPDATE invoices SET amount_due_cents = 9000 WHERE invoice = 'F-A'`)
	res, err = Run(ctx, l.db, Options{Record: true})
	require.ErrorIs(t, err, ErrUnbalanced)
	rec = res.Check
	require.Equal(t, first.RunID, rec.PreviousRunID, "still checked against the last good total")
	require.Equal(t, int64(-1234-1000), rec.DifferenceCents)
	require.Equal(t, []Explanation{
		{Cents: -1234, Reason: rec.Explanations[0].Reason},
		{Invoice: "F-A", Cents: -1000, Reason: "lo pendiente bajó 10,00 € sin pago registrado que lo explique (debía 100,00 €, ahora debe 90,00 €)"},
	}, rec.Explanations)

	// Accepted, it becomes the previous total; the next report balances.
	res, err = Run(ctx, l.db, Options{Record: true, Accept: "revisado con Ana: descuento pactado"})
	require.NoError(t, err)
	require.Equal(t, CheckAccepted, res.Check.Status)
	accepted := res.RunID
	res, err = Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	require.Equal(t, CheckBalanced, res.Check.Status)
	require.Equal(t, accepted, res.Check.PreviousRunID)
	require.Equal(t, int64(14000), res.Check.PreviousCents)

	var lines int
	var sum int64
	require.NoError(t, l.db.Pool().QueryRow(ctx, `SELECT count(*), sum(pending_cents) FROM report_lines`).Scan(&lines, &sum))
	require.Equal(t, 2, lines, "the lines are those of the latest previous total")
	require.Equal(t, int64(14000), sum)
}

// TestReportWorkbookFromTheLedger colours each row by what the ledger says
// of its case and counts the notices sent.
func TestReportWorkbookFromTheLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &ledger{t: t, db: newStore(t)}
	require.NoError(t, l.db.UpsertContract(ctx, activities.Contract{Cups: "ES0002", Customer: "Bea SL", Segment: activities.SegmentBusiness}))
	require.NoError(t, l.db.UpsertContract(ctx, activities.Contract{Cups: "ES0001", Customer: "Ana", Segment: activities.SegmentDomestic}))

	managing := l.open("F-1", "=HYPERLINK(\"x\")", "ES0001", 10000, daysAgo(20))
	l.notice(managing, activities.KindAviso1, activities.ChannelEmail, activities.ChannelWhatsApp)
	l.notice(managing, activities.KindAviso2, activities.ChannelEmail)
	l.notice(managing, activities.KindRequerimiento, activities.ChannelCertified)
	l.exec(`UPDATE outbox SET status = 'failed' WHERE kind = 'requerimiento'`) // not sent: not counted
	l.notice(managing, activities.KindPaid, activities.ChannelEmail)           // not a notice of the process

	cutDay := calendar.Date(2026, time.March, 3)
	cut := l.open("F-2", "Bea SL", "ES0002", 50000, daysAgo(65))
	cut.CutDate = &cutDay
	l.notice(cut, activities.KindCutLetter, activities.ChannelLetter)
	l.cut(cut)
	l.pay(cut, 20000)

	paid := l.open("F-3", "Carlos", "ES0003", 3000, daysAgo(3))
	l.pay(paid, 3000)
	l.settle(paid, "paid")

	reconnected := l.open("F-4", "Diego", "ES0004", 4000, daysAgo(100))
	l.cut(reconnected)
	l.pay(reconnected, 4000)
	l.settle(reconnected, "reconnected")

	out := filepath.Join(t.TempDir(), "impagos.xlsx")
	res, err := Run(ctx, l.db, Options{Out: out, Record: true})
	require.NoError(t, err)
	require.Equal(t, 1, res.Totals.Managing)
	require.Equal(t, 1, res.Totals.Cut)
	require.Equal(t, 2, res.Totals.Resolved)
	require.Equal(t, int64(10000+30000), res.Totals.PendingCents)

	f, err := excelize.OpenFile(out)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows(SheetTable)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	byInvoice := map[string]int{} // invoice → row number
	for i, r := range rows[1:] {
		byInvoice[r[colInvoice-1]] = i + 2
	}
	fill := func(invoice string) string {
		cell, _ := excelize.CoordinatesToCellName(colCustomer, byInvoice[invoice])
		id, err := f.GetCellStyle(SheetTable, cell)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		if st.Fill.Pattern == 0 {
			return ""
		}
		return st.Fill.Color[0]
	}
	require.Equal(t, FillManaging, fill("F-1"))
	require.Equal(t, FillCut, fill("F-2"))
	require.Equal(t, "", fill("F-3"))
	require.Equal(t, "", fill("F-4"))

	row := func(invoice string) []string { return rows[byInvoice[invoice]-1] }
	today := time.Now().In(madrid).Format("02/01/2006")
	require.Equal(t, "=HYPERLINK(\"x\")", row("F-1")[colCustomer-1])
	require.Equal(t, "2", row("F-1")[colNotices-1], "aviso 1 (two channels) and aviso 2; the failed demand does not count")
	require.Equal(t, "Doméstico", row("F-1")[colSegment-1])
	require.Equal(t, "Empresa", row("F-2")[colSegment-1])
	require.Equal(t, "1", row("F-2")[colNotices-1])
	require.Equal(t, "03/03/2026", row("F-2")[colCutDate-1])
	require.Equal(t, today, row("F-2")[colCutAt-1])
	require.Equal(t, "300.00 €", row("F-2")[colPending-1])
	require.Equal(t, "500.00 €", row("F-2")[colAmount-1])
	require.Equal(t, today, row("F-3")[colPaidAt-1])
	require.Equal(t, today, row("F-4")[colCutAt-1], "the cut stays on the row after the reconnection")
	require.Equal(t, "Reconectado", row("F-4")[colStage-1])
	formula, err := f.GetCellFormula(SheetTable, fmt.Sprintf("A%d", byInvoice["F-1"]))
	require.NoError(t, err)
	require.Empty(t, formula)
	total, err := f.GetCellValue(SheetSummary, "B9", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Equal(t, "400", total, "Total General (importe)")
}

// TestReportAsOfAnEarlierDay: the end of an earlier day holds the invoices
// opened by then and what they owed then; the report of today is then
// checked against it.
func TestReportAsOfAnEarlierDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := &ledger{t: t, db: newStore(t)}
	a := l.open("F-A", "Ana", "ES0001", 10000, daysAgo(9))
	l.open("F-B", "Bea", "ES0002", 5000, daysAgo(1))
	l.exec(`UPDATE invoices SET opened_at = now() - interval '3 days' WHERE invoice = 'F-A'`)
	l.pay(a, 3000) // recorded today

	yesterday := time.Now().In(madrid).AddDate(0, 0, -1)
	past, err := Run(ctx, l.db, Options{AsOf: yesterday, Record: true})
	require.NoError(t, err)
	y, m, d := yesterday.Date()
	require.Equal(t, calendar.Date(y, m, d), past.AsOf)
	require.Equal(t, calendar.Date(y, m, d+1), past.Cutoff, "the end of the day in Madrid")
	require.Equal(t, 1, past.Totals.Invoices, "F-B was opened today")
	require.Equal(t, int64(10000), past.Totals.PendingCents, "the payment was recorded today")
	require.Equal(t, CheckFirst, past.Check.Status)

	today, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	rec := today.Check
	require.Equal(t, CheckBalanced, rec.Status, "%+v", rec.Explanations)
	require.Equal(t, past.RunID, rec.PreviousRunID)
	require.Equal(t, int64(5000), rec.NewReturnsCents)
	require.Equal(t, int64(3000), rec.PaymentsCents)
	require.Equal(t, int64(12000), rec.TotalCents)

	// An earlier day than the last checked report is shown, not checked nor stored.
	again, err := Run(ctx, l.db, Options{AsOf: yesterday, Record: true})
	require.NoError(t, err)
	require.Equal(t, CheckSkipped, again.Check.Status)
	require.Zero(t, again.RunID)

	_, err = Run(ctx, l.db, Options{AsOf: time.Now().AddDate(0, 0, 2)})
	require.ErrorContains(t, err, "has not ended yet")
}
