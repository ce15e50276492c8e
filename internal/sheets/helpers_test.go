package sheets

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/cups"
)

// cupsOf builds a valid 20-character CUPS for distributor 0021 and supply
// point n, computing its control letters.
func cupsOf(n int) string {
	return cups.Make(21, int64(n))
}

// writeXLSX writes rows (from row 1) to a new workbook with one sheet. A Go
// string becomes a (shared) text cell, a number a number cell, a bool a
// boolean cell, nil an absent cell. (The 100,000-row test writes inline
// strings, as the StreamWriter does.)
func writeXLSX(t *testing.T, rows ...[]any) string {
	t.Helper()
	return writeSheets(t, map[string][][]any{"Hoja1": rows}, "Hoja1")
}

// writeSheets writes a workbook with the given sheets, in the given order.
func writeSheets(t *testing.T, sheets map[string][][]any, order ...string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, row := range sheets[name] {
			for c, v := range row {
				if v == nil {
					continue
				}
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if err := f.SetCellValue(name, cell, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	path := filepath.Join(t.TempDir(), "export.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeFile writes raw bytes to a file named name in a temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAllReturns reads a returns export and collects what was accepted.
func readAllReturns(t *testing.T, path string, opts Options) ([]Return, Report) {
	t.Helper()
	var got []Return
	rep, err := ReadReturns(path, opts, func(r Return) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadReturns: %v", err)
	}
	checkReport(t, rep, len(got))
	return got, rep
}

// checkReport checks that a report adds up.
func checkReport(t *testing.T, rep Report, accepted int) {
	t.Helper()
	if rep.Accepted != accepted {
		t.Errorf("report says %d accepted, accept was called %d times", rep.Accepted, accepted)
	}
	if sum := rep.Accepted + len(rep.Rejected) + rep.Skipped; sum != rep.RowsRead {
		t.Errorf("accepted %d + rejected %d + skipped %d = %d, but %d rows read",
			rep.Accepted, len(rep.Rejected), rep.Skipped, sum, rep.RowsRead)
	}
}

// wantRejected compares rejections with the wanted ones, in order.
func wantRejected(t *testing.T, got []Rejection, want ...Rejection) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		var b strings.Builder
		for _, r := range got {
			fmt.Fprintf(&b, "\n\t{%d, %q, %q},", r.Row, r.Invoice, r.Reason)
		}
		t.Errorf("rejected:%s\nwant %d: %v", b.String(), len(want), want)
	}
}

// wantErr checks that err is not nil and contains each of the parts.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q\ndoes not contain %q", err, p)
		}
	}
}
