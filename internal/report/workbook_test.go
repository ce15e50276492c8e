package report

import (
	"archive/zip"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

// sampleRows are one row of each colour and customers whose names a
// spreadsheet would take for formulas.
func sampleRows() []store.ReportRow {
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 30, 0, 0, calendar.Madrid) }
	return []store.ReportRow{
		{ // in management: yellow
			Invoice: "F2026-0001", Customer: "=SUM(A1)", Cups: "ES0021000000000001AB", AmountCents: 12345, PendingCents: 12345,
			Segment: "domestico", Stage: "notice_2", Notices: 2, ReturnedAt: at(time.January, 2),
			ReturnReason: "AC04", ReturnPath: "account",
		},
		{ // cut: red
			Invoice: "F2026-0002", Customer: "+34600111222", Cups: "ES0021000000000002AB", AmountCents: 50000, PendingCents: 20000,
			Segment: "empresa", Stage: "cut", Notices: 2, ReturnedAt: at(time.February, 10),
			CutDate: calendar.Date(2026, time.March, 3), CutAt: at(time.March, 3),
			ReturnReason: "AM04", ReturnPath: "funds",
		},
		{ // paid after the cut, reconnected: no fill
			Invoice: "F2026-0003", Customer: "@x", Cups: "ES0021000000000003AB", AmountCents: 7000, PendingCents: 0,
			Segment: "empresa", Stage: "reconnected", Notices: 2, ReturnedAt: at(time.January, 20),
			CutDate: calendar.Date(2026, time.February, 24), CutAt: at(time.February, 24), Reconnected: true, PaidAt: at(time.March, 1),
		},
		{ // paid before any cut: no fill
			Invoice: "F2026-0004", Customer: "-Ruiz, Ana", Cups: "ES0021000000000004AB", AmountCents: 9999, PendingCents: 0,
			Segment: "domestico", Stage: "paid", Notices: 1, ReturnedAt: at(time.March, 2), PaidAt: at(time.March, 5),
			ReturnReason: "AM04", ReturnPath: "funds",
		},
	}
}

// writeSample writes a workbook of sampleRows as of 15/03/2026 and returns
// its path and the Total General.
func writeSample(t *testing.T, rec Reconciliation) (string, int64) {
	t.Helper()
	asOf := calendar.Date(2026, time.March, 15)
	cutoff := time.Date(2026, time.March, 15, 9, 0, 0, 0, calendar.Madrid)
	rows := sampleRows()
	wb, err := newWorkbook(len(rows), asOf, cutoff)
	require.NoError(t, err)
	defer wb.close()
	var tot Totals
	for i := range rows {
		st := StateOf(&rows[i])
		tot.add(&rows[i], st, asOf)
		require.NoError(t, wb.add(&rows[i], st))
	}
	tot.sort()
	rec.TotalCents = tot.PendingCents
	require.NoError(t, wb.finish(&tot, &rec))
	path := filepath.Join(t.TempDir(), "impagos.xlsx")
	require.NoError(t, writeFile(path, wb))
	return path, tot.PendingCents
}

func TestWorkbookTableColoursFormatsAndText(t *testing.T) {
	t.Parallel()
	path, _ := writeSample(t, Reconciliation{Status: CheckFirst, Note: "primer informe"})
	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()

	require.Equal(t, []string{SheetTable, SheetSummary, SheetAges}, f.GetSheetList())
	// The names the clerks know from their own workbook (seed), spelt out so a
	// change of the constants shows here.
	require.Equal(t, []string{"TABLA DE IMPAGOS", "RESUMEN TOTAL IMPAGO"}, f.GetSheetList()[:2])
	require.Equal(t, 0, f.GetActiveSheetIndex(), "the workbook opens on the table")
	rows, err := f.GetRows(SheetTable, excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Equal(t, TableHeader, rows[0])
	require.Equal(t, []string{"Cliente", "Importe", "Número de Factura", "Cups"}, rows[0][:4],
		"the four columns of the TRADE export, as the clerks paste them")
	require.Len(t, rows, 5)

	fillOf := func(cell string) string {
		t.Helper()
		id, err := f.GetCellStyle(SheetTable, cell)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		if st.Fill.Pattern == 0 || len(st.Fill.Color) == 0 {
			return ""
		}
		return strings.ToUpper(st.Fill.Color[0])
	}
	numFmtOf := func(cell string) string {
		t.Helper()
		id, err := f.GetCellStyle(SheetTable, cell)
		require.NoError(t, err)
		st, err := f.GetStyle(id)
		require.NoError(t, err)
		if st.CustomNumFmt == nil {
			return ""
		}
		return *st.CustomNumFmt
	}
	// Every cell of a row has the row's fill, empty date cells included:
	// yellow while in management, red once cut, none once resolved.
	require.Equal(t, "FFFF00", fillOf("A2"), "yellow")
	require.Equal(t, "FF0000", fillOf("A3"), "red")
	for row, want := range map[int]string{2: FillManaging, 3: FillCut, 4: "", 5: ""} {
		for col := 1; col <= len(TableHeader); col++ {
			cell, _ := excelize.CoordinatesToCellName(col, row)
			require.Equal(t, want, fillOf(cell), cell)
		}
	}
	require.Equal(t, []string{"En gestión", "Cortado", "Resuelto", "Resuelto"}, []string{rows[1][11], rows[2][11], rows[3][11], rows[4][11]})

	// Amounts are numbers in euros with two decimals; dates are date cells.
	require.Equal(t, NumFmtEuro, numFmtOf("B2"))
	require.Equal(t, NumFmtEuro, numFmtOf("K3"))
	require.Equal(t, "123.45", rows[1][1])
	require.Equal(t, "200", rows[2][10])
	for _, c := range []string{"B2", "K3", "G2"} {
		typ, err := f.GetCellType(SheetTable, c)
		require.NoError(t, err)
		require.Equal(t, excelize.CellTypeUnset, typ, "%s is a number cell (no type attribute)", c)
	}
	for _, c := range []string{"H3", "I3", "J4", "M2"} {
		require.Equal(t, NumFmtDate, numFmtOf(c), c)
	}
	shown := func(cell string) string {
		v, err := f.GetCellValue(SheetTable, cell)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, "03/03/2026", shown("H3"), "scheduled cut date")
	require.Equal(t, "03/03/2026", shown("I3"), "cut date")
	require.Equal(t, "01/03/2026", shown("J4"), "paid date")
	require.Equal(t, "02/01/2026", shown("M2"), "return date")
	require.Equal(t, "", shown("J2"), "not paid")
	require.Equal(t, "123.45 €", shown("B2"), "shown as euros (excelize formats with a decimal point)")
	require.Equal(t, "200.00 €", shown("K3"))

	// Names a spreadsheet would read as formulas stay text.
	for cell, name := range map[string]string{"A2": "=SUM(A1)", "A3": "+34600111222", "A4": "@x", "A5": "-Ruiz, Ana"} {
		require.Equal(t, name, shown(cell))
		formula, err := f.GetCellFormula(SheetTable, cell)
		require.NoError(t, err)
		require.Empty(t, formula, cell)
		typ, err := f.GetCellType(SheetTable, cell)
		require.NoError(t, err)
		require.Equal(t, excelize.CellTypeInlineString, typ, cell)
	}
	require.Equal(t, "Aviso 2", rows[1][5])
	require.Equal(t, "Doméstico", rows[1][4])
	require.Equal(t, "2", rows[1][6])
	// The bank's reason of the return, short; a return TRADE gave has none.
	require.Equal(t, "Motivo Devolución", rows[0][13])
	require.Equal(t, []string{"AC04 · cuenta o mandato", "AM04 · sin fondos", "sin motivo (TRADE)", "AM04 · sin fondos"},
		[]string{shown("N2"), shown("N3"), shown("N4"), shown("N5")})

	panes, err := f.GetPanes(SheetTable)
	require.NoError(t, err)
	require.True(t, panes.Freeze)
	require.Equal(t, 1, panes.YSplit)
	require.Equal(t, "A2", panes.TopLeftCell)

	sheetXML := zipPart(t, path, "xl/worksheets/sheet1.xml")
	require.Contains(t, sheetXML, `<autoFilter ref="$A$1:$N$5"`)
}

func TestWorkbookSummaryPivotAndChart(t *testing.T) {
	t.Parallel()
	rec := Reconciliation{
		Status: CheckUnbalanced, Note: "no cuadra", PreviousRunID: 7, PreviousAt: time.Date(2026, 3, 14, 9, 0, 0, 0, calendar.Madrid),
		PreviousCents: 30000, NewReturns: 1, NewReturnsCents: 5000, Payments: 1, PaymentsCents: 2000,
		ExpectedCents: 33000, DifferenceCents: -655,
		Explanations: []Explanation{{Invoice: "F2026-0002", Cents: -655, Reason: "lo pendiente bajó"}},
	}
	path, total := writeSample(t, rec)
	require.Equal(t, int64(32345), total)
	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()

	pts, err := f.GetPivotTables(SheetSummary)
	require.NoError(t, err)
	require.Len(t, pts, 1)
	pt := pts[0]
	require.Equal(t, PivotName, pt.Name)
	require.Equal(t, SheetTable+"!A1:N5", pt.DataRange)
	require.Equal(t, SheetSummary+"!"+pivotRange, pt.PivotTableRange)
	require.Equal(t, []string{"Cliente"}, fieldNames(pt.Rows))
	require.Equal(t, []string{"Etapa"}, fieldNames(pt.Columns))
	require.Equal(t, []string{"Estado"}, fieldNames(pt.Filter))
	require.Len(t, pt.Data, 1)
	require.Equal(t, "Pendiente", pt.Data[0].Data)
	require.Equal(t, "Sum", pt.Data[0].Subtotal)
	require.True(t, pt.RowGrandTotals)
	require.True(t, pt.ColGrandTotals)
	require.Contains(t, zipPart(t, path, "xl/pivotTables/pivotTable1.xml"), `grandTotalCaption="Total General"`)
	require.Contains(t, zipPart(t, path, "xl/pivotCache/pivotCacheDefinition1.xml"), `refreshOnLoad="true"`)

	// The check of the total, with the figure the clerks compare.
	cells := map[string]string{}
	for _, c := range []string{"A5", "B5", "A6", "B6", "A7", "B7", "B8", "A9", "B9", "B10", "B11", "A15", "B15"} {
		v, err := f.GetCellValue(SheetSummary, c, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		cells[c] = v
	}
	require.Equal(t, "Total anterior (informe nº 7, 14/03/2026 09:00)", cells["A5"])
	require.Equal(t, "300", cells["B5"])
	require.Equal(t, "+ Nuevas devoluciones (1)", cells["A6"])
	require.Equal(t, "50", cells["B6"])
	require.Equal(t, "20", cells["B7"])
	require.Equal(t, "330", cells["B8"])
	require.Equal(t, "Total General (importe)", cells["A9"])
	require.Equal(t, "323.45", cells["B9"])
	require.Equal(t, "-6.55", cells["B10"])
	require.Equal(t, "no cuadra", cells["B11"])
	require.Equal(t, "Facturas que explican la diferencia", cells["A15"])
	require.Equal(t, "1: ver hoja "+SheetDifferences, cells["B15"])
	require.Contains(t, f.GetSheetList(), SheetDifferences)
	diffRows, err := f.GetRows(SheetDifferences)
	require.NoError(t, err)
	require.Equal(t, []string{"F2026-0002", "-6.55 €", "lo pendiente bajó"}, diffRows[2])

	// Beside the check, what is owed by the kind of the bank's reason and by
	// reason code, each adding up to the Total General.
	block := func(col string, rows int) [][]string {
		t.Helper()
		first, err := excelize.ColumnNameToNumber(col)
		require.NoError(t, err)
		var out [][]string
		for r := reasonsRow; r < reasonsRow+rows; r++ {
			var line []string
			for c := first; c < first+3; c++ {
				cell, _ := excelize.CoordinatesToCellName(c, r)
				v, err := f.GetCellValue(SheetSummary, cell, excelize.Options{RawCellValue: true})
				require.NoError(t, err)
				line = append(line, v)
			}
			out = append(out, line)
		}
		return out
	}
	require.Equal(t, [][]string{
		{"Pendiente por tipo de motivo", "", ""},
		{"Tipo de motivo", "Abiertas", "Pendiente"},
		{"sin fondos", "1", "200"},
		{"cuenta o mandato", "1", "123.45"},
		{"sin motivo (TRADE)", "0", "0"},
		{"Total", "2", "323.45"},
		{"", "", ""},
	}, block("D", 7))
	require.Equal(t, [][]string{
		{"Pendiente por motivo de devolución", "", ""},
		{"Motivo", "Abiertas", "Pendiente"},
		{"AM04 · sin fondos", "1", "200"},
		{"AC04 · cuenta o mandato", "1", "123.45"},
		{"sin motivo (TRADE)", "0", "0"},
		{"Total", "2", "323.45"},
		{"", "", ""},
	}, block("H", 7))
	shownSummary := func(cell string) string {
		v, err := f.GetCellValue(SheetSummary, cell)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, "323.45 €", shownSummary("J9"), "amounts in euros")
	require.Equal(t, "2", shownSummary("I9"), "counts as numbers")

	// The chart's data: what is owed by stage and age at 15/03/2026.
	ages, err := f.GetRows(SheetAges, excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"Etapa", AgeBuckets[0], AgeBuckets[1], AgeBuckets[2], AgeBuckets[3], "Total"},
		{"Aviso 2", "0", "0", "123.45", "0", "123.45"}, // returned 02/01: 72 days
		{"Cortado", "0", "200", "0", "0", "200"},       // returned 10/02: 33 days
	}, ages)
	var chart struct {
		Grouping struct {
			Val string `xml:"val,attr"`
		} `xml:"chart>plotArea>barChart>grouping"`
		Series []struct {
			Name       string `xml:"tx>strRef>f"`
			Categories string `xml:"cat>strRef>f"`
			Values     string `xml:"val>numRef>f"`
		} `xml:"chart>plotArea>barChart>ser"`
	}
	require.NoError(t, xml.Unmarshal([]byte(zipPart(t, path, "xl/charts/chart1.xml")), &chart))
	require.Equal(t, "stacked", chart.Grouping.Val)
	require.Len(t, chart.Series, 4, "one series per age bucket")
	for i, s := range chart.Series {
		col := string(rune('B' + i))
		require.Equal(t, "'"+SheetAges+"'!$"+col+"$1", s.Name)
		require.Equal(t, "'"+SheetAges+"'!$A$2:$A$3", s.Categories)
		require.Equal(t, "'"+SheetAges+"'!$"+col+"$2:$"+col+"$3", s.Values)
	}
	drawingRels := zipPart(t, path, "xl/worksheets/_rels/sheet2.xml.rels")
	require.Contains(t, drawingRels, "drawing")
	require.Contains(t, drawingRels, "pivotTable")
}

func TestWorkbookWithNoInvoices(t *testing.T) {
	t.Parallel()
	wb, err := newWorkbook(0, calendar.Date(2026, 3, 15), time.Now())
	require.NoError(t, err)
	defer wb.close()
	require.NoError(t, wb.finish(&Totals{}, &Reconciliation{Status: CheckFirst}))
	path := filepath.Join(t.TempDir(), "vacio.xlsx")
	require.NoError(t, writeFile(path, wb))
	f, err := excelize.OpenFile(path)
	require.NoError(t, err)
	defer f.Close()
	pts, err := f.GetPivotTables(SheetSummary)
	require.NoError(t, err)
	require.Equal(t, SheetTable+"!A1:N2", pts[0].DataRange)
	ages, err := f.GetRows(SheetAges)
	require.NoError(t, err)
	require.Equal(t, "Sin impagos", ages[1][0])
}

func fieldNames(fields []excelize.PivotTableField) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Data)
	}
	return out
}

// zipPart returns a part of the workbook package as text.
func zipPart(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	require.NoError(t, err)
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			require.NoError(t, err)
			defer rc.Close()
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			return string(b)
		}
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	t.Fatalf("%s has no part %s; it has %s", path, name, strings.Join(names, ", "))
	return ""
}
