package sheets

import (
	"strings"
	"testing"
	"time"

	"github.com/elega/impagos/internal/calendar"
)

func TestAmount(t *testing.T) {
	tests := []struct {
		v    string
		k    cellKind
		want int64
	}{
		{"4094.9", kindNumber, 409490},
		{"1234.56", kindNumber, 123456},
		{"12.5", kindNumber, 1250},
		{"50", kindNumber, 5000},
		{"1E3", kindNumber, 100000},
		{"1000000", kindNumber, 100000000}, // the limit itself
		{"12.125", kindText, 1212500},      // Spanish thousands, not decimals
		{"1.234,56 €", kindText, 123456},
		{"1.234,56\u00a0€", kindText, 123456},
		{"12,50 EUR", kindText, 1250},
		{"1.000.000,00 €", kindText, 100000000},
		{"  7 ", kindText, 700},
	}
	for _, tt := range tests {
		got, err := amount(tt.v, tt.k)
		if err != nil || got != tt.want {
			t.Errorf("amount(%q, %d) = %d, %v; want %d", tt.v, tt.k, got, err, tt.want)
		}
	}
}

func TestAmountErrors(t *testing.T) {
	tests := []struct {
		v    string
		k    cellKind
		want string
	}{
		{"12.125", kindNumber, "amount 12.125 has more than two decimals"},
		{"0.001", kindNumber, "has more than two decimals"},
		{"-35.2", kindNumber, "amount -35,20 € is not positive"},
		{"0", kindNumber, "amount 0,00 € is not positive"},
		{"1000000.01", kindNumber, "amount 1.000.000,01 € is above the limit of 1.000.000,00 €"},
		{"abc", kindNumber, `amount "abc" is not a number`},
		{"sin importe", kindText, `amount "sin importe" is not a number`},
		{"12,345", kindText, "has more than two decimals"},
		{"2.000.000,00 €", kindText, "is above the limit"},
		{"-12,00", kindText, "is not positive"},
		{"1", kindBool, `amount "1" is not a number`},
		{"#N/A", kindError, `amount "#N/A" is not a number`},
	}
	for _, tt := range tests {
		got, err := amount(tt.v, tt.k)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("amount(%q, %d) = %d, %v; want error %q", tt.v, tt.k, got, err, tt.want)
		}
	}
}

func TestDate(t *testing.T) {
	oct25 := calendar.Date(2026, time.October, 25)
	tests := []struct {
		v       string
		k       cellKind
		use1904 bool
		want    time.Time
	}{
		{"46320", kindNumber, false, oct25},
		{"46320.75", kindNumber, false, oct25}, // a time of day is dropped
		{"44858", kindNumber, true, oct25},     // 1904 date system: 1462 days fewer
		{"25/10/2026", kindText, false, oct25},
		{"25/10/26", kindText, false, oct25},
		{"5/3/26", kindText, false, calendar.Date(2026, time.March, 5)},
		{"05/03/2026", kindText, false, calendar.Date(2026, time.March, 5)},
		{"25-10-2026", kindText, false, oct25},
		{"25.10.2026", kindText, false, oct25},
		{"2026-10-25", kindText, false, oct25},
		{"2026/10/25", kindText, false, oct25},
		{"25/10/2026 13:45", kindText, false, oct25},
		{" 25/10/2026 ", kindText, false, oct25},
		{"2026-10-25T00:00:00Z", kindDate, false, oct25},
		{"29/02/2028", kindText, false, calendar.Date(2028, time.February, 29)},
	}
	for _, tt := range tests {
		got, err := date(tt.v, tt.k, tt.use1904)
		if err != nil || !got.Equal(tt.want) || got.Location() != calendar.Madrid {
			t.Errorf("date(%q) = %v, %v; want %v", tt.v, got, err, tt.want)
		}
		if h, m, s := got.Clock(); h != 0 || m != 0 || s != 0 {
			t.Errorf("date(%q) = %v, not midnight", tt.v, got)
		}
	}
}

func TestDateErrors(t *testing.T) {
	tests := []struct {
		v    string
		k    cellKind
		want string
	}{
		{"31/02/2026", kindText, `date "31/02/2026" is not a date (dd/mm/yyyy expected)`},
		{"29/02/2026", kindText, "is not a date"},
		{"13/13/2026", kindText, "is not a date"},
		{"25/10", kindText, "is not a date"},
		{"25/10-2026", kindText, "is not a date"},
		{"ayer", kindText, "is not a date"},
		{"25/10/026", kindText, "is not a date"},
		{"0", kindNumber, `date "0" is not a date`},
		{"-5", kindNumber, "is not a date"},
		{"99999999", kindNumber, "is not a date"},
		{"5", kindNumber, "is out of range (year 1900)"},
		{"25/10/1926", kindText, "is out of range (year 1926)"},
		{"TRUE", kindBool, "is not a date"},
	}
	for _, tt := range tests {
		got, err := date(tt.v, tt.k, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("date(%q) = %v, %v; want error %q", tt.v, got, err, tt.want)
		}
	}
}

func TestYesNo(t *testing.T) {
	for _, v := range []string{"Sí", "SI", "si", "S", "s", "Yes", "Y", "X", "x", "1", "true", "TRUE", "Verdadero", " Sí "} {
		if got, err := yesNo(v, kindText); err != nil || !got {
			t.Errorf("yesNo(%q) = %v, %v; want true", v, got, err)
		}
	}
	for _, v := range []string{"No", "NO", "n", "N", "0", "false", "FALSO", "", "  "} {
		if got, err := yesNo(v, kindText); err != nil || got {
			t.Errorf("yesNo(%q) = %v, %v; want false", v, got, err)
		}
	}
	if got, err := yesNo("1", kindBool); err != nil || !got {
		t.Errorf("boolean cell TRUE = %v, %v", got, err)
	}
	if got, err := yesNo("1.0", kindNumber); err != nil || !got {
		t.Errorf("number cell 1.0 = %v, %v", got, err)
	}
	for _, v := range []string{"Quizá", "2", "pendiente", "Sí/No"} {
		if _, err := yesNo(v, kindText); err == nil || !strings.Contains(err.Error(), "is not yes or no (Sí/No)") {
			t.Errorf("yesNo(%q) error %v", v, err)
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		v    string
		k    cellKind
		want string
	}{
		{"  Ana\u00a0 Pérez\t", kindText, "Ana Pérez"},
		{"\ufeffFE26-0040087\u200b", kindText, "FE26-0040087"},
		{"600111222", kindNumber, "600111222"},
		{"6.00111222E8", kindNumber, "600111222"},
		{"40087", kindNumber, "40087"},
		{"12.5", kindNumber, "12.5"},
		{"12.125", kindText, "12.125"},
		{"", kindText, ""},
	}
	for _, tt := range tests {
		if got := text(tt.v, tt.k); got != tt.want {
			t.Errorf("text(%q) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"687407735", "+34687407735"},
		{"687 40 77 35", "+34687407735"},
		{"687-407-735", "+34687407735"},
		{"687.407.735", "+34687407735"},
		{"+34 687 407 735", "+34687407735"},
		{"(+34) 687407735", "+34687407735"},
		{"0034687407735", "+34687407735"},
		{"34687407735", "+34687407735"},
		{"912 345 678", "+34912345678"},
		{"812345678", "+34812345678"},
		{"712345678", "+34712345678"},
	}
	for _, tt := range tests {
		if got, err := phone(tt.in); err != nil || got != tt.want {
			t.Errorf("phone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"12345678", "512345678", "6874077350", "+33 612345678", "68740773", "tel 687407735",
		"687407735 / 912345678", "6874+07735", "+34 512345678", "++34687407735"} {
		if got, err := phone(in); err == nil {
			t.Errorf("phone(%q) = %q, want an error", in, got)
		}
	}
}

func TestEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"lucia.castano@example.es", "lucia.castano@example.es"},
		{" Lucia.Castano@Example.ES ", "lucia.castano@example.es"},
		{"mailto:ana@correo.com", "ana@correo.com"},
		{"ana+recibos@sub.dominio.es", "ana+recibos@sub.dominio.es"},
		{"info@xn--espaa-rta.es", "info@xn--espaa-rta.es"},
	}
	for _, tt := range tests {
		if got, err := email(tt.in); err != nil || got != tt.want {
			t.Errorf("email(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := map[string]string{
		"lucia.example.es":          "has no @",
		"lucia@@example.es":         "has more than one @",
		"a@b@example.es":            "has more than one @",
		"@example.es":               "has nothing before the @",
		"lucia@example":             "has no dot in its domain",
		"lucia@example.":            "malformed domain",
		"lucia@.example.es":         "malformed domain",
		"lucia@exa mple.es":         "has spaces",
		"lucia @example.es":         "has spaces",
		"a@x.es; b@y.es":            "has spaces or several addresses",
		"a@x.es,b@y.es":             "several addresses",
		"lucia@example.e":           "malformed domain",
		"lucia@exa_mple.es":         "malformed domain",
		"lucia.@example.es":         "misplaced dot",
		"lu..cia@example.es":        "misplaced dot",
		"lucia@-example.es":         "malformed domain",
		"lucia@example..es":         "malformed domain",
		"lucia\u00a0@example.es":    "has spaces",
		"<lucia@example.es>":        "malformed domain",
		"Lucía <lucia@example.es>":  "has spaces",
		"lucia@example.com.":        "malformed domain",
		"lucia@[192.168.0.1]":       "malformed domain",
		"lucia@localhost":           "has no dot in its domain",
		"lucia@example.es/recibos":  "malformed domain",
		"lucia@example.es?subject=": "malformed domain",
	}
	for in, want := range bad {
		got, err := email(in)
		if err == nil {
			t.Errorf("email(%q) = %q, want an error", in, got)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("email(%q) error %q, want it to contain %q", in, err, want)
		}
	}
}

func TestSegment(t *testing.T) {
	for _, v := range []string{"Doméstico", "Domestico", "DOMÉSTICO", "doméstica", "Particular", "Residencial"} {
		if got, err := segment(v); err != nil || got != SegmentDomestic {
			t.Errorf("segment(%q) = %q, %v", v, got, err)
		}
	}
	for _, v := range []string{"Empresa", "EMPRESA", "Negocio", "PYME", "Pymes", "Autónomo", "Autonomo", "Profesional"} {
		if got, err := segment(v); err != nil || got != SegmentBusiness {
			t.Errorf("segment(%q) = %q, %v", v, got, err)
		}
	}
	for v, want := range map[string]string{
		"":               "is empty (Doméstico or Empresa expected)",
		"Comunidad":      `"Comunidad" is neither Doméstico nor Empresa`,
		"Administración": "is neither",
		"D":              "is neither",
	} {
		if _, err := segment(v); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("segment(%q) error %v, want %q", v, err, want)
		}
	}
}

func TestHasTotalWord(t *testing.T) {
	for _, v := range []string{"Total", "TOTAL GENERAL", "Suma total", "Totales:", "Subtotal", "total (200 registros)"} {
		if !hasTotalWord(v) {
			t.Errorf("hasTotalWord(%q) = false", v)
		}
	}
	for _, v := range []string{"", "Totalmente S.L.", "FE26-0040087", "Importe"} {
		if hasTotalWord(v) {
			t.Errorf("hasTotalWord(%q) = true", v)
		}
	}
}
