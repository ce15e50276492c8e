package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/internal/report"
	"github.com/elega/impagos/internal/store"
)

// reportFigure is figure 5: the clerks' workbook of a ledger of 100,000
// invoices, as `starter report --out` makes it (report.Run, recorded), in a
// child process for its peak RSS. The first report of a ledger also stores a
// line per invoice for the next one to check against; the figure is the
// report of every other day, checked against the one before: the faster of
// the second and the third, the larger peak RSS of the two.
func (b *bench) reportFigure(ctx context.Context) error {
	n := b.opts.sizes.reportRows
	db, dsn, err := b.isolated(ctx, "bench_report")
	if err != nil {
		return err
	}
	t := time.Now()
	if err := seedLedger(ctx, db, n); err != nil {
		return fmt.Errorf("seed the ledger: %w", err)
	}
	progress("figure 5: ledger of %d invoices written in %s", n, time.Since(t).Round(time.Millisecond))
	out := filepath.Join(b.tmp, "impagos.xlsx")
	var best childResult
	var peak int64
	for i, what := range []string{"the first report", "the second report", "the third report"} {
		a := childArgs{what: "report", file: out, dsn: dsn}
		if b.opts.profileDir != "" {
			a.profile = profilePath(b.opts.profileDir, fmt.Sprintf("report-%d", i+1))
		}
		res, _, err := runChild(ctx, a)
		if err != nil {
			return err
		}
		if res.Rows != n {
			return fmt.Errorf("%s has %d invoices, want %d", what, res.Rows, n)
		}
		progress("figure 5: %s: %d rows in %.2fs, %.0f rows/s, peak RSS %.0f MB, CPU %.2fs + %.2fs in the database (%s)",
			what, res.Rows, res.Seconds, float64(res.Rows)/res.Seconds, mb(res.PeakRSSKB), res.CPUSeconds, res.DBCPUSeconds, res.Detail)
		if i == 0 {
			continue
		}
		if best.Seconds == 0 || res.Seconds < best.Seconds {
			best = res
		}
		peak = max(peak, res.PeakRSSKB)
	}
	res := best
	rate := float64(res.Rows) / res.Seconds
	// The target is 100,000 rows in 3 s: at least 33,333 rows a second.
	b.res.addTarget(figure{fig: "5", name: "report_rows_per_s", value: rate, unit: "rows/s"}, 100_000.0/3, true)
	b.res.addTarget(figure{fig: "5", name: "report_peak_rss_mb", value: mb(peak), unit: "MB"}, 300, false)
	b.res.note("figure 5: %d rows in %.2f s (target 3 s), %.2f CPU-s in the report and %.2f in the database", res.Rows, res.Seconds, res.CPUSeconds, res.DBCPUSeconds)
	return nil
}

// reportChild makes the workbook as `starter report --out FILE` does.
func reportChild(ctx context.Context, out, dsn string, meter *cpuMeter) (childResult, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	start := time.Now()
	r, err := report.Run(ctx, db, report.Options{Out: out, Record: true})
	if err != nil {
		return childResult{}, err
	}
	res := childResult{Rows: r.Totals.Invoices, Stored: r.Totals.Invoices, Seconds: time.Since(start).Seconds(), Detail: string(r.Check.Status)}
	meter.read(ctx, &res)
	if st, err := os.Stat(out); err == nil {
		res.Detail += fmt.Sprintf(", workbook %.1f MB", float64(st.Size())/(1<<20))
	}
	return res, nil
}

// seedLedger writes n invoices in every state straight into the ledger's
// tables, as internal/report's own large test does (going through the cases
// would take longer than the whole bench): 60% in management with notices
// sent, 10% cut, 30% paid; 30,000 customers; returns spread over 200 days.
func seedLedger(ctx context.Context, db *store.Store, n int) error {
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	now := time.Now()
	stages := []string{"notice_1", "notice_2", "notice_3", "cut_scheduled", "cut_review", "on_hold"}
	kind := func(i int) int { return i % 10 } // 0-5 in management, 6 cut, 7-9 paid
	invoice := func(i int) string { return fmt.Sprintf("FR26-%07d", i) }
	cupsOf := func(i int) string { return supplyPoint("0031", int64(i)) }
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
