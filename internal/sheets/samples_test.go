package sheets

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// The samples are copies of the shared sample workbooks, with their damage.

func TestSampleReturns(t *testing.T) {
	got, rep := readAllReturns(t, "testdata/trade_vencimientos_devueltos.xlsx", Options{})
	if rep.RowsRead != 200 || rep.Accepted != 194 || len(rep.Rejected) != 6 || rep.Skipped != 0 {
		t.Errorf("read %d, accepted %d, rejected %d, skipped %d; want 200, 194, 6, 0",
			rep.RowsRead, rep.Accepted, len(rep.Rejected), rep.Skipped)
	}
	wantRejected(t, rep.Rejected,
		Rejection{9, "FE26-0040021", "CUPS control letters are XX, expected RK"},
		Rejection{15, "ES0027169902826683SY", "invoice number is empty"},
		Rejection{23, "FE26-0040063", "amount -35,20 € is not positive"},
		Rejection{32, "FE26-0040087", "invoice FE26-0040087 already on row 31"},
		Rejection{46, "FE26-0040132", `amount "sin importe" is not a number`},
		Rejection{59, "FE26-0040171", "CUPS is empty"},
	)
	// The sample's company tax ids carry random control digits (all but a
	// few of its CIFs fail the check); on a return the tax id is only
	// informative, so they are left out with a warning.
	if len(rep.Warnings) != 74 {
		t.Fatalf("%d warnings, want 74", len(rep.Warnings))
	}
	if w := rep.Warnings[0]; w != (Rejection{2, "FE26-0040000", `tax id left out: CIF "B86556093" has control 3, expected digit 9`}) {
		t.Errorf("first warning %+v", w)
	}

	byRow := make(map[int]Return, len(got))
	for _, r := range got {
		byRow[r.Row] = r
	}
	tests := []struct {
		row   int
		cents int64
	}{
		{2, 409490},  // number 4094.9
		{6, 181467},  // text "1.814,67 €"
		{18, 7910},   // number 79.1
		{31, 125770}, // the first FE26-0040087 is kept
		{42, 257397}, // text "2.573,97 €"
		{150, 2315},  // text "23,15 €"
	}
	for _, tt := range tests {
		if r := byRow[tt.row]; r.AmountCents != tt.cents {
			t.Errorf("row %d amount %d, want %d", tt.row, r.AmountCents, tt.cents)
		}
	}
	// Every accepted amount again, through excelize's random-access API that
	// tells a cell's type: text is Spanish, a number is a number.
	f, err := excelize.OpenFile("testdata/trade_vencimientos_devueltos.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	texts := 0
	for _, r := range got {
		cell := fmt.Sprintf("G%d", r.Row)
		typ, _ := f.GetCellType("Vencimientos de Cobro", cell)
		raw, _ := f.GetCellValue("Vencimientos de Cobro", cell, excelize.Options{RawCellValue: true})
		var want int64
		if typ == excelize.CellTypeSharedString {
			texts++
			want, err = money.Parse(raw)
		} else {
			var v float64
			if v, err = strconv.ParseFloat(raw, 64); err == nil {
				want, err = money.FromFloat(v)
			}
		}
		if err != nil || r.AmountCents != want {
			t.Errorf("row %d: amount %d, want %d from %q (%v)", r.Row, r.AmountCents, want, raw, err)
		}
	}
	// 22 amounts are written as text; row 15 among them is rejected for
	// its missing invoice.
	if texts != 21 {
		t.Errorf("%d accepted text amounts, want 21", texts)
	}

	first := byRow[2]
	want := Return{Row: 2, Invoice: "FE26-0040000", Customer: "Clínica Dental y Asociados S.L.", AmountCents: 409490,
		Cups: "ES0027580127735097FB", ReturnedAt: calendar.Date(2026, time.October, 25)}
	if !first.ReturnedAt.Equal(want.ReturnedAt) || first.ReturnedAt.Location() != calendar.Madrid {
		t.Errorf("row 2 returned at %v, want %v", first.ReturnedAt, want.ReturnedAt)
	}
	first.ReturnedAt = want.ReturnedAt
	if first != want {
		t.Errorf("row 2 = %+v\nwant %+v", first, want)
	}
	if r := byRow[4]; r.TaxID != "33313616W" {
		t.Errorf("row 4 tax id %q, want 33313616W", r.TaxID)
	}
}

func TestSampleContracts(t *testing.T) {
	var got []Contract
	rep, err := ReadContracts("testdata/contratos.xlsx", Options{}, func(c Contract) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, len(got))
	if rep.RowsRead != 134 || rep.Accepted != 134 || len(rep.Rejected) != 0 || rep.Skipped != 0 {
		t.Errorf("read %d, accepted %d, rejected %d, skipped %d; want 134, 134, 0, 0",
			rep.RowsRead, rep.Accepted, len(rep.Rejected), rep.Skipped)
	}
	// Every company row but two has a CIF whose control digit fails: the
	// contract is still taken (its contact data and type are what the cases
	// need) and the row is listed for a look. Each expected digit below was
	// checked by hand against the standard algorithm (see internal/taxid).
	const noContact = "no phone or e-mail: its cases will wait in needs_contact"
	const check = "tax id kept as written, check it: "
	wantWarnings := []Rejection{
		{7, "CT-100035", check + "CIF \"B74395646\" has control 6, expected digit 1"},
		{8, "CT-100042", check + "CIF \"B55659637\" has control 7, expected digit 5"},
		{11, "", noContact},
		{12, "CT-100070", check + "CIF \"B56077238\" has control 8, expected digit 3"},
		{23, "CT-100147", check + "CIF \"B86556093\" has control 3, expected digit 9"},
		{24, "CT-100154", check + "CIF \"B19024057\" has control 7, expected digit 8"},
		{30, "CT-100196", check + "CIF \"B85874021\" has control 1, expected digit 2"},
		{31, "CT-100203", check + "CIF \"B17249471\" has control 1, expected digit 5"},
		{34, "", noContact},
		{36, "CT-100238", check + "CIF \"B61175582\" has control 2, expected digit 4"},
		{37, "CT-100245", check + "CIF \"B75596266\" has control 6, expected digit 2"},
		{38, "CT-100252", check + "CIF \"B30887961\" has control 1, expected digit 2"},
		{39, "CT-100259", check + "CIF \"B15245197\" has control 7, expected digit 4"},
		{40, "CT-100266", check + "CIF \"B90360133\" has control 3, expected digit 2"},
		{41, "CT-100273", check + "CIF \"B25011357\" has control 7, expected digit 4"},
		{42, "CT-100280", check + "CIF \"B74059914\" has control 4, expected digit 6"},
		{44, "CT-100294", check + "CIF \"B29234451\" has control 1, expected digit 7"},
		{47, "CT-100315", check + "CIF \"B58862823\" has control 3, expected digit 2"},
		{49, "CT-100329", check + "CIF \"B68692988\" has control 8, expected digit 7"},
		{52, "CT-100350", check + "CIF \"B29829473\" has control 3, expected digit 0"},
		{53, "CT-100357", check + "CIF \"B39113784\" has control 4, expected digit 2"},
		{56, "CT-100378", check + "CIF \"B08023112\" has control 2, expected digit 1"},
		{57, "", noContact},
		{58, "CT-100392", check + "CIF \"B14896959\" has control 9, expected digit 5"},
		{59, "CT-100399", check + "CIF \"B33305124\" has control 4, expected digit 9"},
		{60, "CT-100406", check + "CIF \"B77427716\" has control 6, expected digit 4"},
		{62, "CT-100420", check + "CIF \"B21168558\" has control 8, expected digit 4"},
		{70, "CT-100476", check + "CIF \"B19771421\" has control 1, expected digit 7"},
		{71, "CT-100483", check + "CIF \"B67739101\" has control 1, expected digit 2"},
		{72, "CT-100490", check + "CIF \"B46372084\" has control 4, expected digit 2"},
		{73, "CT-100497", check + "CIF \"B39762531\" has control 1, expected digit 9"},
		{76, "CT-100518", check + "CIF \"B12860370\" has control 0, expected digit 5"},
		{80, "", noContact},
		{81, "CT-100553", check + "CIF \"B61692751\" has control 1, expected digit 2"},
		{85, "CT-100581", check + "CIF \"B39351743\" has control 3, expected digit 7"},
		{86, "CT-100588", check + "CIF \"B93949836\" has control 6, expected digit 2"},
		{88, "CT-100602", check + "CIF \"B86379839\" has control 9, expected digit 1"},
		{96, "CT-100658", check + "CIF \"B00335541\" has control 1, expected digit 7"},
		{97, "CT-100665", check + "CIF \"B25768096\" has control 6, expected digit 4"},
		{101, "CT-100693", check + "CIF \"B58479308\" has control 8, expected digit 4"},
		{102, "CT-100700", check + "CIF \"B37297361\" has control 1, expected digit 3"},
		{103, "", noContact},
		{104, "CT-100714", check + "CIF \"B96589628\" has control 8, expected digit 7"},
		{106, "CT-100728", check + "CIF \"B65058418\" has control 8, expected digit 4"},
		{108, "CT-100742", check + "CIF \"B84187449\" has control 9, expected digit 2"},
		{109, "CT-100749", check + "CIF \"B02592602\" has control 2, expected digit 8"},
		{110, "CT-100756", check + "CIF \"B61384635\" has control 5, expected digit 2"},
		{113, "CT-100777", check + "CIF \"B41164632\" has control 2, expected digit 3"},
		{114, "CT-100784", check + "CIF \"B10881371\" has control 1, expected digit 3"},
		{118, "CT-100812", check + "CIF \"B67066273\" has control 3, expected digit 4"},
		{119, "CT-100819", check + "CIF \"B32023482\" has control 2, expected digit 3"},
		{125, "CT-100861", check + "CIF \"B97952537\" has control 7, expected digit 5"},
		{126, "", noContact},
		{127, "CT-100875", check + "CIF \"B27633305\" has control 5, expected digit 4"},
		{129, "CT-100889", check + "CIF \"B18915707\" has control 7, expected digit 2"},
	}
	if len(rep.Warnings) != len(wantWarnings) {
		t.Fatalf("%d warnings, want %d: %+v", len(rep.Warnings), len(wantWarnings), rep.Warnings)
	}
	for i, w := range rep.Warnings {
		want := wantWarnings[i]
		if w.Row != want.Row || w.Reason != want.Reason || (want.Invoice != "" && w.Invoice != want.Invoice) {
			t.Errorf("warning %+v, want %+v", w, want)
		}
	}
	want := Contract{Row: 2, ContractID: "CT-100000", Customer: "Lucía Castaño Hernández", TaxID: "81607376H",
		Cups: "ES0026351275497905FQ", Segment: "domestico", Phone: "+34687407735",
		Email: "lucia.castano.hernandez0@example.es", Province: "Cádiz"}
	if got[0] != want {
		t.Errorf("row 2 = %+v\nwant %+v", got[0], want)
	}
	counts := map[string]int{}
	for _, c := range got {
		counts[c.Segment]++
		if c.BonoSocial {
			counts["bono"]++
		}
		if c.Essential {
			counts["essential"]++
		}
		if c.Protected {
			counts["protected"]++
		}
	}
	// Rows 11, 82, 83, 84, 90, 91, 124 and 131 have Bono Social; rows 52, 70
	// and 129 are essential supplies (companies whose CIF fails its check,
	// kept with a warning so they are never cut for want of a contract).
	wantCounts := map[string]int{"domestico": 83, "empresa": 51, "bono": 8, "essential": 3}
	for k, v := range wantCounts {
		if counts[k] != v {
			t.Errorf("%d %s, want %d (all: %v)", counts[k], k, v, counts)
		}
	}
	if counts["protected"] != 0 {
		t.Errorf("counts %v", counts)
	}
}

func TestSamplePayments(t *testing.T) {
	var got []Payment
	rep, err := ReadPayments("testdata/pago_facturas_clientes.xlsx", Options{}, func(p Payment) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, len(got))
	if rep.RowsRead != 35 || rep.Accepted != 35 || len(rep.Rejected) != 0 || rep.Skipped != 0 || len(rep.Warnings) != 0 {
		t.Errorf("read %d, accepted %d, rejected %v, skipped %d, warnings %v; want 35 accepted",
			rep.RowsRead, rep.Accepted, rep.Rejected, rep.Skipped, rep.Warnings)
	}
	tests := []Payment{
		{Row: 2, PaidAt: calendar.Date(2026, time.November, 19), Customer: "Transportes La Esperanza S.L.",
			Invoice: "FE26-0040003", AmountCents: 232518, Method: "Tarjeta", Reference: "PG-36733643"},
		// A partial payment: 67,09 € of the 134,19 € returned.
		{Row: 6, PaidAt: calendar.Date(2026, time.November, 13), Customer: "Antonio Jiménez Gómez",
			Invoice: "FE26-0040075", AmountCents: 6709, Method: "Tarjeta", Reference: "PG-33453130"},
		// A payment of an invoice nobody returned: the database reports it.
		{Row: 36, PaidAt: calendar.Date(2026, time.October, 25), Customer: "Cliente sin factura",
			Invoice: "FE26-9999999", AmountCents: 5000, Method: "Transferencia", Reference: "PG-00000001"},
	}
	for _, want := range tests {
		p := got[want.Row-2]
		if !p.PaidAt.Equal(want.PaidAt) {
			t.Errorf("row %d paid at %v, want %v", want.Row, p.PaidAt, want.PaidAt)
		}
		p.PaidAt = want.PaidAt
		if p != want {
			t.Errorf("row %d = %+v\nwant %+v", want.Row, p, want)
		}
	}
}
