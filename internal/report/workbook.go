package report

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/store"
)

// The sheets of the clerks' workbook.
const (
	SheetTable       = "TABLA DE IMPAGOS"
	SheetSummary     = "RESUMEN TOTAL IMPAGO"
	SheetAges        = "PENDIENTE POR ANTIGÜEDAD" // the chart's data
	SheetDifferences = "DIFERENCIAS"              // only when the total does not balance
)

// PivotName is the name of the pivot table on SheetSummary.
const PivotName = "TotalImpago"

// GrandTotalCaption is the pivot table's caption for its grand totals.
const GrandTotalCaption = "Total General"

// Formats of the workbook's cells.
const (
	NumFmtEuro = `#,##0.00 "€"`
	NumFmtDate = "dd/mm/yyyy"
)

// Fills of the table's rows: yellow while in management, red once cut.
const (
	FillManaging = "FFFF00"
	FillCut      = "FF0000"
)

// TableHeader is the header row of SheetTable: the four columns of the TRADE
// export first, as the clerks paste them, then what the system knows.
var TableHeader = []string{
	"Cliente", "Importe", "Número de Factura", "Cups",
	"Segmento", "Etapa", "Avisos enviados", "Fecha de corte programada", "Fecha de corte", "Fecha de pago",
	"Pendiente", "Estado", "Fecha de devolución", "Motivo Devolución",
}

// Columns of SheetTable, 1-based as excelize counts them.
const (
	colCustomer = iota + 1
	colAmount
	colInvoice
	colCups
	colSegment
	colStage
	colNotices
	colCutDate
	colCutAt
	colPaidAt
	colPending
	colState
	colReturned
	colReason
)

// Where things sit on SheetSummary. The pivot table grows down and right when
// it is refreshed, so nothing is placed below or to its right; its filter
// (Estado) goes two rows above its location. Above it, from left to right:
// the check of the total, what is owed by return path and by reason code
// (columns D to J, rows 4 to reasonsLastRow), and the chart.
const (
	checkFirstRow  = 4
	reasonsRow     = 4  // the breakdown's titles; its headers below, then its lines
	reasonsLastRow = 21 // the row of its totals at most: the pivot's filter is on row 22
	chartCell      = "L4"
	pivotLocation  = "A24"
	pivotRange     = "A24:P60" // refreshed to its real size when the workbook is opened
)

// workbook writes the clerks' workbook: the table streams row by row, so
// memory stays bounded however many invoices there are.
type workbook struct {
	f      *excelize.File
	sw     *excelize.StreamWriter
	row    int
	cells  []any
	styles [3]rowStyles // by State
	bold   int
	euro   int
	asOf   time.Time
	cutoff time.Time
}

type rowStyles struct{ text, euro, date int }

// newWorkbook prepares a workbook for a table of rows invoices. The pivot
// table is defined before the table streams: excelize reads the header of
// its data range from the sheet, which a stream writer no longer holds.
func newWorkbook(rows int, asOf, cutoff time.Time) (*workbook, error) {
	f := excelize.NewFile()
	f.SetZipWriter(fastZip)
	w := &workbook{f: f, row: 1, cells: make([]any, len(TableHeader)), asOf: asOf, cutoff: cutoff}
	if err := w.prepare(rows); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// fastZip compresses for speed: a workbook of 100,000 rows is mostly XML
// that deflates well at any level.
func fastZip(out io.Writer) excelize.ZipWriter {
	zw := zip.NewWriter(out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	return zw
}

func (w *workbook) prepare(rows int) error {
	f := w.f
	if err := f.SetSheetName("Sheet1", SheetTable); err != nil {
		return err
	}
	for _, s := range []string{SheetSummary, SheetAges} {
		if _, err := f.NewSheet(s); err != nil {
			return err
		}
	}
	// The table opens first. Set now, while the sheets are empty: excelize
	// parses every worksheet back into memory to set it, and at the end that
	// would be the whole table still held by the stream writer.
	f.SetActiveSheet(0)
	if err := w.newStyles(); err != nil {
		return err
	}
	if err := f.SetSheetRow(SheetTable, "A1", &TableHeader); err != nil {
		return err
	}
	last, _ := excelize.CoordinatesToCellName(len(TableHeader), max(rows+1, 2))
	if err := f.AutoFilter(SheetTable, "A1:"+last, nil); err != nil {
		return fmt.Errorf("autofilter: %w", err)
	}
	if err := w.addPivot("$A$1:$" + absolute(last)); err != nil {
		return err
	}

	sw, err := f.NewStreamWriter(SheetTable)
	if err != nil {
		return err
	}
	w.sw = sw
	for col, width := range map[int]float64{
		colCustomer: 34, colAmount: 13, colInvoice: 18, colCups: 24, colSegment: 11, colStage: 20, colNotices: 9,
		colCutDate: 13, colCutAt: 13, colPaidAt: 13, colPending: 13, colState: 12, colReturned: 13, colReason: 26,
	} {
		if err := sw.SetColWidth(col, col, width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	header := make([]any, len(TableHeader))
	for i, h := range TableHeader {
		header[i] = excelize.Cell{StyleID: w.bold, Value: h}
	}
	return sw.SetRow("A1", header, excelize.RowOpts{Height: 30})
}

func (w *workbook) newStyles() error {
	var err error
	style := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = w.f.NewStyle(s)
		return id
	}
	euro, date := NumFmtEuro, NumFmtDate
	for st, color := range map[State]string{Managing: FillManaging, Cut: FillCut, Resolved: ""} {
		var fill excelize.Fill
		if color != "" {
			fill = excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{color}}
		}
		w.styles[st] = rowStyles{
			text: style(&excelize.Style{Fill: fill}),
			euro: style(&excelize.Style{Fill: fill, CustomNumFmt: &euro}),
			date: style(&excelize.Style{Fill: fill, CustomNumFmt: &date}),
		}
	}
	w.bold = style(&excelize.Style{Font: &excelize.Font{Bold: true},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"}})
	w.euro = style(&excelize.Style{CustomNumFmt: &euro})
	return err
}

// addPivot defines RESUMEN TOTAL IMPAGO's pivot table: what is owed (Pendiente)
// by customer (rows) and stage (columns), with grand totals both ways, and the
// row state (Estado) as its filter.
func (w *workbook) addPivot(dataRange string) error {
	err := w.f.AddPivotTable(&excelize.PivotTableOptions{
		Name:            PivotName,
		DataRange:       SheetTable + "!" + dataRange,
		PivotTableRange: SheetSummary + "!" + pivotRange,
		Rows:            []excelize.PivotTableField{{Data: "Cliente"}},
		Columns:         []excelize.PivotTableField{{Data: "Etapa"}},
		Filter:          []excelize.PivotTableField{{Data: "Estado"}},
		Data:            []excelize.PivotTableField{{Data: "Pendiente", Name: "Suma de Pendiente", Subtotal: "Sum", NumFmt: 4}},
		RowGrandTotals:  true,
		ColGrandTotals:  true,
		ShowDrill:       true,
		ShowRowHeaders:  true,
		ShowColHeaders:  true,
		ShowLastColumn:  true,
	})
	if err != nil {
		return fmt.Errorf("pivot table: %w", err)
	}
	return w.setPivotCaptions()
}

// setPivotCaptions names the grand totals "Total General", as the clerks'
// pivot does. excelize has no option for it, so the attribute is added to the
// pivot table part it wrote.
func (w *workbook) setPivotCaptions() error {
	const part = "xl/pivotTables/pivotTable1.xml"
	v, ok := w.f.Pkg.Load(part)
	b, isBytes := v.([]byte)
	old := []byte(`dataCaption="Values"`)
	if !ok || !isBytes || !bytes.Contains(b, old) {
		return errors.New("pivot table: cannot set its grand total caption (excelize wrote an unexpected part)")
	}
	b = bytes.Replace(b, old, []byte(`dataCaption="Valores" grandTotalCaption="`+GrandTotalCaption+`"`), 1)
	w.f.Pkg.Store(part, b)
	return nil
}

// add writes one row of the table.
func (w *workbook) add(r *store.ReportRow, st State) error {
	s := w.styles[st]
	c := w.cells
	c[colCustomer-1] = excelize.Cell{StyleID: s.text, Value: r.Customer}
	c[colAmount-1] = excelize.Cell{StyleID: s.euro, Value: euros(r.AmountCents)}
	c[colInvoice-1] = excelize.Cell{StyleID: s.text, Value: r.Invoice}
	c[colCups-1] = excelize.Cell{StyleID: s.text, Value: r.Cups}
	c[colSegment-1] = excelize.Cell{StyleID: s.text, Value: SegmentLabel(r.Segment)}
	c[colStage-1] = excelize.Cell{StyleID: s.text, Value: StageLabel(r.Stage)}
	c[colNotices-1] = excelize.Cell{StyleID: s.text, Value: r.Notices}
	c[colCutDate-1] = excelize.Cell{StyleID: s.date, Value: day(r.CutDate)}
	c[colCutAt-1] = excelize.Cell{StyleID: s.date, Value: day(r.CutAt)}
	c[colPaidAt-1] = excelize.Cell{StyleID: s.date, Value: day(r.PaidAt)}
	c[colPending-1] = excelize.Cell{StyleID: s.euro, Value: euros(r.PendingCents)}
	c[colState-1] = excelize.Cell{StyleID: s.text, Value: st.Label()}
	c[colReturned-1] = excelize.Cell{StyleID: s.date, Value: day(r.ReturnedAt)}
	c[colReason-1] = excelize.Cell{StyleID: s.text, Value: ReasonLabel(r.ReturnReason, r.ReturnPath)}
	w.row++
	cell, err := excelize.CoordinatesToCellName(1, w.row)
	if err != nil {
		return err
	}
	if err := w.sw.SetRow(cell, c); err != nil {
		return fmt.Errorf("table row %d (invoice %s): %w", w.row, r.Invoice, err)
	}
	return nil
}

// finish ends the table and writes the summary, the chart and its data.
func (w *workbook) finish(t *Totals, rec *Reconciliation) error {
	if err := w.sw.Flush(); err != nil {
		return err
	}
	if err := w.writeAges(t); err != nil {
		return fmt.Errorf("sheet %s: %w", SheetAges, err)
	}
	if err := w.writeSummary(rec); err != nil {
		return fmt.Errorf("sheet %s: %w", SheetSummary, err)
	}
	if err := w.writeReasons(t); err != nil {
		return fmt.Errorf("sheet %s: %w", SheetSummary, err)
	}
	if len(rec.Explanations) > 0 || len(rec.Overpaid) > 0 {
		if err := w.writeDifferences(rec); err != nil {
			return fmt.Errorf("sheet %s: %w", SheetDifferences, err)
		}
	}
	return nil
}

// writeAges writes what is owed by stage and age, the chart's data.
func (w *workbook) writeAges(t *Totals) error {
	f, sheet := w.f, SheetAges
	header := []any{"Etapa"}
	for _, b := range AgeBuckets {
		header = append(header, b)
	}
	header = append(header, "Total")
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		return err
	}
	row := 1
	for _, s := range t.Stages {
		if s.PendingCents == 0 {
			continue
		}
		row++
		values := []any{s.Label}
		for _, c := range s.AgeCents {
			values = append(values, euros(c))
		}
		values = append(values, euros(s.PendingCents))
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &values); err != nil {
			return err
		}
	}
	if row == 1 { // nothing owed: one empty row keeps the chart valid
		row++
		if err := f.SetSheetRow(sheet, "A2", &[]any{"Sin impagos", 0, 0, 0, 0, 0}); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(sheet, "A1", "F1", w.bold); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "B2", fmt.Sprintf("F%d", row), w.euro); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "A", "A", 22); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "B", "F", 15); err != nil {
		return err
	}
	ref := func(col string) string { return fmt.Sprintf("'%s'!$%s$2:$%s$%d", sheet, col, col, row) }
	var series []excelize.ChartSeries
	for i := range AgeBuckets {
		col := string(rune('B' + i))
		series = append(series, excelize.ChartSeries{
			Name:       fmt.Sprintf("'%s'!$%s$1", sheet, col),
			Categories: ref("A"),
			Values:     ref(col),
		})
	}
	return f.AddChart(SheetSummary, chartCell, &excelize.Chart{
		Type:      excelize.ColStacked,
		Series:    series,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Pendiente por etapa y antigüedad"}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 640, Height: 320},
		YAxis:     excelize.ChartAxis{MajorGridLines: true, NumFmt: excelize.ChartNumFmt{CustomNumFmt: `#,##0 "€"`}},
	})
}

// writeSummary writes the title and the check of the total above the pivot.
func (w *workbook) writeSummary(rec *Reconciliation) error {
	f, sheet := w.f, SheetSummary
	set := func(cell string, v any) error { return f.SetCellValue(sheet, cell, v) }
	if err := set("A1", SheetSummary); err != nil {
		return err
	}
	if err := set("A2", fmt.Sprintf("Datos a %s (hasta las %s)", w.asOf.Format("02/01/2006"),
		w.cutoff.In(madrid).Format("02/01/2006 15:04"))); err != nil {
		return err
	}
	previous := "Total anterior"
	var previousValue any = euros(rec.PreviousCents)
	if rec.PreviousRunID != 0 {
		previous = fmt.Sprintf("Total anterior (informe nº %d, %s)", rec.PreviousRunID,
			rec.PreviousAt.In(madrid).Format("02/01/2006 15:04"))
	} else {
		previousValue = "sin informe anterior"
	}
	lines := []struct {
		label string
		value any
	}{
		{"Comprobación del total", nil},
		{previous, previousValue},
		{fmt.Sprintf("+ Nuevas devoluciones (%d)", rec.NewReturns), euros(rec.NewReturnsCents)},
		{fmt.Sprintf("− Pagos registrados (%d)", rec.Payments), euros(rec.PaymentsCents)},
		{"= Total esperado", euros(rec.ExpectedCents)},
		{GrandTotalCaption + " (importe)", euros(rec.TotalCents)},
		{"Diferencia", euros(rec.DifferenceCents)},
		{"Resultado", rec.Note},
		{"Pagos en exceso (no restan)", euros(rec.OverpaidCents)},
		{fmt.Sprintf("Pagos de facturas que no están en la tabla (%d, no restan)", rec.Stray.Unknown.Count), euros(rec.Stray.Unknown.Cents)},
		{fmt.Sprintf("Pagos anteriores a la devolución (%d, no restan)", rec.Stray.BeforeReturn.Count), euros(rec.Stray.BeforeReturn.Cents)},
	}
	if n := len(rec.Explanations) + rec.MoreExplanations; n > 0 {
		lines = append(lines, struct {
			label string
			value any
		}{"Facturas que explican la diferencia", fmt.Sprintf("%d: ver hoja %s", n, SheetDifferences)})
	}
	for i, l := range lines {
		row := checkFirstRow + i
		if err := set(fmt.Sprintf("A%d", row), l.label); err != nil {
			return err
		}
		if l.value == nil {
			continue
		}
		if err := set(fmt.Sprintf("B%d", row), l.value); err != nil {
			return err
		}
		if _, isNumber := l.value.(float64); isNumber {
			if err := f.SetCellStyle(sheet, fmt.Sprintf("B%d", row), fmt.Sprintf("B%d", row), w.euro); err != nil {
				return err
			}
		}
	}
	bold := []string{"A1", fmt.Sprintf("A%d", checkFirstRow), fmt.Sprintf("A%d", checkFirstRow+5)}
	for _, c := range bold {
		if err := f.SetCellStyle(sheet, c, c, w.bold); err != nil {
			return err
		}
	}
	if !rec.Balanced() {
		red, err := f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{FillCut}},
			CustomNumFmt: strPtr(NumFmtEuro), Font: &excelize.Font{Bold: true}})
		if err != nil {
			return err
		}
		diff := fmt.Sprintf("B%d", checkFirstRow+6)
		if err := f.SetCellStyle(sheet, diff, diff, red); err != nil {
			return err
		}
	}
	if err := f.SetColWidth(sheet, "A", "A", 52); err != nil {
		return err
	}
	return f.SetColWidth(sheet, "B", "B", 18)
}

// writeReasons writes, beside the check of the total, what the invoices owe
// by the kind of reason the bank gave for their return (its path), and by
// reason code. Each list ends in its total, which is the Total General. The
// lines that do not fit above the pivot table are added up in one, the
// smallest debts first.
func (w *workbook) writeReasons(t *Totals) error {
	room := reasonsLastRow - reasonsRow - 2 // the title, the headers and the total take the others
	if err := w.writeReasonList("D", "Pendiente por tipo de motivo", "Tipo de motivo", fold(t.Paths, room)); err != nil {
		return err
	}
	return w.writeReasonList("H", "Pendiente por motivo de devolución", "Motivo", fold(t.Reasons, room))
}

// writeReasonList writes one list of the breakdown from column col: its
// title, its headers, its lines and their total.
func (w *workbook) writeReasonList(col, title, what string, lines []ReasonTotal) error {
	f, sheet := w.f, SheetSummary
	first, err := excelize.ColumnNameToNumber(col)
	if err != nil {
		return err
	}
	cell := func(c, row int) string {
		name, _ := excelize.CoordinatesToCellName(first+c, row)
		return name
	}
	// put writes a row of the list, the cells from column from on in style.
	put := func(row int, values []any, from, style int) error {
		if err := f.SetSheetRow(sheet, cell(0, row), &values); err != nil {
			return err
		}
		return f.SetCellStyle(sheet, cell(from, row), cell(len(values)-1, row), style)
	}
	row := reasonsRow
	if err := put(row, []any{title}, 0, w.bold); err != nil {
		return err
	}
	row++
	if err := put(row, []any{what, "Abiertas", "Pendiente"}, 0, w.bold); err != nil {
		return err
	}
	var open int
	var pending int64
	for _, l := range lines {
		row++
		if err := put(row, []any{l.Label, l.Open, euros(l.PendingCents)}, 2, w.euro); err != nil {
			return err
		}
		open += l.Open
		pending += l.PendingCents
	}
	row++
	if err := put(row, []any{"Total", open, euros(pending)}, 2, w.euro); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, cell(0, row), cell(0, row), w.bold); err != nil {
		return err
	}
	for c, width := range []float64{28, 9, 14} {
		name, _ := excelize.ColumnNumberToName(first + c)
		if err := f.SetColWidth(sheet, name, name, width); err != nil {
			return err
		}
	}
	return nil
}

// fold keeps list when it has at most room lines; else the room-1 lines that
// owe most, in list's order, and one line adding up the others.
func fold(list []ReasonTotal, room int) []ReasonTotal {
	if len(list) <= room {
		return list
	}
	byDebt := make([]int, len(list))
	for i := range byDebt {
		byDebt[i] = i
	}
	sort.SliceStable(byDebt, func(a, b int) bool { return list[byDebt[a]].PendingCents > list[byDebt[b]].PendingCents })
	keep := make([]bool, len(list))
	for _, i := range byDebt[:room-1] {
		keep[i] = true
	}
	var out []ReasonTotal
	others := ReasonTotal{}
	n := 0
	for i, l := range list {
		if keep[i] {
			out = append(out, l)
			continue
		}
		n++
		others.Invoices += l.Invoices
		others.Open += l.Open
		others.Owing += l.Owing
		others.PendingCents += l.PendingCents
	}
	others.Label = fmt.Sprintf("Otros motivos (%d)", n)
	return append(out, others)
}

// writeDifferences lists the invoices that explain a difference and the
// overpaid ones.
func (w *workbook) writeDifferences(rec *Reconciliation) error {
	f, sheet := w.f, SheetDifferences
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	row := 1
	write := func(title string, list []Explanation, more int) error {
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &[]any{title}); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("A%d", row), w.bold); err != nil {
			return err
		}
		row++
		if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &[]any{"Número de Factura", "Importe", "Motivo"}); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("C%d", row), w.bold); err != nil {
			return err
		}
		for _, e := range list {
			row++
			if err := f.SetSheetRow(sheet, fmt.Sprintf("A%d", row), &[]any{e.Invoice, euros(e.Cents), e.Reason}); err != nil {
				return err
			}
			if err := f.SetCellStyle(sheet, fmt.Sprintf("B%d", row), fmt.Sprintf("B%d", row), w.euro); err != nil {
				return err
			}
		}
		if more > 0 {
			row++
			if err := f.SetCellValue(sheet, fmt.Sprintf("A%d", row), fmt.Sprintf("y %d más", more)); err != nil {
				return err
			}
		}
		row += 2
		return nil
	}
	if len(rec.Explanations) > 0 {
		title := fmt.Sprintf("Diferencia de %s: facturas que la explican", money.Format(rec.DifferenceCents))
		if err := write(title, rec.Explanations, rec.MoreExplanations); err != nil {
			return err
		}
	}
	if len(rec.Overpaid) > 0 {
		if err := write("Pagos en exceso (no restan del total)", rec.Overpaid, 0); err != nil {
			return err
		}
	}
	if err := f.SetColWidth(sheet, "A", "A", 20); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "B", "B", 14); err != nil {
		return err
	}
	return f.SetColWidth(sheet, "C", "C", 100)
}

// writeTo writes the workbook.
func (w *workbook) writeTo(out io.Writer) error {
	_, err := w.f.WriteTo(out)
	return err
}

func (w *workbook) close() error { return w.f.Close() }

// euros is an amount as a spreadsheet number; cents are exact in a float64
// far beyond any invoice.
func euros(cents int64) float64 { return float64(cents) / 100 }

// day is t's calendar day in Madrid as a date cell, or no value for the zero
// time. excelize writes the wall clock of a UTC time, so the day goes as
// midnight UTC.
func day(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return civil(t)
}

// absolute turns a cell name like M101 into M$101.
func absolute(cell string) string {
	col, row, _ := excelize.SplitCellName(cell)
	return fmt.Sprintf("%s$%d", col, row)
}

func strPtr(s string) *string { return &s }
