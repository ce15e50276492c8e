// Package notice renders the communications of a case from templates kept in
// plain files (templates/), so a clerk can change the wording without touching code.
package notice

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

//go:embed templates/*.tmpl
var files embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"euros": money.Format,
	"date": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(calendar.Madrid).Format("02/01/2006")
	},
	"day": func(t time.Time) string { return t.In(calendar.Madrid).Format("02/01/2006") },
}).ParseFS(files, "templates/*.tmpl"))

// Retailer is who writes to the customer and how the customer pays.
type Retailer struct {
	Name    string
	TaxID   string
	Address string
	Phone   string
	Email   string
	IBAN    string
}

// DefaultRetailer is used when the worker is not configured otherwise.
var DefaultRetailer = Retailer{
	Name:    "Elega Energía",
	TaxID:   "B00000000",
	Address: "Calle Mayor 1, 28001 Madrid",
	Phone:   "900 000 000",
	Email:   "cobros@elega.example",
	IBAN:    "ES00 0000 0000 0000 0000 0000",
}

// Data is everything a template may print.
type Data struct {
	Kind        string
	Segment     string
	Customer    string
	TaxID       string
	Invoice     string
	Cups        string
	AmountCents int64
	CutDate     *time.Time
	SuspendFrom *time.Time
	Date        time.Time
	Retailer    Retailer
	// NewMandate asks for a new IBAN or direct-debit mandate: the bank
	// returned the invoice for the account or the mandate.
	NewMandate bool
}

// Contact is where the customer can be reached.
type Contact struct {
	Phone string
	Email string
}

// Rendered is one communication for one channel.
type Rendered struct {
	Channel   string
	Recipient string
	Subject   string
	Body      string
}

// channels says, per kind, which channels carry it: the first reachable
// option of each group is used.
var channels = map[string][][]string{
	"aviso_1":       {{"whatsapp"}, {"email"}},
	"aviso_2":       {{"whatsapp"}, {"email"}},
	"requerimiento": {{"certified", "letter"}, {"whatsapp"}},
	"carta_corte":   {{"letter"}, {"certified"}},
	"pre_corte":     {{"email", "sms"}},
	"pago":          {{"email", "whatsapp"}},
	"reconexion":    {{"email", "whatsapp"}},
}

// Render renders a notice for every channel the customer can be reached by.
// Domestic short texts never carry a date: the cut is announced by three notices.
func Render(d Data, c Contact) ([]Rendered, error) {
	groups, ok := channels[d.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown notice kind %q", d.Kind)
	}
	var out []Rendered
	for _, group := range groups {
		for _, ch := range group {
			to := recipient(ch, c, d)
			if to == "" {
				continue
			}
			r, err := render(d, ch, to)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no channel reaches the customer for %s", d.Kind)
	}
	return out, nil
}

func recipient(channel string, c Contact, d Data) string {
	switch channel {
	case "whatsapp", "sms":
		return c.Phone
	case "email", "certified":
		return c.Email
	case "letter":
		return d.Customer
	}
	return ""
}

func render(d Data, channel, to string) (Rendered, error) {
	format := "email"
	switch channel {
	case "whatsapp", "sms":
		format = "short"
	case "letter":
		format = "letter"
	}
	name := d.Kind + "." + format + ".tmpl"
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, d); err != nil {
		return Rendered{}, fmt.Errorf("template %s: %w", name, err)
	}
	text := strings.TrimSpace(buf.String())
	r := Rendered{Channel: channel, Recipient: to, Body: text}
	if subject, body, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(subject, "Asunto:") {
		r.Subject = strings.TrimSpace(strings.TrimPrefix(subject, "Asunto:"))
		r.Body = strings.TrimSpace(body)
	}
	if format == "short" && d.Segment == "domestico" && containsDate(r.Body) {
		return Rendered{}, fmt.Errorf("template %s prints a date in a domestic short text", name)
	}
	return r, nil
}

// containsDate spots dd/mm/yyyy or yyyy-mm-dd, which a domestic WhatsApp/SMS must never carry.
func containsDate(s string) bool {
	for i := 0; i+10 <= len(s); i++ {
		w := s[i : i+10]
		if digitsAt(w, 0, 1, 3, 4, 6, 7, 8, 9) && w[2] == '/' && w[5] == '/' {
			return true
		}
		if digitsAt(w, 0, 1, 2, 3, 5, 6, 8, 9) && w[4] == '-' && w[7] == '-' {
			return true
		}
	}
	return false
}

func digitsAt(s string, idx ...int) bool {
	for _, i := range idx {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
