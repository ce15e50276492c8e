package letter

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/elega/impagos/internal/calendar"
)

func sampleLetter() CutLetter {
	return CutLetter{
		Retailer: Retailer{
			Name:    "Elega Energía",
			TaxID:   "B00000000",
			Address: "Calle Mayor 1, 28001 Madrid",
			Phone:   "900 000 000",
			Email:   "cobros@elega.example",
			IBAN:    "ES00 0000 0000 0000 0000 0000",
		},
		Customer: "Panadería Muñoz y Güell, S.L.",
		TaxID:    "B12345674",
		Address:  "Avenida de Andalucía 23, local 2\n41007 Sevilla",
		Cups:     "ES0031405512345678EV",
		Invoices: []Invoice{
			{Number: "F2026-0007", AmountCents: 100000},
			{Number: "F2026-0012", AmountCents: 23456},
		},
		AmountCents: 123456,
		CutDate:     calendar.Date(2026, time.March, 16),
		Date:        calendar.Date(2026, time.March, 2),
		Reference:   "impago-F2026-0007",
	}
}

func render(t *testing.T, l CutLetter) []byte {
	t.Helper()
	pdf, err := CutLetterPDF(l)
	if err != nil {
		t.Fatalf("CutLetterPDF: %v", err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", pdf[:min(len(pdf), 16)])
	}
	return pdf
}

// poppler runs a poppler-utils tool on the PDF and returns its output, or
// skips the test when the tool is missing (CI installs poppler-utils).
func poppler(t *testing.T, tool string, pdf []byte, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not found: install poppler-utils (apt-get install -y poppler-utils) to check the PDF text", tool)
	}
	file := filepath.Join(t.TempDir(), "carta.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, append(args, file, "-")...)
	if tool == "pdfinfo" {
		cmd = exec.Command(path, append(args, file)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

// oneLine collapses the whitespace of extracted text, so a phrase broken
// across lines is still found.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestCutLetterText(t *testing.T) {
	l := sampleLetter()
	text := oneLine(poppler(t, "pdftotext", render(t, l), "-enc", "UTF-8"))

	for _, want := range []string{
		"Elega Energía",
		"Madrid, 2 de marzo de 2026",
		"Referencia: impago-F2026-0007",
		"Panadería Muñoz y Güell, S.L.",
		"NIF/CIF: B12345674",
		"Avenida de Andalucía 23, local 2",
		"41007 Sevilla",
		"ES0031405512345678EV",
		"Asunto: Aviso de suspensión del suministro eléctrico por impago",
		"F2026-0007", "1.000,00 €",
		"F2026-0012", "234,56 €",
		"Total pendiente", "1.234,56 €",
		"lunes, 16 de marzo de 2026",
		"16/03/2026",
		"ES00 0000 0000 0000 0000 0000",
		"900 000 000",
		"¿Ya ha realizado el pago?",
		"nunca se realizará en día festivo ni en la víspera de un festivo",
		"CIF B00000000 · Calle Mayor 1, 28001 Madrid",
		"Página 1 de 1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q\n--- text ---\n%s", want, text)
		}
	}
	// The only '?' is the one that closes "¿Ya ha realizado el pago?"; any
	// other would be a character cp1252 could not print.
	if strings.Count(text, "?") != 1 {
		t.Errorf("a character was replaced by '?':\n%s", text)
	}
}

func TestCutLetterIsA4(t *testing.T) {
	info := poppler(t, "pdfinfo", render(t, sampleLetter()))
	if !regexp.MustCompile(`Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)`).MatchString(info) {
		t.Errorf("not A4:\n%s", info)
	}
	if !regexp.MustCompile(`Pages:\s+1\n`).MatchString(info) {
		t.Errorf("want one page:\n%s", info)
	}
	if !strings.Contains(info, "Aviso de suspensión del suministro eléctrico por impago") {
		t.Errorf("title missing:\n%s", info)
	}
}

func TestCutLetterIsDeterministic(t *testing.T) {
	l := sampleLetter()
	first := render(t, l)
	for i := range 5 {
		if again := render(t, l); !bytes.Equal(first, again) {
			t.Fatalf("render %d differs from the first (%d vs %d bytes)", i+2, len(again), len(first))
		}
	}
	// The same instant in another zone is the same letter.
	l.Date = l.Date.UTC()
	l.CutDate = l.CutDate.UTC()
	if again := render(t, l); !bytes.Equal(first, again) {
		t.Error("the zone of the dates changes the bytes")
	}
	// And the letter's date, not the clock, is the document's date.
	other := sampleLetter()
	other.Date = other.Date.AddDate(0, 0, 1)
	if bytes.Equal(first, render(t, other)) {
		t.Error("a letter of another day has the same bytes")
	}
}

func TestCutLetterPartialPayment(t *testing.T) {
	l := sampleLetter()
	l.AmountCents = 100000 // 234,56 € already paid on account
	text := oneLine(poppler(t, "pdftotext", render(t, l), "-enc", "UTF-8"))
	for _, want := range []string{"Pagos a cuenta recibidos -234,56 €", "Total pendiente 1.000,00 €", "importe total pendiente, 1.000,00 €"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q\n%s", want, text)
		}
	}
}

func TestCutLetterSingleInvoice(t *testing.T) {
	l := sampleLetter()
	l.Invoices = l.Invoices[:1]
	l.AmountCents = 0 // the sum of the invoices
	text := oneLine(poppler(t, "pdftotext", render(t, l), "-enc", "UTF-8"))
	for _, want := range []string{"la factura que se detalla", "ha sido devuelta", "Total pendiente 1.000,00 €"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q\n%s", want, text)
		}
	}
}

func TestCutLetterManyInvoicesBreakPages(t *testing.T) {
	l := sampleLetter()
	l.Invoices = nil
	for i := range 45 {
		l.Invoices = append(l.Invoices, Invoice{Number: "F2025-" + string(rune('A'+i%26)) + strings.Repeat("9", 1+i/26), AmountCents: 1000})
	}
	l.AmountCents = 45000
	pdf := render(t, l)
	info := poppler(t, "pdfinfo", pdf)
	if !regexp.MustCompile(`Pages:\s+3\n`).MatchString(info) {
		t.Fatalf("want three pages:\n%s", info)
	}
	text := oneLine(poppler(t, "pdftotext", pdf, "-enc", "UTF-8"))
	page2 := oneLine(poppler(t, "pdftotext", pdf, "-f", "2", "-l", "2", "-enc", "UTF-8"))
	if !strings.HasPrefix(page2, "Factura Importe pendiente F2025-") {
		t.Errorf("page 2 does not open with the table head:\n%s", page2)
	}
	for _, want := range []string{"Página 1 de 3", "Página 3 de 3", "F2025-S99", "450,00 €", "16/03/2026"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}

func TestCutLetterRefusesMisleadingInput(t *testing.T) {
	tests := []struct {
		name string
		edit func(*CutLetter)
		want string
	}{
		{"no customer", func(l *CutLetter) { l.Customer = " " }, "missing customer"},
		{"no CUPS", func(l *CutLetter) { l.Cups = "" }, "CUPS"},
		{"no retailer", func(l *CutLetter) { l.Retailer.Name = "" }, "retailer name"},
		{"no invoices", func(l *CutLetter) { l.Invoices = nil }, "invoices"},
		{"no cut date", func(l *CutLetter) { l.CutDate = time.Time{} }, "cut date"},
		{"no letter date", func(l *CutLetter) { l.Date = time.Time{} }, "letter date"},
		{"cut not after letter", func(l *CutLetter) { l.CutDate = l.Date }, "not after"},
		{"invoice without number", func(l *CutLetter) { l.Invoices[1].Number = "" }, "invoice 2 has no number"},
		{"invoice not positive", func(l *CutLetter) { l.Invoices[0].AmountCents = 0 }, "F2026-0007"},
		{"total above invoices", func(l *CutLetter) { l.AmountCents = 123457 }, "exceeds"},
		{"negative total", func(l *CutLetter) { l.AmountCents = -1 }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sampleLetter()
			tt.edit(&l)
			_, err := CutLetterPDF(l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTranslation(t *testing.T) {
	p := fpdf.New("P", "mm", "A4", "")
	w := &writer{pdf: p, translate: p.UnicodeTranslatorFromDescriptor("")}
	tests := []struct{ in, want string }{
		{"1.234,56 €", "1.234,56 \x80"},
		{"¿Qué? ¡Sí! ñÑ üÜ áéíóú", "\xbfQu\xe9? \xa1S\xed! \xf1\xd1 \xfc\xdc \xe1\xe9\xed\xf3\xfa"},
		{"Łódź", "?\xf3d?"},
		{"a−b\tc", "a-b c"},
		{"Elega Energía — Cobros · ok.", "Elega Energ\xeda \x97 Cobros \xb7 ok."},
	}
	for _, tt := range tests {
		if got := w.tr(tt.in); got != tt.want {
			t.Errorf("tr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTown(t *testing.T) {
	tests := map[string]string{
		"Calle Mayor 1, 28001 Madrid":                  "Madrid",
		"Rúa do Vilar 3, 15705 Santiago de Compostela": "Santiago de Compostela",
		"Calle Mayor 1, 28001":                         "",
		"Calle Mayor 1":                                "",
		"":                                             "",
		"Plaza Nueva 2, Bilbao":                        "Bilbao",
	}
	for in, want := range tests {
		if got := town(in); got != want {
			t.Errorf("town(%q) = %q, want %q", in, got, want)
		}
	}
}
