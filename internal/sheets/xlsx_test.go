package sheets

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// referenceKinds reads the cell kinds of a worksheet with encoding/xml, the
// slow and obviously right way, to check the byte scanner against.
func referenceKinds(t *testing.T, sheetXML string) map[int][]cellKind {
	t.Helper()
	out := map[int][]cellKind{}
	dec := xml.NewDecoder(strings.NewReader(sheetXML))
	row, col, last := 0, 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "row":
				row, col = last+1, 0
				if r := attr(se, "r"); r != "" {
					row, _ = strconv.Atoi(r)
				}
				last = row
				out[row] = []cellKind{}
			case "c":
				col++
				if r := attr(se, "r"); r != "" {
					col, _, _ = excelize.CellNameToCoordinates(r)
				}
				for len(out[row]) < col {
					out[row] = append(out[row], kindText)
				}
				out[row][col-1] = kindOf(attr(se, "t"))
			}
		}
	}
}

// scanKinds reads the cell kinds of the first 50 rows of a worksheet with
// the scanner.
func scanKinds(t *testing.T, sheetXML string) map[int][]cellKind {
	t.Helper()
	s := newSheetScanner(io.NopCloser(strings.NewReader(sheetXML)), nil)
	out := map[int][]cellKind{}
	for {
		ok, err := s.next()
		if err != nil {
			t.Fatalf("after row %d: %v", s.lastRow, err)
		}
		if !ok || s.num > 50 {
			return out
		}
		out[s.num] = append([]cellKind{}, s.kinds...)
	}
}

// trickySheet has what a worksheet may legally hold and the scanner must
// not trip on: a namespace prefix, rows and cells without r, a self-closing
// row, quotes of both kinds, spaces around '=', '>' and '<' inside attribute
// values and text, comments, a CDATA section and a processing instruction.
const trickySheet = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<!-- <row r="99"><c t="s"/></row> -->
<x:sheetPr codeName='a&gt;b "quoted"'/>
<x:sheetData>
<x:row r="1" spans="1:5"><x:c r="A1" t="inlineStr"><x:is><x:t>Cliente</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>Factura</x:t></x:is></x:c><x:c r="C1" t="inlineStr"><x:is><x:t>Importe</x:t></x:is></x:c><x:c r="D1" t="inlineStr"><x:is><x:t>Cups</x:t></x:is></x:c></x:row>
<x:row r = '2'><x:c t='inlineStr'><x:is><x:t>A &lt;b&gt; &amp; c</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>F1</x:t></x:is></x:c><x:c s="0" t = "n"><x:v>12.125</x:v></x:c><x:c t="inlineStr"><x:is><x:t>CUPS1</x:t></x:is></x:c></x:row>
<x:row><x:c r="A3" t="inlineStr"><x:is><x:t><![CDATA[B <c t="n"> ]]]></x:t></x:is></x:c><x:c r="B3" t="inlineStr"><x:is><x:t>F2</x:t></x:is></x:c><x:c r="C3" t="inlineStr"><x:is><x:t>12.125</x:t></x:is></x:c><x:c r="D3" t="inlineStr"><x:is><x:t>CUPS2</x:t></x:is></x:c></x:row>
<x:row r="4"/>
<?mso-application progid="Excel.Sheet"?>
<x:row r="6"><x:c r="A6" t="inlineStr"><x:is><x:t>C</x:t></x:is></x:c><x:c r="B6" t="inlineStr"><x:is><x:t>F3</x:t></x:is></x:c><x:c r="C6" t="str"><x:f>TEXTO(1)</x:f><x:v>12,50</x:v></x:c><x:c r="D6" t="inlineStr"><x:is><x:t>CUPS3</x:t></x:is></x:c><!-- a comment - with - dashes --></x:row>
<x:row r="7"><x:c r="A7" t="inlineStr"><x:is><x:t>D</x:t></x:is></x:c><x:c r="B7" t="inlineStr"><x:is><x:t>F4</x:t></x:is></x:c><x:c r="C7" t="b"><x:v>1</x:v></x:c><x:c r="E7" t="e"><x:v>#N/A</x:v></x:c><x:c r="G7"><x:v>3</x:v></x:c></x:row>
</x:sheetData>
</x:worksheet>`

func TestScannerKindsMatchXMLDecoder(t *testing.T) {
	sheets := map[string]string{"tricky": trickySheet}
	for _, sample := range []string{"trade_vencimientos_devueltos", "contratos", "pago_facturas_clientes"} {
		sheets[sample] = sheetPart(t, "testdata/"+sample+".xlsx")
	}
	for name, sheet := range sheets {
		t.Run(name, func(t *testing.T) {
			want := referenceKinds(t, sheet)
			got := scanKinds(t, sheet)
			for n := range want {
				if n > 50 {
					delete(want, n)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("scanner:\n%v\nencoding/xml:\n%v", got, want)
			}
		})
	}
}

// TestTrickySheetThroughReadReturns reads the tricky worksheet the way an
// import does.
func TestTrickySheetThroughReadReturns(t *testing.T) {
	path := replaceSheet(t, writeXLSX(t, []any{"x"}), trickySheet)
	got, rep := readAllReturns(t, path, Options{})
	var cents []string
	for _, r := range got {
		cents = append(cents, fmt.Sprint(r.Row, ":", r.AmountCents))
	}
	// The CUPS are placeholders, so every row is rejected for them; what is
	// checked is how each amount was read.
	if len(got) != 0 || rep.RowsRead != 6 || rep.Skipped != 2 {
		t.Errorf("accepted %v, report %+v", cents, rep)
	}
	wantRejected(t, rep.Rejected,
		Rejection{2, "F1", "amount 12.125 has more than two decimals; CUPS must be 20 or 22 characters, got 5"},
		Rejection{3, "F2", "CUPS must be 20 or 22 characters, got 5"},
		Rejection{6, "F3", "CUPS must be 20 or 22 characters, got 5"},
		Rejection{7, "F4", `amount "1" is not a number; CUPS is empty`},
	)
}

// TestDamagedSheet checks that a worksheet whose XML breaks half way is an
// error, not a short import.
func TestDamagedSheet(t *testing.T) {
	broken := strings.Replace(trickySheet, "<!-- a comment - with - dashes -->", "<!-- a -- b -->", 1)
	_, err := ReadReturns(replaceSheet(t, writeXLSX(t, []any{"x"}), broken), Options{}, func(Return) error { return nil })
	wantErr(t, err, `sheet "Hoja1" is damaged: row 6: a comment holds "--"`)

	truncated := trickySheet[:strings.Index(trickySheet, `<x:row r="7">`)+20]
	_, err = ReadReturns(replaceSheet(t, writeXLSX(t, []any{"x"}), truncated), Options{}, func(Return) error { return nil })
	wantErr(t, err, `sheet "Hoja1" is damaged`)
}

// TestEmptySheetsBeforeTheData checks that sheets without rows (an empty
// sheetData, or none at all as in a chart sheet) are passed over.
func TestEmptySheetsBeforeTheData(t *testing.T) {
	for name, first := range map[string]string{
		"self-closing": `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>`,
		"empty":        `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData></sheetData></worksheet>`,
		"none":         `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>`,
	} {
		t.Run(name, func(t *testing.T) {
			path := writeSheets(t, map[string][][]any{
				"Portada": {{"x"}},
				"Datos":   {returnsHeader, {"A", "F1", 1.0, cupsOf(1)}},
			}, "Portada", "Datos")
			got, _ := readAllReturns(t, replaceSheet(t, path, first), Options{})
			if len(got) != 1 {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// sheetPart returns the first worksheet part of a workbook.
func sheetPart(t *testing.T, path string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	rc, err := zipPart(&zr.Reader, "xl/worksheets/sheet1.xml").Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// replaceSheet writes a copy of a workbook whose first worksheet is sheetXML.
func replaceSheet(t *testing.T, path, sheetXML string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "xl/worksheets/sheet1.xml" {
			io.WriteString(w, sheetXML)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, rc)
		rc.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := path + ".tricky.xlsx"
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// FuzzSheetScanner feeds arbitrary bytes to the worksheet scanner: it
// must end (with kinds or an error) and never panic.
func FuzzSheetScanner(f *testing.F) {
	f.Add(trickySheet)
	f.Add(trickySheet[:len(trickySheet)/2])
	f.Add(`<sheetData><row r="2"><c r="B2" t="n"/></row></sheetData>`)
	f.Add(`<sheetData/>`)
	f.Add(`<!-- <row> --><![CDATA[<c>]]><?x?><row/>`)
	f.Fuzz(func(t *testing.T, sheetXML string) {
		s := newSheetScanner(io.NopCloser(strings.NewReader(sheetXML)), &sharedTexts{text: []byte("a"), end: []uint32{1}})
		for n := 1; n <= 20; n++ {
			ok, err := s.next()
			if err != nil || !ok {
				return
			}
			if len(s.kinds) > excelize.MaxColumns || len(s.vals) > len(s.kinds) {
				t.Fatalf("row %d has %d kinds and %d values", s.num, len(s.kinds), len(s.vals))
			}
		}
	})
}
