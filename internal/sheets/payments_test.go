package sheets

import (
	"testing"
	"time"

	"github.com/elega/impagos/internal/calendar"
)

func readAllPayments(t *testing.T, path string) ([]Payment, Report) {
	t.Helper()
	var got []Payment
	rep, err := ReadPayments(path, Options{}, func(p Payment) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadPayments: %v", err)
	}
	checkReport(t, rep, len(got))
	return got, rep
}

func TestPayments(t *testing.T) {
	path := writeXLSX(t,
		[]any{"PAGO FACTURAS CLIENTES"},
		[]any{"Referencia", "Importe Pendiente", "Pagado", "Nº Factura", "Fecha de Pago", "Método"},
		[]any{"PG-1", 100.0, 50.0, "FE26-1", 46345, "Bizum"},
		[]any{"PG-2", 100.0, "50,00 €", "FE26-1", "20/11/2026", "Tarjeta"}, // second part of a partial payment
		[]any{"", 10.0, 10.0, "FE26-9", "2026-11-21", ""},                  // no reference: fine
		[]any{"PG-1", 10.0, 10.0, "FE26-2", 46345, ""},                     // the same bank reference again
		[]any{"PG-3", 10.0, 10.125, "", "ayer", ""},
		[]any{"PG-4", 10.0, nil, "FE26-4", nil, ""},
		[]any{"", nil, 110.0, "Total"},
	)
	got, rep := readAllPayments(t, path)
	want := []Payment{
		{Row: 3, PaidAt: calendar.Date(2026, time.November, 19), Invoice: "FE26-1", AmountCents: 5000, Method: "Bizum", Reference: "PG-1"},
		{Row: 4, PaidAt: calendar.Date(2026, time.November, 20), Invoice: "FE26-1", AmountCents: 5000, Method: "Tarjeta", Reference: "PG-2"},
		{Row: 5, PaidAt: calendar.Date(2026, time.November, 21), Invoice: "FE26-9", AmountCents: 1000},
	}
	if len(got) != len(want) {
		t.Fatalf("accepted %+v", got)
	}
	for i := range want {
		if !got[i].PaidAt.Equal(want[i].PaidAt) || got[i].PaidAt.Location() != calendar.Madrid {
			t.Errorf("row %d paid at %v, want %v", want[i].Row, got[i].PaidAt, want[i].PaidAt)
		}
		got[i].PaidAt = want[i].PaidAt
		if got[i] != want[i] {
			t.Errorf("got  %+v\nwant %+v", got[i], want[i])
		}
	}
	wantRejected(t, rep.Rejected,
		Rejection{6, "FE26-2", "reference PG-1 already on row 3"},
		Rejection{7, "PG-3", `payment: date "ayer" is not a date (dd/mm/yyyy expected); invoice number is empty; amount 10.125 has more than two decimals`},
		Rejection{8, "FE26-4", "payment date is empty; amount is empty"},
	)
	if rep.RowsRead != 7 || rep.Skipped != 1 {
		t.Errorf("report %+v; want 7 read, 1 skipped", rep)
	}
}

// TestPaymentsAmountColumn checks that the amount paid is never taken from
// an outstanding or returned amount column.
func TestPaymentsAmountColumn(t *testing.T) {
	path := writeXLSX(t,
		[]any{"Fecha Pago", "Factura", "Importe Pendiente", "Importe Devuelto", "Total"},
		[]any{46345, "FE26-1", 10.0, 10.0, 10.0},
	)
	_, err := ReadPayments(path, Options{}, func(Payment) error { return nil })
	wantErr(t, err, "the header on row 1 has no Importe Pagado column (a payments workbook needs Fecha Pago, Número de Factura and Importe Pagado)")

	for _, name := range []string{"Importe Pagado", "Importe", "Pagado", "Importe (€)", "IMPORTE COBRADO"} {
		path := writeXLSX(t, []any{"Fecha Pago", "Factura", name}, []any{46345, "FE26-1", 10.0})
		got, _ := readAllPayments(t, path)
		if len(got) != 1 || got[0].AmountCents != 1000 {
			t.Errorf("%s: got %+v", name, got)
		}
	}
}
