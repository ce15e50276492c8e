package sheets

import (
	"strings"
	"testing"
)

func TestHeaderKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Número de Factura", "numerodefactura"},
		{"NÚMERO DE FACTURA", "numerodefactura"},
		{"Nº Factura", "nfactura"},
		{"nº  factura", "nfactura"},
		{"N° Factura", "nfactura"},
		{"N. Factura:", "nfactura"},
		{"Nº de factura", "ndefactura"},
		{"Importe (€)", "importe"},
		{" Importe € ", "importe"},
		{"NIF/CIF", "nifcif"},
		{"F. Devolución", "fdevolucion"},
		{"Situación", "situacion"},
		{"E-mail", "email"},
		{"Razón Social", "razonsocial"},
		{"Teléfono Móvil", "telefonomovil"},
		{"Potencia (kW)", "potenciakw"},
		{"Año", "ano"},
		{"", ""},
		{"€ / ( ) . :", ""},
	}
	for _, tt := range tests {
		if got := headerKey(tt.in); got != tt.want {
			t.Errorf("headerKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestAliasesOneRole checks that no header can mean two things in a layout,
// and that the lookalikes a TRADE export carries mean nothing.
func TestAliasesOneRole(t *testing.T) {
	for _, l := range []layout{returnsLayout, contractsLayout, paymentsLayout} {
		owner := map[string]role{}
		for _, c := range l.columns {
			for _, a := range c.aliases {
				k := headerKey(a)
				if k == "" {
					t.Errorf("%s: alias %q has an empty key", l.what, a)
				}
				if r, ok := owner[k]; ok && r != c.role {
					t.Errorf("%s: alias %q (key %q) belongs to two columns", l.what, a, k)
				}
				owner[k] = c.role
			}
		}
		for _, h := range []string{"Nº Vencimiento", "Fecha Factura", "Fecha Vencimiento", "Motivo Devolución",
			"Banco", "Comercial", "Nº Cliente", "Código Cliente", "Tarifa", "Potencia (kW)"} {
			if r, ok := owner[headerKey(h)]; ok {
				t.Errorf("%s: %q means role %d, want nothing", l.what, h, r)
			}
		}
	}
	idx := paymentsLayout.aliasIndex()
	for _, h := range []string{"Importe Pendiente", "Importe Devuelto", "Total"} {
		if _, ok := idx[headerKey(h)]; ok {
			t.Errorf("payments: %q must not be the amount paid", h)
		}
	}
}

func TestMatchHeader(t *testing.T) {
	idx := returnsLayout.aliasIndex()
	cols, amb := returnsLayout.matchHeader(idx, []string{"Nº Vencimiento", "Factura", "Importe", "Importe Pendiente", "CUPS", "Cliente"})
	if amb != "" {
		t.Fatal(amb)
	}
	want := map[role]int{roleInvoice: 1, roleAmount: 3, roleCups: 4, roleCustomer: 5}
	for r, i := range want {
		if cols[r] != i {
			t.Errorf("role %d at column %d, want %d (%v)", r, cols[r], i, cols)
		}
	}
	_, amb = returnsLayout.matchHeader(idx, []string{"Factura", "Importe", "Cups", "Importe (€)", "Cliente"})
	if amb != "columns B (Importe) and D (Importe (€)) both look like the Importe column" {
		t.Errorf("ambiguity %q", amb)
	}
}

func TestColumnLetter(t *testing.T) {
	for i, want := range map[int]string{0: "A", 25: "Z", 26: "AA", 51: "AZ", 52: "BA", 701: "ZZ", 702: "AAA"} {
		if got := columnLetter(i); got != want {
			t.Errorf("columnLetter(%d) = %q, want %q", i, got, want)
		}
	}
}

// FuzzHeaderMatch feeds header rows (cells separated by '|') to the header
// matching of every layout: it must never panic, never give one cell two
// roles or a role a cell that is not there, and always explain a failure.
func FuzzHeaderMatch(f *testing.F) {
	for _, s := range []string{
		"Nº Vencimiento|Cliente|NIF/CIF|Número de Factura|Importe|Estado|Cups",
		"Factura|Importe|Importe (€)|Cups|Cliente",
		"Contrato|Cliente|NIF/CIF|Cups|Tipo Cliente|Teléfono|Email|Bono Social",
		"Fecha Pago|Cliente|Número de Factura|Importe Pagado|Forma de Pago|Referencia",
		"", "|||", "Nº", "€", "\xff\xfe", "ÑÚMERO DE FACTURA|IMPORTE €|código cups|razón social",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, row string) {
		cells := strings.Split(row, "|")
		for _, c := range cells {
			_ = headerKey(c)
			_ = headerText(c)
		}
		for _, l := range []layout{returnsLayout, contractsLayout, paymentsLayout} {
			cols, _ := l.matchHeader(l.aliasIndex(), cells)
			used := map[int]role{}
			for r, i := range cols {
				if i < 0 || i >= len(cells) {
					t.Fatalf("%s: role %d at column %d of %d", l.what, r, i, len(cells))
				}
				if other, ok := used[i]; ok {
					t.Fatalf("%s: column %d has roles %d and %d", l.what, i, other, r)
				}
				used[i] = r
			}
			hf := newHeaderFinder(l)
			h, ok := hf.try(1, cells)
			if ok {
				if len(l.missing(h.cols)) != 0 {
					t.Fatalf("%s: header taken without %v", l.what, l.missing(h.cols))
				}
				continue
			}
			if err := hf.err("Hoja1"); err == nil || err.Error() == "" {
				t.Fatalf("%s: no header and no explanation", l.what)
			}
		}
	})
}
