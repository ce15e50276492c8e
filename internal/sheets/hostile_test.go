package sheets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// TestHostileWorkbooks feeds the returns reader what a careless or malicious
// export could hold. Each input gets a clear answer, quickly, with bounded
// memory, and the good rows beside the bad ones are still taken.
func TestHostileWorkbooks(t *testing.T) {
	header := []any{"Cliente", "Importe", "Número de Factura", "Cups"}
	good := []any{"Ana", 10, "F-OK", cupsOf(1)}
	tests := []struct {
		name   string
		build  func(t *testing.T) string
		err    error  // the whole file is refused with this
		reason string // or this row (row 2) is rejected with this
	}{
		{"a customer name as long as a cell holds", func(t *testing.T) string {
			// excelize, like Excel, keeps at most 32,767 characters of a cell.
			return writeXLSX(t, header, []any{strings.Repeat("x", 10<<20), 10, "F-1", cupsOf(2)}, good)
		}, nil, "customer is 32767 characters long (at most 200)"},
		{"an invoice number as long as a cell holds", func(t *testing.T) string {
			return writeXLSX(t, header, []any{"Ana", 10, strings.Repeat("9", 1<<20), cupsOf(2)}, good)
		}, nil, "invoice number is 32767 characters long (at most 40)"},
		{"a formula as the amount", func(t *testing.T) string {
			p := writeXLSX(t, header, []any{"Ana", nil, "F-1", cupsOf(2)}, good)
			f, err := excelize.OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.SetCellFormula("Hoja1", "B2", "=1000*1000"); err != nil {
				t.Fatal(err)
			}
			if err := f.Save(); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil, "amount is empty"},
		{"a text file named .xlsx", func(t *testing.T) string {
			return writeFile(t, "export.xlsx", []byte("Cliente;Importe\nAna;10\n"))
		}, ErrNotWorkbook, ""},
		{"a truncated workbook", func(t *testing.T) string {
			p := writeXLSX(t, header, good)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return writeFile(t, "export.xlsx", data[:len(data)/2])
		}, ErrNotWorkbook, ""},
		{"an encrypted (OLE) workbook", func(t *testing.T) string {
			return writeFile(t, "export.xlsx", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 4096)...))
		}, ErrLegacyWorkbook, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.build(t)
			start := time.Now()
			var accepted []string
			rep, err := ReadReturns(path, Options{}, func(r Return) error {
				accepted = append(accepted, r.Invoice)
				return nil
			})
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("took %s", took)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), filepath.Base(path)) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Rejected) != 1 || rep.Rejected[0].Row != 2 || rep.Rejected[0].Reason != tt.reason {
				t.Fatalf("rejected %+v, want row 2: %s", rep.Rejected, tt.reason)
			}
			if len(rep.Rejected[0].Invoice) > 50 {
				t.Errorf("the rejection names the row by %d characters", len(rep.Rejected[0].Invoice))
			}
			if len(accepted) != 1 || accepted[0] != "F-OK" {
				t.Fatalf("accepted %v, want the good row", accepted)
			}
		})
	}
}
