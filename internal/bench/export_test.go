package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/elega/impagos/internal/sheets"
)

// The generated export must be one the import accepts whole: a rejected row
// would make figure 1 measure the rejection path.
func TestGeneratedExportIsAcceptedWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trade.xlsx")
	const n = 500
	if err := writeExport(path, n, "FB26-"); err != nil {
		t.Fatal(err)
	}
	var rows []sheets.Return
	rep, err := sheets.ReadReturns(path, sheets.Options{}, func(r sheets.Return) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsRead != n || len(rows) != n || len(rep.Rejected) > 0 || len(rep.Warnings) > 0 {
		t.Fatalf("read %d rows, accepted %d, rejected %v, warnings %v", rep.RowsRead, len(rows), rep.Rejected, rep.Warnings)
	}
	for _, r := range rows {
		if r.TaxID == "" || r.ReturnedAt.IsZero() || r.AmountCents <= 0 {
			t.Fatalf("row %d lacks a tax id, a return date or an amount: %+v", r.Row, r)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one sample = %v", got)
	}
}

func TestWithParam(t *testing.T) {
	got, err := withParam("postgres://u@h:5432/db?sslmode=disable", "search_path", "bench_x")
	if err != nil || got != "postgres://u@h:5432/db?search_path=bench_x&sslmode=disable" {
		t.Errorf("URL form: %q, %v", got, err)
	}
	if got, _ := withParam("host=h dbname=db", "application_name", "a"); got != "host=h dbname=db application_name=a" {
		t.Errorf("keyword form: %q", got)
	}
}
