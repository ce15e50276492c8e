// Package letter renders the business cut letter ("la carta de corte de
// suministro eléctrico") as a PDF the customer can keep: who owes what for
// which supply point, the scheduled cut date, how to pay, and who writes.
//
// The output depends only on the input: the PDF's dates come from the letter's
// date and nothing random is written, so the same letter always has the same
// bytes and its SHA-256 can serve as evidence of what was sent.
package letter

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// Retailer is who writes the letter and how the customer pays. Its fields
// match notice.Retailer, so one converts to the other.
type Retailer struct {
	Name    string
	TaxID   string
	Address string // "Calle Mayor 1, 28001 Madrid": the town after the postal code is the letter's place
	Phone   string
	Email   string
	IBAN    string
}

// Invoice is one unpaid invoice and what is still owed on it.
type Invoice struct {
	Number      string
	AmountCents int64
}

// CutLetter is everything the letter prints.
type CutLetter struct {
	Retailer Retailer
	Customer string
	TaxID    string // optional
	Address  string // optional; lines separated by "\n"
	Cups     string
	Invoices []Invoice
	// AmountCents is the total due. Zero means the sum of the invoices; less
	// than the sum shows the difference as payments on account.
	AmountCents int64
	CutDate     time.Time // scheduled cut date
	Date        time.Time // date of the letter
	Reference   string    // e.g. the case id impago-<invoice>; optional
}

// Subject is the letter's subject line.
const Subject = "Aviso de suspensión del suministro eléctrico por impago"

// Page geometry in millimetres (A4 portrait).
const (
	marginLeft  = 25.0
	marginRight = 20.0
	marginTop   = 20.0
	marginBot   = 25.0
	pageWidth   = 210.0
	textWidth   = pageWidth - marginLeft - marginRight
	lineHeight  = 5.2
	fontFamily  = "Helvetica" // a core font: nothing embedded, cp1252 text
)

// CutLetterPDF renders the letter as an A4 PDF.
func CutLetterPDF(l CutLetter) ([]byte, error) {
	total, onAccount, err := check(l)
	if err != nil {
		return nil, err
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	w := &writer{pdf: pdf, translate: pdf.UnicodeTranslatorFromDescriptor("")}
	date := l.Date.In(calendar.Madrid)
	pdf.SetCreationDate(date)
	pdf.SetModificationDate(date)
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetLang("es-ES")
	pdf.SetTitle(Subject, true)
	pdf.SetSubject(Subject+" · CUPS "+l.Cups, true)
	pdf.SetAuthor(l.Retailer.Name, true)
	pdf.SetCreator(l.Retailer.Name, true)
	pdf.SetMargins(marginLeft, marginTop, marginRight)
	pdf.SetAutoPageBreak(true, marginBot)
	pdf.AliasNbPages("")
	pdf.SetFooterFunc(func() { w.footer(l.Retailer) })
	pdf.AddPage()

	w.header(l.Retailer)
	w.placeAndDate(l, date)
	w.recipient(l)
	w.subject()
	w.body(l, total, onAccount)
	w.signature(l.Retailer)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("cut letter for %s: %w", l.Cups, err)
	}
	return buf.Bytes(), nil
}

// check refuses a letter that would mislead the customer, and returns the
// total due and the payments on account (the invoices' sum less the total).
func check(l CutLetter) (total, onAccount int64, err error) {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"retailer name", l.Retailer.Name},
		{"customer", l.Customer},
		{"CUPS", l.Cups},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if l.Date.IsZero() {
		missing = append(missing, "letter date")
	}
	if l.CutDate.IsZero() {
		missing = append(missing, "cut date")
	}
	if len(l.Invoices) == 0 {
		missing = append(missing, "invoices")
	}
	if len(missing) > 0 {
		return 0, 0, fmt.Errorf("cut letter: missing %s", strings.Join(missing, ", "))
	}

	var sum int64
	for i, inv := range l.Invoices {
		if strings.TrimSpace(inv.Number) == "" {
			return 0, 0, fmt.Errorf("cut letter: invoice %d has no number", i+1)
		}
		if inv.AmountCents <= 0 {
			return 0, 0, fmt.Errorf("cut letter: invoice %s amount %s is not positive", inv.Number, money.Format(inv.AmountCents))
		}
		sum += inv.AmountCents
	}
	total = l.AmountCents
	if total == 0 {
		total = sum
	}
	switch {
	case total < 0:
		return 0, 0, fmt.Errorf("cut letter: total due %s is negative", money.Format(total))
	case total > sum:
		return 0, 0, fmt.Errorf("cut letter: total due %s exceeds the invoices' %s", money.Format(total), money.Format(sum))
	}
	if day(l.CutDate) <= day(l.Date) {
		return 0, 0, fmt.Errorf("cut letter: cut date %s is not after the letter's date %s", numeric(l.CutDate), numeric(l.Date))
	}
	return total, sum - total, nil
}

// day orders dates by their calendar day in Madrid.
func day(t time.Time) int {
	y, m, d := t.In(calendar.Madrid).Date()
	return y*10000 + int(m)*100 + d
}

// writer puts text on the page, translating UTF-8 to the core fonts' cp1252.
type writer struct {
	pdf       *fpdf.Fpdf
	translate func(string) string
}

// tr converts s to cp1252. fpdf's translator prints '.' for a rune cp1252
// lacks; '?' says more honestly that a character is missing, and the
// hyphen-like runes become a hyphen.
func (w *writer) tr(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\r' || r == '\n':
			b.WriteByte(' ')
		case r < 0x80:
			b.WriteRune(r)
		case r == '\u2010' || r == '\u2011' || r == '\u2012' || r == '\u2212':
			b.WriteByte('-')
		default:
			if c := w.translate(string(r)); c != "." {
				b.WriteString(c)
			} else {
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}

func (w *writer) font(style string, size float64) { w.pdf.SetFont(fontFamily, style, size) }

func (w *writer) header(r Retailer) {
	p := w.pdf
	p.SetTextColor(20, 60, 110)
	w.font("B", 16)
	p.CellFormat(textWidth, 8, w.tr(r.Name), "", 1, "L", false, 0, "")
	p.SetTextColor(90, 90, 90)
	w.font("", 8.5)
	if line := joinNonEmpty(" · ", taxID(r.TaxID), r.Address); line != "" {
		p.CellFormat(textWidth, 4.2, w.tr(line), "", 1, "L", false, 0, "")
	}
	if line := joinNonEmpty(" · ", phone(r.Phone), r.Email); line != "" {
		p.CellFormat(textWidth, 4.2, w.tr(line), "", 1, "L", false, 0, "")
	}
	p.Ln(2)
	p.SetDrawColor(20, 60, 110)
	p.SetLineWidth(0.4)
	y := p.GetY()
	p.Line(marginLeft, y, pageWidth-marginRight, y)
	p.SetTextColor(0, 0, 0)
	p.Ln(8)
}

func (w *writer) placeAndDate(l CutLetter, date time.Time) {
	p := w.pdf
	w.font("", 10.5)
	line := longDate(date)
	if place := town(l.Retailer.Address); place != "" {
		line = place + ", " + line
	}
	p.CellFormat(textWidth, lineHeight, w.tr(line), "", 1, "R", false, 0, "")
	if l.Reference != "" {
		w.font("", 9)
		p.CellFormat(textWidth, lineHeight, w.tr("Referencia: "+l.Reference), "", 1, "R", false, 0, "")
	}
	p.Ln(6)
}

// recipient prints the customer block where a window envelope shows it.
func (w *writer) recipient(l CutLetter) {
	const x, width = 110.0, pageWidth - marginRight - 110.0
	p := w.pdf
	lines := []string{l.Customer}
	if l.TaxID != "" {
		lines = append(lines, "NIF/CIF: "+l.TaxID)
	}
	for _, a := range strings.Split(l.Address, "\n") {
		if a = strings.TrimSpace(a); a != "" {
			lines = append(lines, a)
		}
	}
	lines = append(lines, "CUPS: "+l.Cups)
	for i, line := range lines {
		if i == 0 {
			w.font("B", 10.5)
		} else {
			w.font("", 10)
		}
		p.SetX(x)
		p.MultiCell(width, lineHeight, w.tr(line), "", "L", false)
	}
	p.Ln(10)
}

func (w *writer) subject() {
	w.font("B", 11)
	w.pdf.MultiCell(textWidth, 6, w.tr("Asunto: "+Subject), "", "L", false)
	w.pdf.Ln(4)
}

// span is a piece of a paragraph in regular or bold type.
type span struct {
	text string
	bold bool
}

func (w *writer) paragraph(spans ...span) {
	for _, s := range spans {
		if s.bold {
			w.font("B", 10.5)
		} else {
			w.font("", 10.5)
		}
		w.pdf.Write(lineHeight, w.tr(s.text))
	}
	w.pdf.Ln(lineHeight)
	w.pdf.Ln(3)
}

func (w *writer) body(l CutLetter, total, onAccount int64) {
	many := len(l.Invoices) > 1
	w.paragraph(span{text: "Estimado cliente:"})
	intro := "Le comunicamos que la factura que se detalla a continuación, correspondiente al suministro eléctrico del punto con CUPS "
	tail := ", ha sido devuelta por su entidad bancaria y se encuentra pendiente de pago:"
	if many {
		intro = "Le comunicamos que las facturas que se detallan a continuación, correspondientes al suministro eléctrico del punto con CUPS "
		tail = ", han sido devueltas por su entidad bancaria y se encuentran pendientes de pago:"
	}
	w.paragraph(span{text: intro}, span{text: l.Cups, bold: true}, span{text: tail})
	w.invoices(l.Invoices, total, onAccount)

	w.paragraph(
		span{text: "De no recibir el pago del importe total pendiente, "},
		span{text: money.Format(total), bold: true},
		span{text: ", el suministro eléctrico será suspendido el "},
		span{text: weekdayDate(l.CutDate) + " (" + numeric(l.CutDate) + ")", bold: true},
		span{text: "."},
	)

	pay := []span{{text: "Para evitar la suspensión, abone el importe total"}}
	if l.Retailer.IBAN != "" {
		concept := "el número de factura"
		if many {
			concept = "los números de factura"
		}
		if l.Reference != "" {
			concept += " o la referencia " + l.Reference
		}
		pay = append(pay,
			span{text: " mediante transferencia bancaria a la cuenta "},
			span{text: unbreakable(l.Retailer.IBAN), bold: true},
			span{text: ", indicando como concepto " + concept},
		)
	}
	pay = append(pay, span{text: "."})
	if contact := contactSpans(l.Retailer); len(contact) > 0 {
		pay = append(pay, span{text: " Para cualquier consulta o para acordar el pago, "})
		pay = append(pay, contact...)
		pay = append(pay, span{text: "."})
	}
	w.paragraph(pay...)

	paid := "¿Ya ha realizado el pago? En ese caso, le rogamos que nos lo comunique"
	if l.Retailer.Email != "" {
		paid += " enviando el justificante a " + l.Retailer.Email
	}
	w.paragraph(span{text: paid + " y que no tenga en cuenta esta carta."})

	w.paragraph(span{text: "Conforme a la normativa del sector eléctrico, la suspensión nunca se realizará en día festivo " +
		"ni en la víspera de un festivo. Si el suministro llegara a suspenderse, se restablecerá como máximo " +
		"al día siguiente de recibir el pago de la deuda."})
}

func contactSpans(r Retailer) []span {
	var out []span
	if r.Phone != "" {
		out = append(out, span{text: "llame al "}, span{text: unbreakable(r.Phone), bold: true})
	}
	if r.Email != "" {
		if len(out) > 0 {
			out = append(out, span{text: " o "})
		}
		out = append(out, span{text: "escriba a "}, span{text: r.Email, bold: true})
	}
	return out
}

// invoices prints the table of invoices, payments on account and the total.
func (w *writer) invoices(invs []Invoice, total, onAccount int64) {
	const numW, amtW, rowH = textWidth - 55, 55.0, 6.5
	p := w.pdf
	p.SetDrawColor(160, 160, 160)
	p.SetLineWidth(0.2)
	p.SetFillColor(230, 236, 244)
	head := func() {
		w.font("B", 10)
		p.CellFormat(numW, 7, w.tr("Factura"), "1", 0, "L", true, 0, "")
		p.CellFormat(amtW, 7, w.tr("Importe pendiente"), "1", 1, "R", true, 0, "")
		w.font("", 10)
	}
	head()
	_, pageH := p.GetPageSize()
	for _, inv := range invs {
		// A table that runs onto the next page repeats its head there.
		if p.GetY()+rowH > pageH-marginBot {
			p.AddPage()
			head()
		}
		p.CellFormat(numW, rowH, w.tr(inv.Number), "1", 0, "L", false, 0, "")
		p.CellFormat(amtW, rowH, w.tr(money.Format(inv.AmountCents)), "1", 1, "R", false, 0, "")
	}
	if onAccount > 0 {
		p.CellFormat(numW, rowH, w.tr("Pagos a cuenta recibidos"), "1", 0, "L", false, 0, "")
		p.CellFormat(amtW, rowH, w.tr(money.Format(-onAccount)), "1", 1, "R", false, 0, "")
	}
	w.font("B", 10)
	p.CellFormat(numW, 7, w.tr("Total pendiente"), "1", 0, "L", true, 0, "")
	p.CellFormat(amtW, 7, w.tr(money.Format(total)), "1", 1, "R", true, 0, "")
	p.Ln(5)
}

func (w *writer) signature(r Retailer) {
	p := w.pdf
	p.Ln(2)
	w.font("", 10.5)
	p.CellFormat(textWidth, lineHeight, "Atentamente,", "", 1, "L", false, 0, "")
	p.Ln(8)
	w.font("B", 10.5)
	p.CellFormat(textWidth, lineHeight, w.tr(r.Name), "", 1, "L", false, 0, "")
	w.font("", 10)
	p.CellFormat(textWidth, lineHeight, w.tr("Departamento de Cobros"), "", 1, "L", false, 0, "")
}

func (w *writer) footer(r Retailer) {
	p := w.pdf
	p.SetY(-18)
	p.SetDrawColor(200, 200, 200)
	p.SetLineWidth(0.2)
	y := p.GetY()
	p.Line(marginLeft, y, pageWidth-marginRight, y)
	p.Ln(1.5)
	p.SetTextColor(110, 110, 110)
	w.font("", 7.5)
	line := joinNonEmpty(" · ", r.Name, taxID(r.TaxID), r.Address, phone(r.Phone), r.Email)
	p.MultiCell(textWidth, 3.6, w.tr(line), "", "C", false)
	p.CellFormat(textWidth, 3.6, w.tr(fmt.Sprintf("Página %d de {nb}", p.PageNo())), "", 0, "C", false, 0, "")
	p.SetTextColor(0, 0, 0)
}

// unbreakable keeps an IBAN or a phone number on one line, as it is read
// out and typed in one go.
func unbreakable(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") }

func taxID(id string) string {
	if id == "" {
		return ""
	}
	return "CIF " + id
}

func phone(p string) string {
	if p == "" {
		return ""
	}
	return "Tel. " + p
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, s := range parts {
		if s = strings.TrimSpace(s); s != "" {
			keep = append(keep, s)
		}
	}
	return strings.Join(keep, sep)
}

// town takes the place of the letter from the retailer's address: the last
// comma-separated part without its postal code ("Calle Mayor 1, 28001 Madrid"
// gives "Madrid"). Without a comma the town cannot be told from the street,
// and the letter carries the date alone.
func town(address string) string {
	parts := strings.Split(address, ",")
	if len(parts) < 2 {
		return ""
	}
	fields := strings.Fields(parts[len(parts)-1])
	if len(fields) > 0 && isPostalCode(fields[0]) {
		fields = fields[1:]
	}
	return strings.Join(fields, " ")
}

func isPostalCode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var (
	weekdays = [...]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
	months   = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
		"agosto", "septiembre", "octubre", "noviembre", "diciembre"}
)

// longDate writes a date in words: "5 de marzo de 2026".
func longDate(t time.Time) string {
	t = t.In(calendar.Madrid)
	return fmt.Sprintf("%d de %s de %d", t.Day(), months[t.Month()-1], t.Year())
}

// weekdayDate writes a date in words with its weekday: "lunes, 16 de marzo de 2026".
func weekdayDate(t time.Time) string {
	t = t.In(calendar.Madrid)
	return weekdays[t.Weekday()] + ", " + longDate(t)
}

// numeric writes dd/mm/yyyy in Madrid.
func numeric(t time.Time) string { return t.In(calendar.Madrid).Format("02/01/2006") }
