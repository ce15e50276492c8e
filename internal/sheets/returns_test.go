package sheets

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elega/impagos/internal/calendar"
)

var returnsHeader = []any{"Cliente", "Número de Factura", "Importe", "Cups"}

// TestReturnsHeaderVariants writes one export per spelling of each required
// header and checks the row is read through it.
func TestReturnsHeaderVariants(t *testing.T) {
	variants := map[int][]string{ // column of returnsHeader → spellings
		0: {"Cliente", "CLIENTE", "cliente ", "Nombre", "Titular", "Razón Social", "Razon social", "RAZÓN SOCIAL",
			"Nombre Cliente", "Nombre/Razón Social"},
		1: {"Número de Factura", "Numero de factura", "NÚMERO DE FACTURA", "Nº Factura", "Nº factura", "N° Factura",
			"Num. Factura", "Núm. Factura", "Factura", "N Factura", "Nº de factura", "N. Factura", "Nº Fra.",
			"Invoice", "Invoice number", " Nº  Factura: "},
		2: {"Importe", "IMPORTE", "Importe (€)", "Importe €", "Importe(€)", "Importe Pendiente", "Importe Devuelto",
			"Total", "Importe total"},
		3: {"Cups", "CUPS", "cups", "Código CUPS", "Codigo Cups", "Cód. CUPS"},
	}
	for col, names := range variants {
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				header := append([]any(nil), returnsHeader...)
				header[col] = name
				path := writeXLSX(t, header, []any{"Ana Pérez", "FE26-1", 12.5, cupsOf(1)})
				got, rep := readAllReturns(t, path, Options{})
				if len(got) != 1 || got[0].AmountCents != 1250 || got[0].Invoice != "FE26-1" || got[0].Customer != "Ana Pérez" {
					t.Errorf("got %+v, report %+v", got, rep)
				}
			})
		}
	}
}

func TestReturnsTitleRowsAndReorderedColumns(t *testing.T) {
	path := writeXLSX(t,
		[]any{"GESTIÓN DE PAGOS - VENCIMIENTOS DE COBRO"},
		[]any{"Filtro: Devuelto", nil, "Fecha: 25/10/2026"},
		nil,
		[]any{"Total devoluciones: 2"}, // a title that mentions a total is no totals row
		[]any{"Cups", "Importe (€)", "Nº Vencimiento", "Comercial", "Razón Social", "Nº Factura"},
		[]any{cupsOf(7), "1.234,56 €", "V1", "Oficina", "Ana Pérez", "FE26-7"},
		[]any{cupsOf(8), 99.99, "V2", "Oficina", "Luis Gil", "FE26-8"},
	)
	got, rep := readAllReturns(t, path, Options{})
	want := []Return{
		{Row: 6, Invoice: "FE26-7", Customer: "Ana Pérez", AmountCents: 123456, Cups: cupsOf(7)},
		{Row: 7, Invoice: "FE26-8", Customer: "Luis Gil", AmountCents: 9999, Cups: cupsOf(8)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || rep.RowsRead != 2 {
		t.Errorf("got %+v (%+v)\nwant %+v", got, rep, want)
	}
}

func TestReturnsBlankAndTotalsRows(t *testing.T) {
	path := writeXLSX(t,
		returnsHeader,
		[]any{"Ana Pérez", "FE26-1", 10.0, cupsOf(1)},
		nil,                        // blank
		[]any{"   ", "", nil, " "}, // blank but for spaces
		[]any{nil, nil, nil, nil, "nota al margen"}, // only an ignored column
		returnsHeader, // the header again, as on each printed page
		[]any{"Luis Gil", "FE26-2", 20.0, cupsOf(2)},
		[]any{"Total", nil, 30.0},
		[]any{nil, "TOTAL GENERAL", 30.0},
		[]any{"Suma total", "", "30,00 €", ""},
		nil,
		[]any{nil, nil, nil, nil, "Exportado por TRADE"}, // trailing: not rows of the export
		nil,
	)
	got, rep := readAllReturns(t, path, Options{})
	if len(got) != 2 || rep.RowsRead != 9 || rep.Skipped != 7 || len(rep.Rejected) != 0 {
		t.Errorf("got %d, report %+v; want 2 accepted, 9 read, 7 skipped", len(got), rep)
	}
}

func TestReturnsStatusColumn(t *testing.T) {
	path := writeXLSX(t,
		[]any{"Cliente", "Nº Factura", "Importe", "Estado", "Cups"},
		[]any{"A", "FE26-1", 10.0, "Devuelto", cupsOf(1)},
		[]any{"B", "FE26-2", 10.0, "DEVUELTA", cupsOf(2)},
		[]any{"C", "FE26-3", 10.0, "Cobrado", cupsOf(3)},
		[]any{"D", "FE26-4", 10.0, "Pendiente", cupsOf(4)},
		[]any{"E", "FE26-5", 10.0, "devuelto parcialmente", cupsOf(5)},
		[]any{"F", "FE26-6", 10.0, "", cupsOf(6)},
		[]any{"G", "FE26-7", "sin importe", "Anulado", cupsOf(7)}, // skipped before it is checked
	)
	got, rep := readAllReturns(t, path, Options{})
	var invoices []string
	for _, r := range got {
		invoices = append(invoices, r.Invoice)
	}
	if strings.Join(invoices, " ") != "FE26-1 FE26-2 FE26-5" || rep.Skipped != 3 {
		t.Errorf("accepted %v, skipped %d; want FE26-1 FE26-2 FE26-5 and 3 skipped", invoices, rep.Skipped)
	}
	wantRejected(t, rep.Rejected, Rejection{7, "FE26-6", "status is empty (only Devuelto rows are imported)"})
}

func TestReturnsAmounts(t *testing.T) {
	path := writeXLSX(t,
		returnsHeader,
		[]any{"A", "FE26-1", 12.125, cupsOf(1)},         // number with a tenth of a cent
		[]any{"B", "FE26-2", "12.125", cupsOf(2)},       // Spanish text: twelve thousand...
		[]any{"C", "FE26-3", "1.234,56 €", cupsOf(3)},   // text with thousands and euro sign
		[]any{"D", "FE26-4", "12,50 EUR", cupsOf(4)},    // text with EUR
		[]any{"E", "FE26-5", 1234.56, cupsOf(5)},        // number
		[]any{"F", "FE26-6", 0, cupsOf(6)},              // zero
		[]any{"G", "FE26-7", "2.000.000,00", cupsOf(7)}, // above the limit
		[]any{"H", "FE26-8", true, cupsOf(8)},           // a boolean cell
		[]any{"I", "FE26-9", nil, cupsOf(9)},            // empty
		[]any{"J", "FE26-10", 1000000, cupsOf(10)},      // the limit
		[]any{"K", "FE26-11", "1.814,67\u00a0€", cupsOf(11)},
		[]any{"L", "FE26-12", 7, cupsOf(12)},
	)
	got, rep := readAllReturns(t, path, Options{})
	want := map[string]int64{"FE26-2": 1212500, "FE26-3": 123456, "FE26-4": 1250, "FE26-5": 123456,
		"FE26-10": 100000000, "FE26-11": 181467, "FE26-12": 700}
	if len(got) != len(want) {
		t.Errorf("accepted %d rows, want %d", len(got), len(want))
	}
	for _, r := range got {
		if r.AmountCents != want[r.Invoice] {
			t.Errorf("%s: %d cents, want %d", r.Invoice, r.AmountCents, want[r.Invoice])
		}
	}
	wantRejected(t, rep.Rejected,
		Rejection{2, "FE26-1", "amount 12.125 has more than two decimals"},
		Rejection{7, "FE26-6", "amount 0,00 € is not positive"},
		Rejection{8, "FE26-7", "amount 2.000.000,00 € is above the limit of 1.000.000,00 €"},
		Rejection{9, "FE26-8", `amount "1" is not a number`},
		Rejection{10, "FE26-9", "amount is empty"},
	)
}

func TestReturnsCups(t *testing.T) {
	spaced := strings.ToLower(cupsOf(3))
	spaced = spaced[:2] + " " + spaced[2:6] + " " + spaced[6:10] + "  " + spaced[10:]
	path := writeXLSX(t,
		returnsHeader,
		[]any{"A", "FE26-1", 10.0, cupsOf(1) + "0F"},      // 22 characters with border point
		[]any{"B", "FE26-2", 10.0, cupsOf(2) + "1P"},      // another border point kind
		[]any{"C", "FE26-3", 10.0, spaced},                // lower case with spaces
		[]any{"D", "FE26-4", 10.0, cupsOf(4) + "1Q"},      // no such border point kind
		[]any{"E", "FE26-5", 10.0, cupsOf(5)[:18] + "XX"}, // wrong control letters
		[]any{"F", "FE26-6", 10.0, cupsOf(6)[:19]},        // too short
		[]any{"G", "FE26-7", 10.0, "\u00a0" + cupsOf(7) + " "},
	)
	got, rep := readAllReturns(t, path, Options{})
	want := []string{cupsOf(1) + "0F", cupsOf(2) + "1P", cupsOf(3), cupsOf(7)}
	if len(got) != len(want) {
		t.Fatalf("accepted %+v", got)
	}
	for i, r := range got {
		if r.Cups != want[i] {
			t.Errorf("row %d CUPS %q, want %q", r.Row, r.Cups, want[i])
		}
	}
	wantRejected(t, rep.Rejected,
		Rejection{5, "FE26-4", `CUPS border point "1Q" is not a digit followed by one of F P R C X Y Z`},
		Rejection{6, "FE26-5", "CUPS control letters are XX, expected " + cupsOf(5)[18:]},
		Rejection{7, "FE26-6", "CUPS must be 20 or 22 characters, got 19"},
	)
}

func TestReturnsRowChecks(t *testing.T) {
	path := writeXLSX(t,
		[]any{"Cliente", "Número de Factura", "Importe", "Cups", "Fecha Devolución", "NIF/CIF"},
		[]any{"  Ana\u00a0 Pérez ", " FE26-1 ", 10.0, cupsOf(1), 46320, "12345678z"},
		[]any{"Ana Pérez", "FE26-1", 11.0, cupsOf(2), "25/10/2026", ""},
		[]any{"Luis Gil", "FE26-1", 12.0, cupsOf(3), nil, nil},
		[]any{"", "", "", cupsOf(4)},
		[]any{"Eva Ruiz", 40087, 13.0, cupsOf(5), "5/3/26", "B12345678"}, // numeric invoice; bad CIF
		[]any{"Eva Ruiz", "FE26-6", -1.0, "", "31/02/2026"},
	)
	got, rep := readAllReturns(t, path, Options{})
	want := []Return{
		{Row: 2, Invoice: "FE26-1", Customer: "Ana Pérez", AmountCents: 1000, Cups: cupsOf(1), TaxID: "12345678Z",
			ReturnedAt: calendar.Date(2026, time.October, 25)},
		{Row: 6, Invoice: "40087", Customer: "Eva Ruiz", AmountCents: 1300, Cups: cupsOf(5),
			ReturnedAt: calendar.Date(2026, time.March, 5)},
	}
	if len(got) != len(want) {
		t.Fatalf("accepted %+v", got)
	}
	for i := range want {
		if !got[i].ReturnedAt.Equal(want[i].ReturnedAt) {
			t.Errorf("row %d returned at %v, want %v", want[i].Row, got[i].ReturnedAt, want[i].ReturnedAt)
		}
		got[i].ReturnedAt = want[i].ReturnedAt
		if got[i] != want[i] {
			t.Errorf("got %+v\nwant %+v", got[i], want[i])
		}
	}
	wantRejected(t, rep.Rejected,
		Rejection{3, "FE26-1", "invoice FE26-1 already on row 2"},
		Rejection{4, "FE26-1", "invoice FE26-1 already on row 2"},
		Rejection{5, cupsOf(4), "invoice number is empty; customer is empty; amount is empty"},
		Rejection{7, "FE26-6", `amount -1,00 € is not positive; CUPS is empty; Fecha Devolución: date "31/02/2026" is not a date (dd/mm/yyyy expected)`},
	)
	if len(rep.Warnings) != 1 || rep.Warnings[0] != (Rejection{6, "40087", `tax id left out: CIF "B12345678" has control 8, expected digit 4`}) {
		t.Errorf("warnings %+v", rep.Warnings)
	}
}

func TestReturnsMissingColumns(t *testing.T) {
	tests := []struct {
		name   string
		rows   [][]any
		want   string
		errRow int
	}{
		{"no CUPS", [][]any{{"Cliente", "Nº Factura", "Importe", "Estado"}, {"A", "F1", 1.0, "Devuelto"}},
			`export.xlsx: sheet "Hoja1": the header on row 1 has no Cups column (a TRADE returns export needs Número de Factura, Cliente, Importe and Cups)`, 1},
		{"no customer nor CUPS below a title", [][]any{{"Listado"}, {"Nº Factura", "Importe"}},
			`sheet "Hoja1": the header on row 2 has no Cliente or Cups column`, 2},
		{"Nº Vencimiento is no invoice", [][]any{{"Nº Vencimiento", "Cliente", "Importe", "Cups"}},
			"the header on row 1 has no Número de Factura column", 1},
		{"nothing", [][]any{{"Listado de clientes"}, {"a", "b"}},
			`export.xlsx: no header row with columns Número de Factura, Cliente, Importe and Cups in the first 30 rows of sheet "Hoja1"`, 0},
		{"two amount columns", [][]any{{"Cliente", "Nº Factura", "Importe", "Cups", "Importe (€)"}},
			`sheet "Hoja1" row 1: columns C (Importe) and E (Importe (€)) both look like the Importe column; rename one of them`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeXLSX(t, tt.rows...)
			_, err := ReadReturns(path, Options{}, func(Return) error { t.Fatal("accepted a row"); return nil })
			wantErr(t, err, tt.want)
			var he *HeaderError
			if !errors.As(err, &he) || he.Row != tt.errRow {
				t.Errorf("error %#v, want a HeaderError on row %d", err, tt.errRow)
			}
		})
	}
}

func TestReturnsHeaderBelowRow30(t *testing.T) {
	rows := make([][]any, 30)
	rows = append(rows, returnsHeader, []any{"A", "F1", 1.0, cupsOf(1)})
	_, err := ReadReturns(writeXLSX(t, rows...), Options{}, func(Return) error { return nil })
	wantErr(t, err, "no header row with columns", "in the first 30 rows")

	rows = append(make([][]any, 29), returnsHeader, []any{"A", "F1", 1.0, cupsOf(1)})
	got, _ := readAllReturns(t, writeXLSX(t, rows...), Options{})
	if len(got) != 1 || got[0].Row != 31 {
		t.Errorf("header on row 30: got %+v", got)
	}
}

func TestReturnsSheets(t *testing.T) {
	path := writeSheets(t, map[string][][]any{
		"Resumen":       {{"Resumen de devoluciones"}, {"Cliente", "Importe"}},
		"Devoluciones":  {returnsHeader, {"A", "F1", 1.0, cupsOf(1)}},
		"Devoluciones2": {returnsHeader, {"B", "F2", 2.0, cupsOf(2)}, {"C", "F3", 3.0, cupsOf(3)}},
	}, "Resumen", "Devoluciones", "Devoluciones2")

	got, _ := readAllReturns(t, path, Options{})
	if len(got) != 1 || got[0].Invoice != "F1" {
		t.Errorf("first sheet with a header: got %+v", got)
	}
	got, _ = readAllReturns(t, path, Options{Sheet: "Devoluciones2"})
	if len(got) != 2 {
		t.Errorf("named sheet: got %+v", got)
	}
	_, err := ReadReturns(path, Options{Sheet: "Resumen"}, func(Return) error { return nil })
	wantErr(t, err, `sheet "Resumen": the header on row 2 has no Número de Factura or Cups column`)
	_, err = ReadReturns(path, Options{Sheet: "Hoja9"}, func(Return) error { return nil })
	wantErr(t, err, `has no sheet "Hoja9" (its sheets: "Resumen", "Devoluciones", "Devoluciones2")`)

	none := writeSheets(t, map[string][][]any{"A": {{"x"}}, "B": {{"Cliente", "Factura", "Importe"}}}, "A", "B")
	_, err = ReadReturns(none, Options{}, func(Return) error { return nil })
	wantErr(t, err, "export.xlsx: no sheet has a header with Número de Factura, Cliente, Importe and Cups; the closest, sheet \"B\": the header on row 1 has no Cups column")

	nothing := writeSheets(t, map[string][][]any{"A": {{"x"}}, "B": {{"Cliente"}}}, "A", "B")
	_, err = ReadReturns(nothing, Options{}, func(Return) error { return nil })
	wantErr(t, err, `export.xlsx: no sheet has a header row with columns Número de Factura, Cliente, Importe and Cups in its first 30 rows (sheets: "A", "B")`)
	var he *HeaderError
	if !errors.As(err, &he) || len(he.Missing) != 4 {
		t.Errorf("error %#v, want a HeaderError missing 4 columns", err)
	}
}

func TestReturnsAcceptErrorStops(t *testing.T) {
	path := writeXLSX(t, returnsHeader,
		[]any{"A", "F1", 1.0, cupsOf(1)}, []any{"B", "F2", 2.0, cupsOf(2)}, []any{"C", "F3", 3.0, cupsOf(3)})
	stop := errors.New("database down")
	n := 0
	rep, err := ReadReturns(path, Options{}, func(Return) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "row 3") {
		t.Errorf("error %v, want the accept error for row 3", err)
	}
	if rep.Accepted != 1 || n != 2 {
		t.Errorf("accepted %d, accept called %d times; want 1 and 2", rep.Accepted, n)
	}
}

func TestReturnsProgress(t *testing.T) {
	rows := [][]any{returnsHeader}
	for i := 1; i <= 2500; i++ {
		rows = append(rows, []any{"A", fmt.Sprint("F", i), 1.0, cupsOf(i)})
	}
	var calls []int
	got, _ := readAllReturns(t, writeXLSX(t, rows...), Options{Progress: func(n int) { calls = append(calls, n) }})
	if len(got) != 2500 || fmt.Sprint(calls) != "[1000 2000]" {
		t.Errorf("accepted %d, progress %v; want 2500 and [1000 2000]", len(got), calls)
	}
}

func TestReturnsCSV(t *testing.T) {
	// Windows-1252, as Excel saves "CSV (delimitado por puntos y coma)": º is
	// 0xBA, ñ 0xF1, € 0x80.
	cp1252 := "Listado de devoluciones\r\n" +
		"Cliente;N\xba Factura;Importe (\x80);Estado;Cups\r\n" +
		"Ib\xe1\xf1ez S.L.;FE26-1;1.234,56 \x80;Devuelto;" + strings.ToLower(cupsOf(1)) + "\r\n" +
		";;;;\r\n" +
		"\"Gil; Luis\";FE26-2;\"12,50\";Devuelto;" + cupsOf(2) + "\r\n" +
		"Eva;FE26-3;12.125;Devuelto;" + cupsOf(3) + "\r\n" +
		"Eva;FE26-4;12.3456;Devuelto;" + cupsOf(4) + "\r\n" +
		"Eva;FE26-5;10;Cobrado;" + cupsOf(5) + "\r\n" +
		";TOTAL;1.259,06;;\r\n"
	utf8BOM := "\ufeff" + strings.NewReplacer("\xba", "º", "\xe1", "á", "\xf1", "ñ", "\x80", "€").Replace(cp1252)

	for name, data := range map[string]string{"cp1252.csv": cp1252, "utf8.CSV": utf8BOM} {
		t.Run(name, func(t *testing.T) {
			got, rep := readAllReturns(t, writeFile(t, name, []byte(data)), Options{})
			want := []Return{
				{Row: 3, Invoice: "FE26-1", Customer: "Ibáñez S.L.", AmountCents: 123456, Cups: cupsOf(1)},
				{Row: 5, Invoice: "FE26-2", Customer: "Gil; Luis", AmountCents: 1250, Cups: cupsOf(2)},
				{Row: 6, Invoice: "FE26-3", Customer: "Eva", AmountCents: 1212500, Cups: cupsOf(3)},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if rep.RowsRead != 7 || rep.Skipped != 3 {
				t.Errorf("report %+v; want 7 read, 3 skipped", rep)
			}
			wantRejected(t, rep.Rejected, Rejection{7, "FE26-4", `amount "12.3456" has more than two decimals`})
		})
	}
	t.Run("reader", func(t *testing.T) {
		var got []Return
		rep, err := ReadReturnsFrom(strings.NewReader(utf8BOM), "devoluciones.csv", Options{}, func(r Return) error {
			got = append(got, r)
			return nil
		})
		if err != nil || len(got) != 3 || rep.RowsRead != 7 {
			t.Errorf("got %d rows, %+v, %v", len(got), rep, err)
		}
	})
}

func TestReturnsFromReader(t *testing.T) {
	data, err := os.ReadFile("testdata/trade_vencimientos_devueltos.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ReadReturnsFrom(bytes.NewReader(data), "trade.xlsx", Options{}, func(Return) error { return nil })
	if err != nil || rep.Accepted != 194 || len(rep.Rejected) != 6 {
		t.Errorf("report %+v, %v", rep, err)
	}
	_, err = ReadReturnsFrom(bytes.NewReader(oleMagic), "trade.xls", Options{}, nil)
	wantErr(t, err, "trade.xls is a legacy Excel 97-2003 workbook (.xls)")
}

func TestNotAWorkbook(t *testing.T) {
	ole := append(append([]byte{}, oleMagic...), make([]byte, 504)...)
	var plainZip bytes.Buffer
	zw := zip.NewWriter(&plainZip)
	w, _ := zw.Create("notas.txt")
	w.Write([]byte("hola"))
	zw.Close()

	tests := []struct {
		name string
		data []byte
		want string
		is   error
	}{
		{"devueltos.xls", ole, `devueltos.xls is a legacy Excel 97-2003 workbook (.xls); save it as .xlsx in Excel ("Guardar como" → "Libro de Excel (*.xlsx)") or convert it with: libreoffice --headless --convert-to xlsx `, ErrLegacyWorkbook},
		{"devueltos.xlsx", ole, "devueltos.xlsx is a password-protected or legacy Excel 97-2003 workbook: remove the password, or save it as .xlsx", ErrLegacyWorkbook},
		{"export.xls", []byte("<html><table><tr><td>Cliente</td></tr></table></html>"), "export.xls is a legacy Excel 97-2003 workbook (.xls)", ErrLegacyWorkbook},
		{"informe.xlsx", []byte("%PDF-1.7\n..."), "informe.xlsx is not an Excel workbook (.xlsx): it is a PDF document", ErrNotWorkbook},
		{"notas.xlsx", []byte("Cliente;Factura\nAna;F1\n"), "notas.xlsx is not an Excel workbook (.xlsx)", ErrNotWorkbook},
		{"vacio.xlsx", nil, "vacio.xlsx is not an Excel workbook (.xlsx): the file is empty", ErrNotWorkbook},
		{"archivo.xlsx", plainZip.Bytes(), "archivo.xlsx is not an Excel workbook (.xlsx): it is a zip archive but not an Office document", ErrNotWorkbook},
		{"roto.xlsx", append([]byte("PK\x03\x04"), make([]byte, 100)...), "roto.xlsx is not an Excel workbook (.xlsx): it is damaged or not a zip package", ErrNotWorkbook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.data)
			for _, read := range []func() error{
				func() error { _, err := ReadReturns(path, Options{}, nil); return err },
				func() error { _, err := ReadContracts(path, Options{}, nil); return err },
				func() error { _, err := ReadPayments(path, Options{}, nil); return err },
			} {
				err := read()
				wantErr(t, err, strings.ReplaceAll(tt.want, tt.name, path))
				if !errors.Is(err, tt.is) {
					t.Errorf("error %v is not %v", err, tt.is)
				}
			}
		})
	}
}

// TestZipBomb checks that a workbook declaring more than the limit is refused
// before anything is inflated.
func TestZipBomb(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "xl/workbook.xml"} {
		w, _ := zw.Create(name)
		w.Write([]byte("<x/>"))
	}
	// A raw entry that claims to inflate to 1 GB; its data is never read.
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate,
		CompressedSize64: 2, UncompressedSize64: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{3, 0})
	zw.Close()
	path := writeFile(t, "bomba.xlsx", buf.Bytes())
	_, err = ReadReturns(path, Options{}, nil)
	wantErr(t, err, "bomba.xlsx unpacks to more than 512 MB")
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v is not ErrTooLarge", err)
	}
}

func TestBinaryWorkbook(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "xl/workbook.bin"} {
		w, _ := zw.Create(name)
		w.Write([]byte("x"))
	}
	zw.Close()
	_, err := ReadReturns(writeFile(t, "libro.xlsb", buf.Bytes()), Options{}, nil)
	wantErr(t, err, "is a binary Excel workbook (.xlsb)")
}
