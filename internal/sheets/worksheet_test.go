package sheets

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// excelizeRows reads every sheet of a workbook with excelize's row iterator
// and raw cell values: what the scanner must give, row for row.
func excelizeRows(t *testing.T, path string) map[string][][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]string{}
	for _, sheet := range f.GetSheetList() {
		rows, err := f.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		var all [][]string
		for rows.Next() {
			vals, err := rows.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, append([]string{}, vals...))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		out[sheet] = trimEmptyRows(all)
	}
	return out
}

// scannedRows reads every sheet of a workbook as the readers do.
func scannedRows(t *testing.T, path string) map[string][][]string {
	t.Helper()
	b, err := openBook(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	out := map[string][][]string{}
	for _, sheet := range b.sheets() {
		it, err := b.rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		var all [][]string
		for it.next() {
			r := it.row()
			if r.num != len(all)+1 {
				t.Fatalf("%s: row %d after %d rows", sheet, r.num, len(all))
			}
			all = append(all, append([]string{}, r.vals...))
		}
		if err := it.err(); err != nil {
			t.Fatal(err)
		}
		it.close()
		out[sheet] = trimEmptyRows(all)
	}
	return out
}

// trimEmptyRows drops the empty rows at the end, and makes empty rows nil.
func trimEmptyRows(rows [][]string) [][]string {
	for i, r := range rows {
		if len(r) == 0 {
			rows[i] = nil
		}
	}
	for len(rows) > 0 && rows[len(rows)-1] == nil {
		rows = rows[:len(rows)-1]
	}
	return rows
}

// everyKindOfCell writes a workbook with the cells an export may hold:
// shared and inline strings, rich text, escapes, numbers, dates, booleans,
// errors, formulas with and without a cached value, gaps between rows and
// columns, and a second sheet.
func everyKindOfCell(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	set := func(sheet, cell string, v any) {
		t.Helper()
		if err := f.SetCellValue(sheet, cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("Sheet1", "A1", "Cliente")
	set("Sheet1", "B1", "Importe")
	set("Sheet1", "C1", "Fecha")
	set("Sheet1", "A2", "Ferretería \"Ruiz\" & Hijos <SL>")
	set("Sheet1", "B2", 1814.67)
	set("Sheet1", "C2", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	set("Sheet1", "D2", true)
	set("Sheet1", "E2", "  spaces kept  ")
	set("Sheet1", "F2", "line\r\nbreaks\nand\ttabs")
	set("Sheet1", "G2", "an _x000D_ escape and _x005F_x0041_")
	set("Sheet1", "H2", "1.234,56 €")
	set("Sheet1", "A5", 12.125)
	set("Sheet1", "Z5", "far column")
	set("Sheet1", "B6", 0.1+0.2)
	set("Sheet1", "C6", int64(1)<<53)
	if err := f.SetCellFormula("Sheet1", "D6", "=B2*2"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellFormula("Sheet1", "E6", `=TEXT(B2,"0")`); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellRichText("Sheet1", "A7", []excelize.RichTextRun{
		{Text: "rich "}, {Text: "text", Font: &excelize.Font{Bold: true}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewSheet("Pagos"); err != nil {
		t.Fatal(err)
	}
	set("Pagos", "B3", "ES0021000000000001AB")
	set("Pagos", "C3", -42.5)
	set("Pagos", "A1", "Ñandú ✓ 😀")
	path := filepath.Join(t.TempDir(), "every_kind.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScannerGivesWhatExcelizeGives reads workbooks written by Excel,
// LibreOffice and excelize, and the tricky worksheet, both ways.
func TestScannerGivesWhatExcelizeGives(t *testing.T) {
	paths := map[string]string{
		"every kind of cell": everyKindOfCell(t),
		"tricky":             replaceSheet(t, writeXLSX(t, []any{"x"}), trickySheet),
		"inline strings": replaceSheet(t, writeXLSX(t, []any{"x"}), `<worksheet><sheetData>`+
			`<row r="1"><c r="A1" t="inlineStr"><is><r><t>a</t></r><r><rPr/><t xml:space="preserve"> b</t></r><rPh><t>x</t></rPh></is></c>`+
			`<c r="B1" t="inlineStr"><is><t>&#65;&#x42;&quot;&apos;_x0041_</t></is></c><c r="C1" t="s"><v>99</v></c><c r="D1" t="s"><v> 0 </v></c>`+
			`<c r="E1" t="str"><f>A1</f><v></v></c><c r="F1"><f>1</f></c><c r="G1" t="e"><v>#N/A</v></c><c r="H1" t="d"><v>2026-03-02T00:00:00Z</v></c></row>`+
			`<row r="3"><c r="B3" t="b"><v>0</v></c><c r="C3"><v>1e-7</v></c></row></sheetData></worksheet>`),
	}
	for _, dir := range []string{"testdata", filepath.Join("..", "..", "..", "shared", "samples")} {
		found, _ := filepath.Glob(filepath.Join(dir, "*.xlsx"))
		for _, p := range found {
			paths[p] = p
		}
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			want, got := excelizeRows(t, path), scannedRows(t, path)
			for sheet, rows := range want {
				if !reflect.DeepEqual(got[sheet], rows) {
					for i := 0; i < len(rows) || i < len(got[sheet]); i++ {
						var w, g []string
						if i < len(rows) {
							w = rows[i]
						}
						if i < len(got[sheet]) {
							g = got[sheet][i]
						}
						if !reflect.DeepEqual(w, g) {
							t.Fatalf("sheet %q row %d:\nscanner:  %q\nexcelize: %q", sheet, i+1, g, w)
						}
					}
				}
			}
			if len(got) != len(want) {
				t.Errorf("sheets %v, excelize %v", len(got), len(want))
			}
		})
	}
}

// TestScannerPutsCellsInTheirColumns, even when a file lists them out of
// order (excelize appends such a cell after the last one).
func TestScannerPutsCellsInTheirColumns(t *testing.T) {
	s := newSheetScanner(nopCloser(`<sheetData><row r="3"><c r="C3"><v>1</v></c><c r="A3" t="b"><v>0</v></c></row></sheetData>`), nil)
	if ok, err := s.next(); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if !reflect.DeepEqual(s.vals, []string{"0", "", "1"}) || !reflect.DeepEqual(s.kinds, []cellKind{kindBool, kindText, kindNumber}) {
		t.Errorf("values %q, kinds %v", s.vals, s.kinds)
	}
}

// TestScannerCutsLongCells keeps no more of a cell than Excel does, however
// long the text in the file.
func TestScannerCutsLongCells(t *testing.T) {
	long := strings.Repeat("a&amp;", 200_000) // 1.2 MB of text, 400,000 characters
	s := newSheetScanner(nopCloser(`<sheetData><row r="1"><c t="inlineStr"><is><t>`+long+`</t></is></c><c><v>7</v></c></row></sheetData>`), nil)
	ok, err := s.next()
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	if n := len([]rune(s.vals[0])); n != maxCellChars {
		t.Errorf("kept %d characters", n)
	}
	if !strings.HasPrefix(s.vals[0], "a&a&") || s.vals[1] != "7" {
		t.Errorf("values %.20q… %q", s.vals[0], s.vals[1])
	}
}

// TestScannerRefusesWhatItCannotRead: each of these is an error naming the
// row, never a row read wrong or a sheet read short.
func TestScannerRefusesWhatItCannotRead(t *testing.T) {
	for name, sheetXML := range map[string]string{
		"cut in a cell":         `<sheetData><row r="1"><c><v>1</v></c></row><row r="2"><c><v>2`,
		"cut between rows":      `<sheetData><row r="1"><c><v>1</v></c></row>`,
		"a cell not closed":     `<sheetData><row r="1"><c><v>1</v></row></sheetData>`,
		"a value not closed":    `<sheetData><row r="1"><c><v>1</c></row></sheetData>`,
		"rows out of order":     `<sheetData><row r="2"/><row r="1"/></sheetData>`,
		"a row beyond the last": `<sheetData><row r="1048577"/></sheetData>`,
		"a bad cell reference":  `<sheetData><row r="1"><c r="1A"><v>1</v></c></row></sheetData>`,
		"an unknown entity":     `<sheetData><row r="1"><c><v>&euro;</v></c></row></sheetData>`,
		"a malformed comment":   `<sheetData><row r="1"><!-- a -- b --><c><v>1</v></c></row></sheetData>`,
	} {
		t.Run(name, func(t *testing.T) {
			s := newSheetScanner(nopCloser(sheetXML), nil)
			var err error
			for ok := true; ok && err == nil; ok, err = s.next() {
			}
			if err == nil {
				t.Fatal("read without an error")
			}
		})
	}
}

func nopCloser(s string) *nopReadCloser { return &nopReadCloser{strings.NewReader(s)} }

type nopReadCloser struct{ *strings.Reader }

func (nopReadCloser) Close() error { return nil }
