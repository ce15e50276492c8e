package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

func TestReasonLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ reason, path, want string }{
		{"AM04", "funds", "AM04 · sin fondos"},
		{"MD06", "disputed", "MD06 · rechazo del cliente"},
		{"AC04", "account", "AC04 · cuenta o mandato"},
		{"MD07", "deceased", "MD07 · titular fallecido"},
		{"AM05", "our_error", "AM05 · error nuestro"},
		{"", "", "sin motivo (TRADE)"},
		{"XX99", "elsewhere", "XX99 · elsewhere"},
	} {
		require.Equal(t, tc.want, ReasonLabel(tc.reason, tc.path), "%s %s", tc.reason, tc.path)
	}
}

// The totals by path and by code: one code on two paths (MD01) is two
// lines; the invoices without a bank's reason go under PathNone; paths are
// listed in the order of PROCESS, codes by path then code; each list adds up
// to the Total General.
func TestTotalsByReason(t *testing.T) {
	t.Parallel()
	asOf := calendar.Date(2026, time.March, 15)
	rows := []store.ReportRow{
		{Invoice: "1", AmountCents: 100, PendingCents: 100, ReturnReason: "MD01", ReturnPath: "account"},
		{Invoice: "2", AmountCents: 200, PendingCents: 200, ReturnReason: "MD01", ReturnPath: "disputed"},
		{Invoice: "3", AmountCents: 300, PendingCents: 300},
		{Invoice: "4", AmountCents: 400, PendingCents: 0, PaidAt: asOf, ReturnReason: "AM04", ReturnPath: "funds"},
		{Invoice: "5", AmountCents: 500, PendingCents: 500, ReturnReason: "AC04", ReturnPath: "account"},
		{Invoice: "6", AmountCents: 600, PendingCents: 600, ReturnReason: "MS03", ReturnPath: "funds"},
	}
	var tot Totals
	for i := range rows {
		tot.add(&rows[i], StateOf(&rows[i]), asOf)
	}
	tot.sort()
	type line struct {
		path, reason          string
		invoices, open, owing int
		pending               int64
	}
	lines := func(list []ReasonTotal) []line {
		var out []line
		var sum int64
		for _, r := range list {
			out = append(out, line{r.Path, r.Reason, r.Invoices, r.Open, r.Owing, r.PendingCents})
			sum += r.PendingCents
		}
		require.Equal(t, tot.PendingCents, sum, "adds up to the Total General")
		return out
	}
	require.Equal(t, []line{
		{"funds", "", 2, 1, 1, 600},
		{"disputed", "", 1, 1, 1, 200},
		{"account", "", 2, 2, 2, 600},
		{PathNone, "", 1, 1, 1, 300},
	}, lines(tot.Paths))
	require.Equal(t, []line{
		{"funds", "AM04", 1, 0, 0, 0},
		{"funds", "MS03", 1, 1, 1, 600},
		{"disputed", "MD01", 1, 1, 1, 200},
		{"account", "AC04", 1, 1, 1, 500},
		{"account", "MD01", 1, 1, 1, 100},
		{PathNone, "", 1, 1, 1, 300},
	}, lines(tot.Reasons))
}

// Many reason codes never reach the pivot table's rows: the codes that owe
// least are added up in one line, and the total is still the Total General.
func TestWorkbookReasonsStayAboveThePivot(t *testing.T) {
	t.Parallel()
	asOf := calendar.Date(2026, time.March, 15)
	var rows []store.ReportRow
	for i := range 20 {
		rows = append(rows, store.ReportRow{
			Invoice: fmt.Sprintf("F-%02d", i), Customer: "Ana", AmountCents: int64(100 * (i + 1)), PendingCents: int64(100 * (i + 1)),
			Stage: "notice_1", ReturnedAt: asOf, ReturnReason: fmt.Sprintf("C%02d", i), ReturnPath: "funds",
		})
	}
	wb, err := newWorkbook(len(rows), asOf, asOf.Add(9*time.Hour))
	require.NoError(t, err)
	defer wb.close()
	var tot Totals
	for i := range rows {
		st := StateOf(&rows[i])
		tot.add(&rows[i], st, asOf)
		require.NoError(t, wb.add(&rows[i], st))
	}
	tot.sort()
	require.Len(t, tot.Reasons, 20)
	require.NoError(t, wb.finish(&tot, &Reconciliation{Status: CheckFirst, TotalCents: tot.PendingCents}))
	path := filepath.Join(t.TempDir(), "motivos.xlsx")
	require.NoError(t, writeFile(path, wb))

	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	get := func(cell string) string {
		v, err := f.GetCellValue(SheetSummary, cell, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	// 15 lines fit: the 14 codes that owe most (C06 to C19, 7 to 20 euros),
	// the 6 others in one line (1 + ... + 6 = 21 euros), then the total.
	require.Equal(t, "C06 · sin fondos", get("H6"))
	require.Equal(t, "C19 · sin fondos", get("H19"))
	require.Equal(t, []string{"Otros motivos (6)", "6", "21"}, []string{get("H20"), get("I20"), get("J20")})
	require.Equal(t, []string{"Total", "20", "210"}, []string{get("H21"), get("I21"), get("J21")})
	require.Equal(t, float64(tot.PendingCents)/100, 210.0)
	for _, c := range []string{"H22", "H23", "H24", "D22", "D24"} {
		require.Empty(t, get(c), "%s: nothing on the pivot's rows", c)
	}
}

// putBankReturn records in the ledger a return a bank's file gave invoice,
// already matched to it (started, told or known).
func (l *ledger) putBankReturn(invoice, reason, path, status string) {
	l.t.Helper()
	l.n++
	l.exec(`INSERT INTO bank_files (sha256, format, message_id) VALUES ($1, 'pain.002', $1)`, fmt.Sprintf("file-%d", l.n))
	l.exec(`INSERT INTO bank_returns (file_id, end_to_end_id, amount_cents, returned_on, reason, path, invoice, status)
		SELECT id, $1, 1000, current_date, $2, $3, $1, $4 FROM bank_files WHERE sha256 = $5`,
		invoice, reason, path, status, fmt.Sprintf("file-%d", l.n))
}

// TestReportShowsTheBankReasonOfEachReturn: from the ledger, the table says
// why the bank returned each invoice (a return TRADE gave has no reason),
// the totals and RESUMEN TOTAL IMPAGO break what is owed down by kind of
// reason and by code, and the check of the total goes on as before.
func TestReportShowsTheBankReasonOfEachReturn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := &ledger{t: t, db: newStore(t)}
	l.open("F-A", "Ana", "ES0001", 10000, daysAgo(10)) // from TRADE
	l.open("F-B", "Bea", "ES0002", 5000, daysAgo(9))
	// The bank's file of F-B's return comes after its case opened: known.
	imp, err := l.db.ImportBankFile(ctx, store.BankFile{SHA256: "b", Format: "pain.002", MessageID: "MSG-B"}, []store.BankReturn{{
		EndToEndID: "F-B", AmountCents: 5000, ReturnedOn: daysAgo(9), Reason: "MD06", Path: "disputed", Where: "F-B",
	}})
	require.NoError(t, err)
	require.Equal(t, store.ReturnKnown, imp.Returns[0].Status)
	l.open("F-C", "Carlos", "ES0003", 3000, daysAgo(8))
	l.putBankReturn("F-C", "AC04", "account", store.ReturnStarted)
	d := l.open("F-D", "Diego", "ES0004", 2000, daysAgo(7))
	l.putBankReturn("F-D", "AM04", "funds", store.ReturnSent)
	l.pay(d, 2000)
	l.settle(d, "paid")
	l.open("F-E", "Eva", "ES0005", 4000, daysAgo(6))
	l.putBankReturn("F-E", "AM04", "funds", store.ReturnPending) // not placed: no reason of the invoice yet

	out := filepath.Join(t.TempDir(), "impagos.xlsx")
	first, err := Run(ctx, l.db, Options{Out: out, Record: true})
	require.NoError(t, err)
	type line struct {
		key         string
		open        int
		pendingCent int64
	}
	lines := func(list []ReasonTotal) []line {
		var out []line
		for _, r := range list {
			out = append(out, line{r.Path + "/" + r.Reason, r.Open, r.PendingCents})
		}
		return out
	}
	require.Equal(t, []line{{"funds/", 0, 0}, {"disputed/", 1, 5000}, {"account/", 1, 3000}, {"none/", 2, 14000}},
		lines(first.Totals.Paths))
	require.Equal(t, []line{{"funds/AM04", 0, 0}, {"disputed/MD06", 1, 5000}, {"account/AC04", 1, 3000}, {"none/", 2, 14000}},
		lines(first.Totals.Reasons))

	f, err := excelize.OpenFile(out)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows(SheetTable)
	require.NoError(t, err)
	reason := map[string]string{}
	for _, r := range rows[1:] {
		reason[r[colInvoice-1]] = r[colReason-1]
	}
	require.Equal(t, map[string]string{
		"F-A": "sin motivo (TRADE)", "F-B": "MD06 · rechazo del cliente", "F-C": "AC04 · cuenta o mandato",
		"F-D": "AM04 · sin fondos", "F-E": "sin motivo (TRADE)",
	}, reason)
	get := func(cell string) string {
		v, err := f.GetCellValue(SheetSummary, cell, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		return v
	}
	require.Equal(t, []string{"MD06 · rechazo del cliente", "1", "50"}, []string{get("H7"), get("I7"), get("J7")})
	require.Equal(t, []string{"Total", "4", "220"}, []string{get("H10"), get("I10"), get("J10")})
	require.Equal(t, "220", get("B9"), "Total General (importe)")
	f.Close()

	// F-E's return is placed and F-C is half paid: the breakdown follows, and
	// the check of the total balances as ever.
	l.exec(`UPDATE bank_returns SET status = 'started' WHERE invoice = 'F-E'`)
	c := &activities.CaseRef{WorkflowID: "impago-F-C", RunID: "run-1", Invoice: "F-C", Customer: "Carlos", Cups: "ES0003",
		Stage: "notice_1", AmountDueCents: 3000}
	l.pay(c, 1000)
	next, err := Run(ctx, l.db, Options{Record: true})
	require.NoError(t, err)
	require.Equal(t, CheckBalanced, next.Check.Status)
	require.Equal(t, first.Check.TotalCents-1000, next.Check.TotalCents)
	require.Equal(t, []line{{"funds/", 1, 4000}, {"disputed/", 1, 5000}, {"account/", 1, 2000}, {"none/", 1, 10000}},
		lines(next.Totals.Paths))

	var text strings.Builder
	require.NoError(t, WriteText(&text, next))
	require.Contains(t, text.String(), "By the bank's reason for the return:")
	require.Regexp(t, `(?m)^  account\s+1\s+1\s+20,00 €$`, text.String())
	require.Regexp(t, `(?m)^\s+AC04\s+1\s+1\s+20,00 €$`, text.String())
	require.Regexp(t, `(?m)^  none \(TRADE, no reason\)\s+1\s+1\s+100,00 €$`, text.String())
}
