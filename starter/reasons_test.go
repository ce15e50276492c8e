package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// returnedLedger opens, in the test's own ledger, the cases of three
// customers: Ana owes two invoices (one TRADE gave, one the bank returned
// for lack of funds), Bar Pepe one whose account failed (AC04), Luis one he
// disputes (MD06).
func returnedLedger(t *testing.T) *store.Store {
	t.Helper()
	db := ownLedger(t)
	ctx := t.Context()
	for _, k := range []activities.Contract{
		{Cups: "ES0021000000000001JN", Customer: "Ana García", TaxID: "12345678Z", Segment: "domestico", Phone: "+34600111222"},
		{Cups: "ES0021000000000002XX", Customer: "Bar Pepe", TaxID: "B00000000", Segment: "empresa", Phone: "+34911000000"},
		{Cups: "ES0021000000000003XX", Customer: "Luis Gil", TaxID: "X1234567L", Segment: "domestico", Phone: "+34600111223"},
	} {
		require.NoError(t, db.UpsertContract(ctx, k))
	}
	n := 0
	for _, c := range []struct {
		invoice, customer, cups, reason, path string
		cents                                 int64
	}{
		{"F-1", "Ana García", "ES0021000000000001JN", "", "", 10000},
		{"F-2", "Ana García", "ES0021000000000001JN", "AM04", "funds", 5000},
		{"F-3", "Bar Pepe", "ES0021000000000002XX", "AC04", "account", 3000},
		{"F-4", "Luis Gil", "ES0021000000000003XX", "MD06", "disputed", 2000},
	} {
		ref := activities.CaseRef{WorkflowID: "impago-" + c.invoice, RunID: "run-1", Invoice: c.invoice, Customer: c.customer,
			Cups: c.cups, Stage: "notice_1", AmountDueCents: c.cents}
		_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: ref, AmountCents: c.cents, ReturnedAt: time.Now().AddDate(0, 0, -5)})
		require.NoError(t, err)
		if c.reason == "" {
			continue
		}
		n++
		sha := fmt.Sprintf("file-%d", n)
		_, err = db.Pool().Exec(ctx, `INSERT INTO bank_files (sha256, format, message_id) VALUES ($1, 'pain.002', $1)`, sha)
		require.NoError(t, err)
		_, err = db.Pool().Exec(ctx, `
			INSERT INTO bank_returns (file_id, end_to_end_id, amount_cents, returned_on, reason, path, invoice, cups, status)
			SELECT id, $1, $2, current_date - 5, $3, $4, $1, $5, 'started' FROM bank_files WHERE sha256 = $6`,
			c.invoice, c.cents, c.reason, c.path, c.cups, sha)
		require.NoError(t, err)
	}
	return db
}

// The call list names the bank's reasons of each customer's open invoices,
// and calls a customer with one open invoice whose account or mandate failed,
// to ask for a new IBAN or mandate; on screen and in the workbook.
func TestCallListCommandShowsReasonsAndTheNewMandateTask(t *testing.T) {
	returnedLedger(t)
	xlsx := filepath.Join(t.TempDir(), "llamadas.xlsx")
	code, out, errOut := starter(t, "calllist", "--xlsx", xlsx)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^Ana García\s+\+34600111222\s+F-1, F-2\s+sin motivo \(TRADE\); AM04 · sin fondos\s+150,00 €\s*$`, out)
	require.Regexp(t, `(?m)^Bar Pepe\s+\+34911000000\s+F-3\s+AC04 · cuenta o mandato\s+30,00 €\s+`+workflows.TaskNewMandate+`$`, out)
	require.NotContains(t, out, "Luis Gil", "one disputed invoice: no call")
	require.Contains(t, out, "2 customer(s)")

	f, err := excelize.OpenFile(xlsx)
	require.NoError(t, err)
	defer f.Close()
	rows, err := f.GetRows("LLAMADAS")
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, []string{"Motivos", "Tarea"}, rows[0][7:])
	require.Equal(t, []string{"Ana García", "sin motivo (TRADE); AM04 · sin fondos"}, []string{rows[1][0], rows[1][7]})
	require.Len(t, rows[1], 8, "no task for Ana")
	require.Equal(t, []string{"Bar Pepe", "AC04 · cuenta o mandato", workflows.TaskNewMandate},
		[]string{rows[2][0], rows[2][7], rows[2][8]})
}

// starter summary breaks the open cases and what they owe down by the kind
// of the bank's reason and by code; its JSON keeps every field it had.
func TestSummaryBreaksDownByTheBanksReason(t *testing.T) {
	returnedLedger(t)
	code, out, errOut := starter(t, "summary", "--json")
	require.Equal(t, 0, code, errOut)
	var res struct {
		Totals struct {
			Invoices   int               `json:"invoices"`
			TotalCents int64             `json:"total_cents"`
			Stages     []json.RawMessage `json:"stages"`
			Paths      []struct {
				Path         string `json:"path"`
				Label        string `json:"label"`
				Open         int    `json:"open"`
				PendingCents int64  `json:"pending_cents"`
			} `json:"paths"`
			Reasons []struct {
				Reason       string `json:"reason"`
				Path         string `json:"path"`
				Open         int    `json:"open"`
				PendingCents int64  `json:"pending_cents"`
			} `json:"reasons"`
		} `json:"totals"`
		Check map[string]any `json:"reconciliation"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Equal(t, 4, res.Totals.Invoices)
	require.Equal(t, int64(20000), res.Totals.TotalCents)
	require.NotEmpty(t, res.Totals.Stages)
	require.Equal(t, "first", res.Check["status"])

	type line struct {
		key     string
		open    int
		pending int64
	}
	var paths, reasons []line
	for _, p := range res.Totals.Paths {
		paths = append(paths, line{p.Path + " " + p.Label, p.Open, p.PendingCents})
	}
	for _, r := range res.Totals.Reasons {
		reasons = append(reasons, line{r.Path + " " + r.Reason, r.Open, r.PendingCents})
	}
	require.Equal(t, []line{
		{"funds sin fondos", 1, 5000}, {"disputed rechazo del cliente", 1, 2000},
		{"account cuenta o mandato", 1, 3000}, {"none sin motivo (TRADE)", 1, 10000},
	}, paths)
	require.Equal(t, []line{{"funds AM04", 1, 5000}, {"disputed MD06", 1, 2000}, {"account AC04", 1, 3000}, {"none ", 1, 10000}}, reasons)

	code, out, errOut = starter(t, "summary")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "By the bank's reason for the return:")
	require.Regexp(t, `(?m)^  disputed\s+1\s+1\s+20,00 €$`, out)
	require.Regexp(t, `(?m)^\s+MD06\s+1\s+1\s+20,00 €$`, out)
	require.Regexp(t, `(?m)^  none \(TRADE, no reason\)\s+1\s+1\s+100,00 €$`, out)
}
