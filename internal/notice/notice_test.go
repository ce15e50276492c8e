package notice

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

var allKinds = []string{"aviso_1", "aviso_2", "requerimiento", "carta_corte", "pre_corte", "pago", "reconexion"}

var (
	cutDate     = calendar.Date(2026, time.May, 20)
	suspendFrom = calendar.Date(2026, time.May, 21)
	sentOn      = time.Date(2026, time.March, 17, 10, 30, 0, 0, calendar.Madrid)
)

const amount = int64(123456) // 1.234,56 €

func data(kind, segment string) Data {
	cut, from := cutDate, suspendFrom
	return Data{
		Kind:        kind,
		Segment:     segment,
		Customer:    "María López García",
		TaxID:       "12345678Z",
		Invoice:     "F2026000123", // no dashes or slashes, so a date is easy to spot
		Cups:        "ES0031405000000001ZV",
		AmountCents: amount,
		CutDate:     &cut,
		SuspendFrom: &from,
		Date:        sentOn,
		Retailer:    DefaultRetailer,
	}
}

var (
	both      = Contact{Phone: "600111222", Email: "maria@example.com"}
	phoneOnly = Contact{Phone: "600111222"}
	emailOnly = Contact{Email: "maria@example.com"}
)

func mustRender(t *testing.T, d Data, c Contact) []Rendered {
	t.Helper()
	out, err := Render(d, c)
	if err != nil {
		t.Fatalf("render %s for %s: %v", d.Kind, d.Segment, err)
	}
	return out
}

func channelsOf(rs []Rendered) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Channel)
	}
	return out
}

func byChannel(t *testing.T, rs []Rendered, channel string) Rendered {
	t.Helper()
	i := slices.IndexFunc(rs, func(r Rendered) bool { return r.Channel == channel })
	if i < 0 {
		t.Fatalf("no %s message among %v", channel, channelsOf(rs))
	}
	return rs[i]
}

func isShort(channel string) bool { return channel == "whatsapp" || channel == "sms" }

// Every kind renders for both segments and every way of reaching the
// customer, and every template file is used by some of them.
func TestRender_EveryKindForBothSegments(t *testing.T) {
	used := map[string]bool{}
	for _, segment := range []string{"domestico", "empresa"} {
		for _, kind := range allKinds {
			for name, c := range map[string]Contact{"phone and e-mail": both, "phone only": phoneOnly, "e-mail only": emailOnly} {
				t.Run(segment+"/"+kind+"/"+name, func(t *testing.T) {
					rs := mustRender(t, data(kind, segment), c)
					for _, r := range rs {
						format := "email"
						switch {
						case isShort(r.Channel):
							format = "short"
						case r.Channel == "letter":
							format = "letter"
						}
						used[kind+"."+format+".tmpl"] = true
						if r.Recipient == "" || strings.TrimSpace(r.Body) == "" {
							t.Errorf("%s: empty recipient or body: %+v", r.Channel, r)
						}
						for _, bad := range []string{"<no value>", "{{", "}}", "%!"} {
							if strings.Contains(r.Body+r.Subject, bad) {
								t.Errorf("%s: %q left in the text:\n%s", r.Channel, bad, r.Body)
							}
						}
						if !strings.Contains(r.Body+r.Subject, "F2026000123") && kind != "reconexion" {
							t.Errorf("%s does not name the invoice:\n%s", r.Channel, r.Body)
						}
						if !strings.Contains(r.Body, DefaultRetailer.Name) {
							t.Errorf("%s does not say who writes:\n%s", r.Channel, r.Body)
						}
						if isShort(r.Channel) != (r.Subject == "") {
							t.Errorf("%s: subject %q", r.Channel, r.Subject)
						}
						if kind != "pago" && kind != "reconexion" && !strings.Contains(r.Body, "1.234,56 €") {
							t.Errorf("%s does not state the amount due:\n%s", r.Channel, r.Body)
						}
					}
				})
			}
		}
	}
	names, err := fs.Glob(files, "templates/*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		if name := strings.TrimPrefix(f, "templates/"); !used[name] {
			t.Errorf("template %s is never rendered", name)
		}
	}
}

// Datelike patterns a reader would take for a date.
var datePatterns = []*regexp.Regexp{
	regexp.MustCompile(`\b\d{1,2}/\d{1,2}\b`),           // 20/05, 20/05/2026
	regexp.MustCompile(`\b\d{1,2}-\d{1,2}-\d{2,4}\b`),   // 20-05-2026
	regexp.MustCompile(`\b\d{1,2}\.\d{1,2}\.\d{2,4}\b`), // 20.05.2026
	regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`),         // 2026-05-20
	regexp.MustCompile(`(?i)\b\d{1,2} de (enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\b`),
}

// PROCESS step 3: domestic WhatsApp and SMS texts carry no date ("porque son
// 3 avisos"), whatever dates the case knows.
func TestRender_DomesticShortTextsCarryNoDate(t *testing.T) {
	for _, kind := range allKinds {
		for _, c := range []Contact{phoneOnly, both} {
			d := data(kind, "domestico")
			rs, err := Render(d, c)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			for _, r := range rs {
				if !isShort(r.Channel) {
					continue
				}
				for _, p := range datePatterns {
					if m := p.FindString(r.Body); m != "" {
						t.Errorf("%s by %s carries a date %q:\n%s", kind, r.Channel, m, r.Body)
					}
				}
				for _, day := range []time.Time{cutDate, suspendFrom, sentOn} {
					for _, layout := range []string{"02/01/2006", "2/1/2006", "02/01", "2006-01-02", "02-01-2006"} {
						if s := day.Format(layout); strings.Contains(r.Body, s) {
							t.Errorf("%s by %s carries %q:\n%s", kind, r.Channel, s, r.Body)
						}
					}
				}
			}
		}
	}
}

// The guard that stops a domestic short text with a date.
func TestContainsDate(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"se cortará el 20/05/2026", true},
		{"desde 2026-05-20", true},
		{"20/05/2026", true},
		{"importe 1.234,56 €", false},
		{"IBAN ES00 0000 0000 0000 0000 0000", false},
		{"llame al 900 000 000", false},
		{"factura FE26-000123", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := containsDate(tt.s); got != tt.want {
			t.Errorf("containsDate(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// PROCESS step 3: the formal demand states the debt, the invoice, how to pay
// and from when the supply may be suspended.
func TestRender_RequerimientoEmailStatesDebtHowToPayAndSuspendFrom(t *testing.T) {
	r := byChannel(t, mustRender(t, data("requerimiento", "domestico"), both), "certified")
	if r.Recipient != "maria@example.com" {
		t.Errorf("recipient %q", r.Recipient)
	}
	if !strings.Contains(r.Subject, "F2026000123") {
		t.Errorf("subject %q does not name the invoice", r.Subject)
	}
	for _, want := range []string{"1.234,56 €", "F2026000123", "ES0031405000000001ZV", DefaultRetailer.IBAN, "21/05/2026", "12345678Z"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("formal demand lacks %q:\n%s", want, r.Body)
		}
	}
	if strings.Contains(r.Body, "20/05/2026") {
		t.Errorf("formal demand prints the cut date instead of the suspend-from date:\n%s", r.Body)
	}

	// Without a suspend-from date (a supply that is never cut) no suspension is announced.
	d := data("requerimiento", "empresa")
	d.SuspendFrom = nil
	r = byChannel(t, mustRender(t, d, both), "certified")
	if strings.Contains(r.Body, "podrá suspenderse") {
		t.Errorf("suspension announced without a date:\n%s", r.Body)
	}
}

// PROCESS step 4: the business cut letter carries the cut date and the amount.
func TestRender_BusinessCutLetterCarriesCutDateAndAmount(t *testing.T) {
	d := data("carta_corte", "empresa")
	d.Customer, d.TaxID = "Talleres Pérez S.L.", "B12345674"
	rs := mustRender(t, d, both)
	if got := channelsOf(rs); !slices.Equal(got, []string{"letter", "certified"}) {
		t.Fatalf("channels %v, want letter and certified e-mail", got)
	}
	for _, r := range rs {
		for _, want := range []string{"20/05/2026", "1.234,56 €", "F2026000123", DefaultRetailer.IBAN} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("%s lacks %q:\n%s", r.Channel, want, r.Body)
			}
		}
	}
	letter := byChannel(t, rs, "letter")
	if letter.Recipient != "Talleres Pérez S.L." || !strings.Contains(letter.Body, "B12345674") {
		t.Errorf("letter not addressed to the company: %q\n%s", letter.Recipient, letter.Body)
	}
	if !strings.Contains(letter.Body, "17/03/2026") {
		t.Errorf("letter is not dated:\n%s", letter.Body)
	}
	if mail := byChannel(t, rs, "certified"); !strings.Contains(mail.Subject, "20/05/2026") {
		t.Errorf("certified e-mail subject %q lacks the cut date", mail.Subject)
	}
	if money.Format(amount) != "1.234,56 €" {
		t.Fatal("test amount no longer prints as 1.234,56 €")
	}
}

// Each kind goes by the channels that reach the customer, the certified ones first.
func TestRender_ChannelChoice(t *testing.T) {
	noName := Contact{Phone: "600111222"}
	tests := []struct {
		name    string
		kind    string
		contact Contact
		noName  bool
		want    []string
	}{
		{"aviso by WhatsApp and e-mail", "aviso_1", both, false, []string{"whatsapp", "email"}},
		{"aviso without phone", "aviso_2", emailOnly, false, []string{"email"}},
		{"aviso without e-mail", "aviso_1", phoneOnly, false, []string{"whatsapp"}},
		{"formal demand certified", "requerimiento", both, false, []string{"certified", "whatsapp"}},
		{"formal demand without e-mail goes as a letter", "requerimiento", phoneOnly, false, []string{"letter", "whatsapp"}},
		{"formal demand without e-mail nor name", "requerimiento", noName, true, []string{"whatsapp"}},
		{"formal demand without phone", "requerimiento", emailOnly, false, []string{"certified"}},
		{"cut letter", "carta_corte", both, false, []string{"letter", "certified"}},
		{"cut letter without e-mail", "carta_corte", phoneOnly, false, []string{"letter"}},
		{"pre-cut by e-mail", "pre_corte", both, false, []string{"email"}},
		{"pre-cut without e-mail goes by SMS", "pre_corte", phoneOnly, false, []string{"sms"}},
		{"payment confirmation", "pago", both, false, []string{"email"}},
		{"payment confirmation without e-mail", "pago", phoneOnly, false, []string{"whatsapp"}},
		{"reconnection", "reconexion", emailOnly, false, []string{"email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := data(tt.kind, "domestico")
			if tt.noName {
				d.Customer = ""
			}
			rs := mustRender(t, d, tt.contact)
			if got := channelsOf(rs); !slices.Equal(got, tt.want) {
				t.Errorf("channels %v, want %v", got, tt.want)
			}
			for _, r := range rs {
				want := tt.contact.Phone
				switch r.Channel {
				case "email", "certified":
					want = tt.contact.Email
				case "letter":
					want = d.Customer
				}
				if r.Recipient != want {
					t.Errorf("%s goes to %q, want %q", r.Channel, r.Recipient, want)
				}
			}
		})
	}
}

func TestRender_Refuses(t *testing.T) {
	if _, err := Render(data("aviso_9", "domestico"), both); err == nil {
		t.Error("an unknown kind rendered")
	}
	if _, err := Render(data("aviso_1", "domestico"), Contact{}); err == nil {
		t.Error("a notice with no channel to the customer rendered")
	}
}

// A return for the account or the mandate (PROCESS "Why the bank returned
// it") asks the customer for a new IBAN or mandate in every notice that asks
// for the debt, on every channel; without it no notice mentions one, and the
// confirmations never do.
func TestRender_NewMandateAskedOnlyWhenTheBankSaidSo(t *testing.T) {
	asks := regexp.MustCompile(`(?i)(IBAN|mandato) (nuevo|de domiciliación nuevo)|IBAN nuevo|nueva orden de domiciliación`)
	for _, kind := range allKinds {
		for _, seg := range []string{"domestico", "empresa"} {
			d := data(kind, seg)
			for _, r := range mustRender(t, d, both) {
				if asks.MatchString(r.Body) {
					t.Errorf("%s %s %s asks for a new IBAN without the bank saying so:\n%s", kind, seg, r.Channel, r.Body)
				}
			}
			d.NewMandate = true
			for _, r := range mustRender(t, d, both) {
				confirmation := kind == "pago" || kind == "reconexion"
				if got := asks.MatchString(r.Body); got == confirmation {
					t.Errorf("%s %s %s: asks for a new IBAN or mandate = %v, want %v:\n%s", kind, seg, r.Channel, got, !confirmation, r.Body)
				}
			}
		}
	}
}
