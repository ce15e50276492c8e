package sheets

import (
	"errors"
	"strings"
	"testing"
)

func readAllContracts(t *testing.T, path string) ([]Contract, Report) {
	t.Helper()
	var got []Contract
	rep, err := ReadContracts(path, Options{}, func(c Contract) error {
		got = append(got, c)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadContracts: %v", err)
	}
	checkReport(t, rep, len(got))
	return got, rep
}

func TestContracts(t *testing.T) {
	path := writeXLSX(t,
		[]any{"Nº Contrato", "Titular", "DNI/NIF", "Código CUPS", "Tipo de Cliente", "Teléfono Móvil",
			"Correo Electrónico", "Provincia", "Bono Social", "Suministro Esencial", "Cliente Protegido"},
		[]any{"CT-1", "Ana Pérez", "12345678z", cupsOf(1), "Doméstico", 600111222, "Ana@Example.es", "Madrid", "Sí", "No", "X"},
		[]any{"CT-2", "Hospital S.A.", "A28015865", cupsOf(2) + "0F", "Empresa", "+34 912 345 678", "", "Sevilla", "", "SI", false},
		[]any{"CT-3", "Luis Gil", "X1234567L", cupsOf(3), "Particular", "", "", "Cádiz", "no", "n", nil},
		[]any{"CT-4", "Eva Ruiz", "12345678A", cupsOf(4), "Comunidad", "5551234", "eva@", "Toledo", "quizá", "No", "No"},
		[]any{"CT-5", "Eva Ruiz", "Y1234567X", cupsOf(1), "Autónomo", "", "eva@ruiz.es", "Toledo"},
		[]any{"", "", "", "", ""},
		[]any{"CT-6", "", "", "", ""},
		[]any{"TOTAL", nil, nil, nil, nil, nil, nil, nil, "3"},
	)
	got, rep := readAllContracts(t, path)
	want := []Contract{
		{Row: 2, ContractID: "CT-1", Customer: "Ana Pérez", TaxID: "12345678Z", Cups: cupsOf(1), Segment: "domestico",
			Phone: "+34600111222", Email: "ana@example.es", Province: "Madrid", BonoSocial: true, Protected: true},
		{Row: 3, ContractID: "CT-2", Customer: "Hospital S.A.", TaxID: "A28015865", Cups: cupsOf(2) + "0F", Segment: "empresa",
			Phone: "+34912345678", Province: "Sevilla", Essential: true},
		{Row: 4, ContractID: "CT-3", Customer: "Luis Gil", TaxID: "X1234567L", Cups: cupsOf(3), Segment: "domestico", Province: "Cádiz"},
	}
	if len(got) != len(want) {
		t.Fatalf("accepted %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got  %+v\nwant %+v", got[i], want[i])
		}
	}
	wantRejected(t, rep.Rejected,
		Rejection{5, "CT-4", `Tipo de Cliente: "Comunidad" is neither Doméstico nor Empresa; phone "5551234" is not a Spanish phone number (9 digits starting with 6, 7, 8 or 9); e-mail "eva@" has no dot in its domain; Bono Social: "quizá" is not yes or no (Sí/No)`},
		Rejection{6, "CT-5", "CUPS " + cupsOf(1) + " already on row 2 (one contract per supply point)"},
		Rejection{8, "CT-6", "customer is empty; CUPS is empty; Tipo de Cliente: is empty (Doméstico or Empresa expected)"},
	)
	if rep.RowsRead != 8 || rep.Skipped != 2 {
		t.Errorf("report %+v; want 8 read, 2 skipped (the blank and the totals rows)", rep)
	}
	// Row 5 is rejected for other reasons, so its bad NIF is not a warning.
	if len(rep.Warnings) != 1 || rep.Warnings[0] != (Rejection{4, "CT-3", "no phone or e-mail: its cases will wait in needs_contact"}) {
		t.Errorf("warnings %+v", rep.Warnings)
	}
}

// TestContractsOptionalColumns reads an export with only the required
// columns: no contact data and every flag "no".
func TestContractsOptionalColumns(t *testing.T) {
	path := writeXLSX(t,
		[]any{"NIF", "Tipo", "Cups", "Nombre"},
		[]any{"B12345674", "PYME", cupsOf(9), "Talleres S.L."},
	)
	got, rep := readAllContracts(t, path)
	want := Contract{Row: 2, Customer: "Talleres S.L.", TaxID: "B12345674", Cups: cupsOf(9), Segment: "empresa"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(rep.Warnings) != 1 || rep.Warnings[0].Invoice != cupsOf(9) {
		t.Errorf("warnings %+v, want one keyed by the CUPS", rep.Warnings)
	}
}

func TestContractsMissingColumns(t *testing.T) {
	path := writeXLSX(t, []any{"Contrato", "Cliente", "Cups", "Teléfono", "Email"})
	_, err := ReadContracts(path, Options{}, func(Contract) error { return nil })
	wantErr(t, err, `the header on row 1 has no NIF/CIF or Tipo Cliente column (a contracts export needs Cliente, NIF/CIF, Cups and Tipo Cliente)`)
	var he *HeaderError
	if !errors.As(err, &he) || len(he.Missing) != 2 {
		t.Errorf("error %#v", err)
	}
}

func TestContractsCSV(t *testing.T) {
	csv := "Contrato;Cliente;NIF/CIF;Cups;Tipo Cliente;Teléfono;Email;Bono Social\n" +
		"CT-1;Ana Pérez;12345678Z;" + cupsOf(1) + ";Doméstico;600 111 222;ana@example.es;Sí\n"
	var got []Contract
	_, err := ReadContracts(writeFile(t, "contratos.csv", []byte(csv)), Options{}, func(c Contract) error {
		got = append(got, c)
		return nil
	})
	if err != nil || len(got) != 1 || got[0].Phone != "+34600111222" || !got[0].BonoSocial {
		t.Errorf("got %+v, %v", got, err)
	}
}

// The mandate reference and the account charged, when the export has them,
// are what a bank's return file names: an account that fails its check is
// kept as written with a warning, a mandate longer than SEPA's 35 characters
// rejects the row.
func TestContractsMandateAndIBAN(t *testing.T) {
	long := "M-" + strings.Repeat("9", 40)
	path := writeXLSX(t,
		[]any{"Cliente", "NIF", "CUPS", "Tipo Cliente", "Teléfono", "Referencia Mandato", "Cuenta Bancaria"},
		[]any{"Ana Pérez", "12345678Z", cupsOf(1), "Doméstico", "600111222", "MND-0001", "es91 2100 0418 4502 0005 1332"},
		[]any{"Luis Gil", "X1234567L", cupsOf(2), "Doméstico", "600111223", "MND-0002", "ES9221000418450200051332"},
		[]any{"Eva Ruiz", "Y1234567X", cupsOf(3), "Doméstico", "600111224", long, ""},
		[]any{"Pablo Sanz", "00000000T", cupsOf(4), "Doméstico", "600111225", "", ""},
	)
	got, rep := readAllContracts(t, path)
	if len(got) != 3 {
		t.Fatalf("accepted %+v", got)
	}
	if got[0].MandateID != "MND-0001" || got[0].IBAN != "ES9121000418450200051332" {
		t.Errorf("row 2: mandate %q IBAN %q", got[0].MandateID, got[0].IBAN)
	}
	if got[1].IBAN != "ES9221000418450200051332" {
		t.Errorf("row 3: the IBAN that fails its check is not kept as written: %q", got[1].IBAN)
	}
	if got[2].MandateID != "" || got[2].IBAN != "" {
		t.Errorf("row 5: %+v", got[2])
	}
	wantRejected(t, rep.Rejected, Rejection{4, cupsOf(3), "mandate is 42 characters long (at most 35)"})
	if len(rep.Warnings) != 1 || rep.Warnings[0].Row != 3 || !strings.Contains(rep.Warnings[0].Reason, "IBAN ES9221000418450200051332 kept as written") {
		t.Errorf("warnings %+v", rep.Warnings)
	}
}
