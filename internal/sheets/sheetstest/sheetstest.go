// Package sheetstest writes the hostile files that the readers of package
// sheets must refuse, or read within their limits: zip bombs, a million
// rows, rows and texts beyond any export, XML nested a million deep, files
// that are not what their name says. The tests of the readers and of the
// imports share them.
package sheetstest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/sheets"
)

// Layout is which export a file imitates: its header row and its good rows.
type Layout int

// The three exports the imports read.
const (
	Returns Layout = iota
	Contracts
	Payments
)

// Layouts are the three, in order.
var Layouts = []Layout{Returns, Contracts, Payments}

func (l Layout) String() string { return [...]string{"returns", "contracts", "payments"}[l] }

// header is the header row of the layout.
func (l Layout) header() []string {
	switch l {
	case Contracts:
		return []string{"Cliente", "NIF/CIF", "Cups", "Tipo Cliente", "Teléfono"}
	case Payments:
		return []string{"Fecha Pago", "Número de Factura", "Importe Pagado", "Referencia"}
	}
	return []string{"Cliente", "Importe", "Número de Factura", "Cups"}
}

// textColumn is a column the layout reads as text, where a hostile text goes.
func (l Layout) textColumn() string {
	if l == Payments {
		return "B"
	}
	return "A"
}

// good is the i-th good row of the layout, which its reader accepts: a Go
// string is a text cell, a float64 a number cell.
func (l Layout) good(i int) []any {
	switch l {
	case Contracts:
		return []any{fmt.Sprintf("Cliente %d", i), "12345678Z", cups.Make(21, int64(i)), "Doméstico", "600111222"}
	case Payments:
		return []any{46300.0, fmt.Sprintf("F-%06d", i), 10.5, fmt.Sprintf("REF-%06d", i)}
	}
	return []any{fmt.Sprintf("Cliente %d", i), 10.5, fmt.Sprintf("F-%06d", i), cups.Make(21, int64(i))}
}

// rowXML is a worksheet row of inline texts and numbers; num is its number.
func rowXML(num int, cells []any) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, num)
	for i, v := range cells {
		ref, _ := excelize.CoordinatesToCellName(i+1, num)
		switch v := v.(type) {
		case string:
			fmt.Fprintf(&b, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, html.EscapeString(v))
		default:
			fmt.Fprintf(&b, `<c r="%s"><v>%v</v></c>`, ref, v)
		}
	}
	b.WriteString(`</row>`)
	return b.String()
}

func (l Layout) headerXML() string {
	cells := make([]any, 0, 5)
	for _, h := range l.header() {
		cells = append(cells, h)
	}
	return rowXML(1, cells)
}

// goodCSV is the i-th good row as a line of a ';'-separated export.
func (l Layout) goodCSV(i int) string {
	switch l {
	case Contracts:
		return fmt.Sprintf("Cliente %d;12345678Z;%s;Doméstico;600111222\n", i, cups.Make(21, int64(i)))
	case Payments:
		return fmt.Sprintf("05/10/2026;F-%06d;10,50;REF-%06d\n", i, i)
	}
	return fmt.Sprintf("Cliente %d;10,50;F-%06d;%s\n", i, i, cups.Make(21, int64(i)))
}

func (l Layout) headerCSV() string { return strings.Join(l.header(), ";") + "\n" }

// sheetWith is a worksheet: the header row, then body.
func (l Layout) sheetWith(body string) part {
	return part{Head: sheetHead + "<sheetData>" + l.headerXML(), Tail: body + sheetTail}
}

// goodRows is rows 2 to n+1, good ones.
func (l Layout) goodRows(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(rowXML(i+1, l.good(i)))
	}
	return b.String()
}

// Case is a hostile file and what the readers make of it.
type Case struct {
	Name string
	// Write writes the file for the layout's reader in dir.
	Write func(tb testing.TB, dir string, l Layout) string
	// Refused says the reader refuses the file (returns an error); Err is
	// then the error it wraps, when there is a particular one, and Says
	// parts of its message.
	Refused bool
	Err     error
	Says    []string
	// Good is how many good rows a file read within the limits has (each
	// accepted); in a refused file, the good rows before what refuses it.
	Good int
}

// Cases are the hostile files: first those refused, then those read.
func Cases() []Case {
	return append(refused(), read()...)
}

func refused() []Case {
	return []Case{
		{Name: "text named .xlsx", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"is not an Excel workbook"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeFile(tb, dir, "hostil.xlsx", []byte(l.headerCSV()+l.goodCSV(1)))
			}},
		{Name: "PDF named .xlsx", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"it is a PDF document"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeFile(tb, dir, "hostil.xlsx", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj\n"))
			}},
		{Name: "truncated workbook", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"is damaged or not a zip package"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				path := writeExcel(tb, dir, l, 100, excelize.Options{})
				data, err := os.ReadFile(path)
				if err != nil {
					tb.Fatal(err)
				}
				return writeFile(tb, dir, "hostil.xlsx", data[:len(data)/2])
			}},
		{Name: "password-protected workbook", Refused: true, Err: sheets.ErrLegacyWorkbook,
			Says: []string{"is protected by a password", "remove the password"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeExcel(tb, dir, l, 10, excelize.Options{Password: "clave"})
			}},
		{Name: "empty zip", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"a zip archive but not an Office document"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx")
			}},
		{Name: "workbook without sheets", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"it has no worksheets"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				parts := workbook(l.sheetWith(l.goodRows(1)))
				parts[2].Data = strings.Replace(workbookXML, `<sheet name="Hoja1" sheetId="1" r:id="rId1"/>`, "", 1)
				return writeZip(tb, dir, "hostil.xlsx", parts...)
			}},
		{Name: "zip bomb, sizes declared", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"unpacks to more than 512 MB"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(bomb(l, 0))...)
			}},
		{Name: "zip bomb, sizes understated", Refused: true, Says: []string{`sheet "Hoja1" is damaged`, "zip: not a valid zip file"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(bomb(l, 1<<20))...)
			}},
		{Name: "damaged compressed data", Refused: true, Says: []string{`sheet "Hoja1" is damaged`},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return damage(tb, writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(2000)))...))
			}},
		{Name: "4 million shared texts", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"holds more than 4000000 shared texts"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(1)),
					sharedStrings("", strings.Repeat("<si/>", 1<<16), 62))...)
			}},
		{Name: "a 2 MB shared text", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"shared text number 1 is larger than 256 KB"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(1)),
					part{Name: "xl/sharedStrings.xml", Head: sharedHead + "<si><t>", Chunk: strings.Repeat("x", 1<<10), Times: 2 << 10, Tail: "</t></si>" + sharedTail})...)
			}},
		{Name: "shared texts nested 10 million deep", Refused: true, Says: []string{"shared texts are damaged at text number 1", "nest more than 64 deep"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(1)),
					sharedStrings("<si>", strings.Repeat("<r>", 1<<20), 10))...)
			}},
		{Name: "a million rows, declared", Refused: true, Err: sheets.ErrTooManyRows,
			Says: []string{`sheet "Hoja1" has 1000000 rows below its header row, more than the 500000`, "split the export"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(millionRows(l, true))...)
			}},
		{Name: "a million rows, undeclared", Refused: true, Err: sheets.ErrTooManyRows,
			Says: []string{`sheet "Hoja1" has more than 500000 rows below its header row`, "split the export"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(millionRows(l, false))...)
			}},
		{Name: "a 10 MB cell", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"row 2 is larger than 4 MB"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(hugeCell(l, 2))...)
			}},
		{Name: "good rows, then a 10 MB row", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"row 1002 is larger than 4 MB"}, Good: 1000,
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(hugeCell(l, 1002))...)
			}},
		{Name: "XML nested 10 million deep", Refused: true, Says: []string{`sheet "Hoja1" is damaged: row 2: XML elements nest more than 64 deep`},
			Write: func(tb testing.TB, dir string, l Layout) string {
				sheet := part{Head: sheetHead + "<sheetData>" + l.headerXML() + `<row r="2"><c r="A2" t="inlineStr"><is>`,
					Chunk: strings.Repeat("<r>", 1<<20), Times: 10, Tail: "</is></c></row>" + sheetTail}
				return writeZip(tb, dir, "hostil.xlsx", workbook(sheet)...)
			}},
		{Name: "a row of 6 million cells", Refused: true, Says: []string{"row 2 has more than 16384 columns"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				sheet := part{Head: sheetHead + "<sheetData>" + l.headerXML() + `<row r="2">`,
					Chunk: strings.Repeat("<c><v>1</v></c>", 1<<16), Times: 100, Tail: "</row>" + sheetTail}
				return writeZip(tb, dir, "hostil.xlsx", workbook(sheet)...)
			}},
		{Name: "rows out of order", Refused: true, Says: []string{"row 5 comes after row 501"}, Good: 500,
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(500)+rowXML(5, l.good(501))))...)
			}},
		{Name: "a row beyond Excel's last", Refused: true, Says: []string{"row 2000000 is beyond Excel's last row"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(rowXML(2000000, l.good(1))))...)
			}},
		{Name: "XML broken half way", Refused: true, Says: []string{`sheet "Hoja1" is damaged: row 500: a cell is not closed`}, Good: 498,
			Write: func(tb testing.TB, dir string, l Layout) string {
				body := l.goodRows(1000)
				// Row 500's last cell closes with the wrong tag.
				i := strings.Index(body, `<row r="501">`)
				body = body[:i-len("</c></row>")] + "</x></row>" + body[i:]
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(body))...)
			}},
		{Name: "CSV with a 10 MB field", Refused: true, Err: sheets.ErrTooLarge, Says: []string{"the row after line 2 is longer than 4 MB"}, Good: 1,
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeFile(tb, dir, "hostil.csv", []byte(l.headerCSV()+l.goodCSV(1)+strings.Repeat("x", 10<<20)+";1\n"))
			}},
		{Name: "CSV with NUL bytes", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"line 3 holds a NUL byte"}, Good: 1,
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeFile(tb, dir, "hostil.csv", []byte(l.headerCSV()+l.goodCSV(1)+strings.ReplaceAll(l.goodCSV(2), "2", "2\x00")))
			}},
		{Name: "UTF-16 CSV", Refused: true, Err: sheets.ErrNotWorkbook, Says: []string{"is UTF-16 text"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeFile(tb, dir, "hostil.csv", utf16LE(l.headerCSV()+l.goodCSV(1)))
			}},
		{Name: "a million-row CSV", Refused: true, Err: sheets.ErrTooManyRows, Says: []string{"hostil.csv has more than 500000 rows below its header row"},
			Write: func(tb testing.TB, dir string, l Layout) string {
				path := filepath.Join(dir, "hostil.csv")
				f, err := os.Create(path)
				if err != nil {
					tb.Fatal(err)
				}
				w := bufio.NewWriter(f)
				w.WriteString(l.headerCSV())
				for range 1_000_000 {
					w.WriteString(";;;;;1\n")
				}
				if err := w.Flush(); err != nil {
					tb.Fatal(err)
				}
				if err := f.Close(); err != nil {
					tb.Fatal(err)
				}
				return path
			}},
	}
}

// read are the cases of hostile files the readers read, within limits.
func read() []Case {
	return []Case{
		{Name: "styles that unpack to gigabytes of formats", Good: 10,
			Write: func(tb testing.TB, dir string, l Layout) string {
				styles := part{Name: "xl/styles.xml", Head: `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cellXfs>`,
					Chunk: strings.Repeat("<xf/>", 1<<16), Times: 1000, Tail: "</cellXfs></styleSheet>"}
				return writeZip(tb, dir, "hostil.xlsx", workbook(l.sheetWith(l.goodRows(10)), styles)...)
			}},
		// Each row shows one long text: read once, shared by every cell
		// that shows it, and no row accepted.
		{Name: "an escaped text of 32,767 characters in every row", Good: 0,
			Write: func(tb testing.TB, dir string, l Layout) string {
				return writeZip(tb, dir, "hostil.xlsx", workbook(sharedEverywhere(l, 1000),
					sharedStrings("<si><t>"+strings.Repeat("_x0041_", 32767)+"</t></si>", "", 0))...)
			}},
		{Name: "a long escaped text in every row", Good: 0,
			Write: func(tb testing.TB, dir string, l Layout) string {
				text := strings.Repeat(strings.Repeat("a", 5<<10)+"_x0041_", 20)
				return writeZip(tb, dir, "hostil.xlsx", workbook(sharedEverywhere(l, 2000),
					sharedStrings("<si><t>"+text+"</t></si>", "", 0))...)
			}},
		{Name: "16,384 columns in the header row", Good: 10,
			Write: func(tb testing.TB, dir string, l Layout) string {
				head := l.headerXML()
				var more strings.Builder
				for c := len(l.header()) + 1; c <= excelize.MaxColumns; c++ {
					ref, _ := excelize.CoordinatesToCellName(c, 1)
					fmt.Fprintf(&more, `<c r="%s" t="inlineStr"><is><t>Columna %d</t></is></c>`, ref, c)
				}
				head = strings.TrimSuffix(head, "</row>") + more.String() + "</row>"
				sheet := part{Head: sheetHead + "<sheetData>" + head, Tail: l.goodRows(10) + sheetTail}
				return writeZip(tb, dir, "hostil.xlsx", workbook(sheet)...)
			}},
		{Name: "CSV in Windows-1252 (not UTF-8)", Good: 2,
			Write: func(tb testing.TB, dir string, l Layout) string {
				// "Peña" in Windows-1252: ñ is the one byte F1.
				line := strings.Replace(l.goodCSV(2), "Cliente 2", "Cliente 2 Pe\xf1a", 1)
				if l == Payments {
					line = strings.Replace(line, "REF-000002", "REF-000002-Pe\xf1a", 1)
				}
				return writeFile(tb, dir, "hostil.csv", []byte(l.headerCSV()+l.goodCSV(1)+line))
			}},
	}
}

// writeExcel writes a workbook of n good rows with excelize.
func writeExcel(tb testing.TB, dir string, l Layout, n int, opts excelize.Options) string {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	rows := [][]any{}
	for _, h := range l.header() {
		if len(rows) == 0 {
			rows = append(rows, nil)
		}
		rows[0] = append(rows[0], h)
	}
	for i := 1; i <= n; i++ {
		rows = append(rows, l.good(i))
	}
	for r, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			tb.Fatal(err)
		}
	}
	path := filepath.Join(dir, "hostil.xlsx")
	if err := f.SaveAs(path, opts); err != nil {
		tb.Fatal(err)
	}
	return path
}

// bomb is a worksheet of a header and rows that inflate to 600 MB from
// about 600 KB; declare, when set, is the size the zip directory gives.
func bomb(l Layout, declare uint64) part {
	return part{Head: sheetHead + "<sheetData>" + l.headerXML(),
		Chunk: strings.Repeat("<row/>", (1<<20)/6), Times: 600, Tail: sheetTail, Declare: declare}
}

// millionRows is a worksheet of a header and a million rows below it, each
// with a cell in a column no reader reads; declared says whether its
// dimension says how many.
func millionRows(l Layout, declared bool) part {
	head := sheetHead
	if declared {
		head += `<dimension ref="A1:F1000001"/>`
	}
	return part{Gen: func(w io.Writer) {
		bw := bufio.NewWriter(w)
		bw.WriteString(head + "<sheetData>" + l.headerXML())
		for r := 2; r <= 1_000_001; r++ {
			fmt.Fprintf(bw, `<row r="%d"><c r="F%d"><v>1</v></c></row>`, r, r)
		}
		bw.WriteString(sheetTail)
		bw.Flush()
	}}
}

// hugeCell is a worksheet of good rows up to row n-1, then row n with a
// 10 MB text in a text column.
func hugeCell(l Layout, n int) part {
	return part{Head: sheetHead + "<sheetData>" + l.headerXML() + l.goodRows(n-2) +
		fmt.Sprintf(`<row r="%d"><c r="%s%d" t="inlineStr"><is><t>`, n, l.textColumn(), n),
		Chunk: strings.Repeat("x", 1<<10), Times: 10 << 10, Tail: "</t></is></c></row>" + sheetTail}
}

// sharedEverywhere is a worksheet whose n rows all show shared text 0 in
// a text column.
func sharedEverywhere(l Layout, n int) part {
	var b strings.Builder
	for r := 2; r <= n+1; r++ {
		fmt.Fprintf(&b, `<row r="%d"><c r="%s%d" t="s"><v>0</v></c></row>`, r, l.textColumn(), r)
	}
	return l.sheetWith(b.String())
}

// damage flips bytes in the middle of the compressed worksheet of a zip
// file and returns its path.
func damage(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "xl/worksheets/sheet1.xml" {
			off, err := f.DataOffset()
			if err != nil {
				tb.Fatal(err)
			}
			mid := off + int64(f.CompressedSize64)/2
			for i := mid; i < mid+16; i++ {
				data[i] ^= 0x5A
			}
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// utf16LE is s as UTF-16 little-endian text with its byte order mark, as
// Excel saves "Texto Unicode".
func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}
