// Package reporttest fills a ledger with invoices in every state, straight
// into its tables: the large report test and `make bench` measure the report
// on it (going through the cases would take longer than either).
package reporttest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/store"
)

// SeedLedger COPYs n invoices into the store's schema: 60% in management with
// the notices of aviso 1 sent, 10% cut, 30% paid (and a part paid of a third of
// those in management); 30,000 customers; returns spread over 200 days; half
// of them returned by a bank's file with its reason (the others by TRADE),
// one in ten of those returned by the bank twice.
func SeedLedger(ctx context.Context, db *store.Store, n int) error {
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	now := time.Now()
	stages := []string{"notice_1", "notice_2", "notice_3", "cut_scheduled", "cut_review", "on_hold"}
	kind := func(i int) int { return i % 10 } // 0-5 in management, 6 cut, 7-9 paid
	invoice := func(i int) string { return fmt.Sprintf("FR26-%07d", i) }
	cupsOf := func(i int) string { return cups.Make(31, int64(i)) }
	customer := func(i int) string { return fmt.Sprintf("Cliente %05d", i%30000) }
	returned := func(i int) time.Time { return now.Add(-time.Duration(1+i%200) * 24 * time.Hour) }
	amount := func(i int) int64 { return int64(2000 + (i*7919)%200000) }
	cut := func(j int) int { return 10*j + 6 }

	copyRows := func(table string, cols []string, rows int, row func(i int) []any) error {
		i := -1
		_, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i++; i >= rows {
				return nil, nil
			}
			return row(i), nil
		}))
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}
	reasons := []struct{ reason, path string }{
		{"AM04", "funds"}, {"MS03", "funds"}, {"MD06", "disputed"}, {"AC04", "account"}, {"MD01", "account"},
		{"MD07", "deceased"}, {"AM05", "our_error"},
	}
	// Bank return j is of invoice banked(j): the even invoices, and again
	// every tenth of them, ten days before.
	banked := func(j int) int {
		if j < n/2 {
			return 2 * j
		}
		return 20 * (j - n/2)
	}
	bankReturns := n/2 + n/20
	var payers []int
	for i := range n {
		if kind(i) >= 7 || i%3 != 0 {
			payers = append(payers, i)
		}
	}
	for _, c := range []struct {
		table string
		cols  []string
		rows  int
		row   func(i int) []any
	}{
		{"contracts", []string{"cups", "customer", "segment", "phone", "email"}, n, func(i int) []any {
			seg := "domestico"
			if i%3 == 0 {
				seg = "empresa"
			}
			return []any{cupsOf(i), customer(i), seg, "+34600000000", "cliente@example.com"}
		}},
		{"invoices", []string{"invoice", "customer", "cups", "amount_cents", "amount_due_cents", "returned_at",
			"status", "stage", "cut_date", "workflow_id", "run_id", "opened_at", "paid_at"}, n, func(i int) []any {
			ret := returned(i)
			status, stage, due := "open", stages[i%len(stages)], amount(i)-int64(i%3)*500
			var paidAt, cutDate any
			switch kind(i) {
			case 6:
				stage, cutDate = "cut", ret.AddDate(0, 0, 30)
			case 7, 8, 9:
				status, stage, due, paidAt = "paid", "paid", 0, ret.Add(48*time.Hour)
			}
			return []any{invoice(i), customer(i), cupsOf(i), amount(i), due, ret,
				status, stage, cutDate, "impago-" + invoice(i), "run-1", ret.Add(time.Hour), paidAt}
		}},
		{"outbox", []string{"idempotency_key", "run_id", "invoice", "kind", "channel", "recipient", "notice_at"}, 2 * n, func(j int) []any {
			i := j / 2
			ch := []string{"email", "whatsapp"}[j%2]
			return []any{invoice(i) + "/" + ch, "run-1", invoice(i), "aviso_1", ch, "x", returned(i)}
		}},
		{"supply_points", []string{"cups"}, n / 10, func(j int) []any { return []any{cupsOf(cut(j))} }},
		{"cuts", []string{"id", "cups", "requested_by_invoice", "cut_at"}, n / 10, func(j int) []any {
			return []any{int64(j + 1), cupsOf(cut(j)), invoice(cut(j)), returned(cut(j)).AddDate(0, 0, 30)}
		}},
		{"cut_invoices", []string{"cut_id", "invoice"}, n / 10, func(j int) []any { return []any{int64(j + 1), invoice(cut(j))} }},
		{"bank_files", []string{"id", "sha256", "format", "message_id"}, 1, func(int) []any {
			return []any{int64(1), "seed", "pain.002", "SEED-1"}
		}},
		{"bank_returns", []string{"file_id", "end_to_end_id", "amount_cents", "returned_on", "reason", "path",
			"invoice", "cups", "status", "imported_at"}, bankReturns, func(j int) []any {
			i := banked(j)
			ret, status := returned(i), "started"
			if j >= n/2 {
				ret, status = ret.AddDate(0, 0, -10), "sent"
			}
			r := reasons[(i/2+j)%len(reasons)]
			return []any{int64(1), invoice(i), amount(i), ret, r.reason, r.path, invoice(i), cupsOf(i), status, ret}
		}},
		{"payments", []string{"key", "invoice", "paid_at", "amount_cents", "source", "created_at"}, len(payers), func(j int) []any {
			i := payers[j]
			paid := int64(i%3) * 500
			if kind(i) >= 7 {
				paid = amount(i)
			}
			return []any{fmt.Sprintf("p-%d", i), invoice(i), returned(i).Add(48 * time.Hour), paid, "import", returned(i).Add(2 * time.Hour)}
		}},
	} {
		if err := copyRows(c.table, c.cols, c.rows, c.row); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return err
}
