package sheets

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/cups"
)

// writeBigExport writes a TRADE-like export of n returned invoices with the
// StreamWriter, which is how a large file must be written too. Every tenth
// amount is Spanish text, as in the real exports.
func writeBigExport(tb testing.TB, path string, n int) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	header := []any{"Nº Vencimiento", "Cliente", "NIF/CIF", "Número de Factura", "Fecha Factura",
		"Importe", "Estado", "Banco", "Fecha Devolución", "Motivo Devolución", "Cups", "Contrato"}
	if err := sw.SetRow("A1", header); err != nil {
		tb.Fatal(err)
	}
	row := make([]any, len(header))
	for i := 1; i <= n; i++ {
		var amount any = float64(i%500000)/100 + 1
		if i%10 == 0 {
			amount = fmt.Sprintf("%d,%02d €", i%5000+1, i%100)
		}
		row[0] = fmt.Sprintf("V%07d", i)
		row[1] = fmt.Sprintf("Cliente número %d S.L.", i)
		row[2] = "12345678Z"
		row[3] = fmt.Sprintf("FE26-%07d", i)
		row[4] = 46300 + i%40
		row[5] = amount
		row[6] = "Devuelto"
		row[7] = "Banco Santander"
		row[8] = 46320 + i%40
		row[9] = "AM04 Fondos insuficientes"
		row[10] = cups.Make(21, int64(i))
		row[11] = fmt.Sprintf("CT-%06d", i)
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(cell, row); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		tb.Fatal(err)
	}
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestReadReturnsStreams reads a 100,000-row export and checks that memory
// stays bounded: the heap sampled while reading and what is left after it
// must not grow with the rows. A sanity check, not a timing test.
func TestReadReturnsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 100,000-row workbook")
	}
	const rows = 100_000
	path := filepath.Join(t.TempDir(), "big.xlsx")
	writeBigExport(t, path, rows)

	runtime.GC()
	before := heapInuse()
	peak := before
	start := time.Now()
	var sum int64
	rep, err := ReadReturns(path, Options{Progress: func(int) {
		peak = max(peak, heapInuse())
	}}, func(r Return) error {
		sum += r.AmountCents
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	after := heapInuse()
	if rep.RowsRead != rows || rep.Accepted != rows || len(rep.Rejected) != 0 || rep.Skipped != 0 {
		t.Fatalf("read %d, accepted %d, rejected %d (%v), skipped %d; want %d accepted",
			rep.RowsRead, rep.Accepted, len(rep.Rejected), first(rep.Rejected), rep.Skipped, rows)
	}
	const mb = 1 << 20
	t.Logf("%d rows in %v (%.0f rows/s); heap in use before %d MB, peak while reading %d MB, after %d MB",
		rows, elapsed.Round(time.Millisecond), rows/elapsed.Seconds(), before/mb, peak/mb, after/mb)
	if growth := int64(peak) - int64(before); growth > 50*mb {
		t.Errorf("heap in use grew by %d MB while reading, want under 50 MB", growth/mb)
	}
	if growth := int64(after) - int64(before); growth > 5*mb {
		t.Errorf("heap in use after reading is %d MB above before, want under 5 MB", growth/mb)
	}
}

func first(r []Rejection) any {
	if len(r) == 0 {
		return nil
	}
	return r[0]
}

func BenchmarkReadReturns100k(b *testing.B) {
	const rows = 100_000
	path := filepath.Join(b.TempDir(), "big.xlsx")
	writeBigExport(b, path, rows)
	b.ResetTimer()
	for b.Loop() {
		rep, err := ReadReturns(path, Options{}, func(Return) error { return nil })
		if err != nil || rep.Accepted != rows {
			b.Fatalf("accepted %d, err %v", rep.Accepted, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
