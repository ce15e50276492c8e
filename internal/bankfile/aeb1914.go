package bankfile

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The AEB flat files of the Cuaderno 19.14 ("Adeudos Directos SEPA en
// fichero electrónico – Esquema Básico", Serie normas y procedimientos
// bancarios nº 19-14, version 5.0 RB of November 2011; its history says the
// file structure has not changed since April 2010). The bank answers a
// presentation file (records 01–05, 99) with two kinds of file, both read
// here:
//
//	devoluciones (Anexo IV): debits returned after the collection date
//	rechazos (Anexo III):    debits refused before the collection date
//
// Every record is 600 characters; numeric fields are right-aligned with
// zeros, alphanumeric ones left-aligned with spaces. Positions below are the
// standard's, 1-based and inclusive.
//
//	Record                                          devoluciones  rechazos
//	Cabecera de presentador                         21            11
//	Cabecera de acreedor por fecha                  22            12
//	Registro individual obligatorio (dato 003)      23            13
//	Totales de acreedor por fecha                   24            14
//	Totales de acreedor                             25            15
//	Total general                                   99            99
//
// Cabecera de presentador (21/11):
//
//	01-02 código de registro, 03-07 versión del cuaderno (19143),
//	08-10 número de dato (001), 11-45 identificador del presentador,
//	46-115 nombre del presentador, 116-123 fecha de creación del fichero
//	(AAAAMMDD), 124-158 identificación del fichero (DEV… or REC…),
//	159-162 entidad receptora, 163-166 oficina receptora, 167-600 libre.
//
// Cabecera de acreedor (22/12):
//
//	01-02 código, 03-07 versión, 08-10 dato (002), 11-45 identificador del
//	acreedor (AT-02), 46-53 fecha de devolución (AT-R4) in 22, fecha de cobro
//	original (AT-11) in 12, 54-123 nombre del acreedor, 124-263 dirección,
//	264-265 país, 266-299 cuenta del acreedor (IBAN), 300-334 identificación
//	del fichero original, 335-600 libre.
//
// Registro individual (23/13):
//
//	01-02 código, 03-07 versión, 08-10 dato (003),
//	11-45 referencia del adeudo (AT-10, our end-to-end id),
//	46-80 referencia única del mandato (AT-01), 81-84 tipo de adeudo (AT-21),
//	85-88 categoría de propósito, 89-99 importe (AT-06, cents, 11 digits),
//	100-107 fecha de firma del mandato, 108-118 entidad del deudor (BIC),
//	119-188 nombre del deudor (AT-14), 189-330 dirección y país del deudor,
//	331 tipo de identificación, 332-402 identificación del deudor,
//	403 identificador de la cuenta (A = IBAN, B = CCC),
//	404-437 cuenta del deudor (AT-07), 438-441 propósito,
//	442-581 concepto (AT-22), 582-585 motivo (AT-R3),
//	in 23: 586-593 fecha de cobro original (AT-11) and 594-600 libre;
//	in 13: 586-600 libre.
//
// Total general (99):
//
//	01-02 código, 03-19 total de importes (cents), 20-27 número de registros
//	individuales, 28-37 total de registros, 38-600 libre.
//
// A return's dates: in a devoluciones file the collection date is the
// record's own (586-593) and the return date its creditor block's (22,
// 46-53); in a rechazos file the collection date is the block's (12, 46-53)
// and, the format having no date of rejection, the return date is the
// file's creation date (11, 116-123).
//
// Some public readers of these files take the debtor's name, account and
// reason from other positions (name 127-196, account 412-445, reason
// 594-597), eight or twelve characters to the right of the standard's. The
// standard's positions are the ones used here.
//
// The files are ISO-8859-1. A file that is valid UTF-8 and holds characters
// beyond ASCII is read as UTF-8 instead, since an ISO-8859-1 "ñ" or "á" is
// never valid UTF-8. Records end in CRLF or LF; a file of 600-character
// records with no line ends at all is split every 600 characters.
const aebRecordLen = 600

// aebKind is one of the two return files.
type aebKind struct {
	base    int // record codes are base+1 … base+5
	version string
	// the individual record has the original collection date (23) or its
	// block's header holds it (13)
	ownCollectionDate bool
}

var (
	aebReturns    = aebKind{base: 20, version: "19143 devoluciones", ownCollectionDate: true}
	aebRejections = aebKind{base: 10, version: "19143 rechazos"}
)

func parseAEB(f *File, data []byte) error {
	records, err := aebRecords(data)
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return errors.New("is empty")
	}
	first := records[0].text
	if len(first) < 7 || !allDigits(string(first[:7])) {
		return errors.New("is not a return file: neither XML (pain.002, camt.054) nor an AEB 19.14 flat file")
	}
	var kind aebKind
	switch code := string(first[:2]); code {
	case "21":
		kind = aebReturns
	case "11":
		kind = aebRejections
	case "01":
		return errors.New("is an AEB 19.14 presentation file (record 01), not a file of returns")
	default:
		return fmt.Errorf("is not an AEB 19.14 return file: it starts with record %s, not 21 (devoluciones) or 11 (rechazos)", code)
	}
	if v := string(first[2:7]); v != "19143" {
		return fmt.Errorf("is an AEB file of version %s, not 19143 (Cuaderno 19.14)", v)
	}
	f.Format, f.Version = FormatAEB1914, kind.version
	r := aebReader{f: f, kind: kind, seen: make(map[string]string), sumKnown: true}
	for _, rec := range records {
		r.record(rec)
	}
	r.finish()
	return nil
}

// aebRecord is one record and the line it is on.
type aebRecord struct {
	line int
	text []rune
}

// aebRecords decodes the file and splits it into records, leaving out blank
// lines and a final end-of-file mark (0x1A).
func aebRecords(data []byte) ([]aebRecord, error) {
	data = bytes.TrimRight(data, "\x1a")
	var text string
	if utf8.Valid(data) {
		text = string(data)
	} else {
		text = string(latin1ToUTF8(data))
	}
	if strings.IndexByte(text, 0) >= 0 {
		return nil, errors.New("is not a text file (it holds NUL bytes)")
	}
	var lines []string
	if !strings.ContainsAny(text, "\r\n") && utf8.RuneCountInString(text) > aebRecordLen && utf8.RuneCountInString(text)%aebRecordLen == 0 {
		rs := []rune(text)
		for i := 0; i < len(rs); i += aebRecordLen {
			lines = append(lines, string(rs[i:i+aebRecordLen]))
		}
	} else {
		lines = strings.Split(text, "\n")
	}
	var out []aebRecord
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, aebRecord{line: i + 1, text: []rune(l)})
	}
	return out, nil
}

// aebReader reads the records of one file in order.
type aebReader struct {
	f    *File
	kind aebKind
	seen map[string]string

	blockDate    time.Time // the current creditor block's date (22/12, 46-53)
	blockProblem string    // why there is none
	inBlock      bool

	individuals int   // individual records, of any length
	sum         int64 // their amounts, where readable
	sumKnown    bool
	totals      *aebRecord // the 99 record
}

func (r *aebReader) reject(line int, reason string) {
	r.f.Rejected = append(r.f.Rejected, Rejected{Where: fmt.Sprintf("line %d", line), Reason: reason})
}

// field is the text at the standard's 1-based, inclusive positions, without
// trailing spaces.
func field(rec []rune, from, to int) string {
	return strings.TrimRight(string(rec[from-1:to]), " ")
}

func (r *aebReader) record(rec aebRecord) {
	code := string(rec.text[:min(2, len(rec.text))])
	base := r.kind.base
	codeNum, err := strconv.Atoi(code)
	if err != nil || len(code) != 2 {
		r.reject(rec.line, fmt.Sprintf("record code %q: not a record of a 19.14 file", code))
		return
	}
	if codeNum == base+3 {
		r.individuals++
	}
	if len(rec.text) != aebRecordLen {
		r.reject(rec.line, fmt.Sprintf("record %s of %d characters, %d expected", code, len(rec.text), aebRecordLen))
		if codeNum == base+3 {
			r.sumKnown = false
		}
		return
	}
	switch codeNum {
	case base + 1:
		r.presenter(rec)
	case base + 2:
		r.creditor(rec)
	case base + 3:
		r.individual(rec)
	case base + 4, base + 5:
		// The block totals repeat what the 99 record says for the file.
	case 99:
		if r.totals != nil {
			r.reject(rec.line, fmt.Sprintf("record 99: a second total record (the first is on line %d)", r.totals.line))
			return
		}
		r.totals = &rec
	default:
		r.reject(rec.line, fmt.Sprintf("record code %s: not a record of a 19.14 %s file", code, strings.TrimPrefix(r.kind.version, "19143 ")))
	}
}

// presenter reads the presenter header (21/11).
func (r *aebReader) presenter(rec aebRecord) {
	if r.f.MessageID == "" {
		r.f.MessageID = strings.TrimSpace(field(rec.text, 124, 158))
	}
	s := field(rec.text, 116, 123)
	d, err := parseDate(s, compactDate)
	if err != nil {
		r.reject(rec.line, fmt.Sprintf("file creation date %q: %v", s, err))
		return
	}
	r.f.CreatedAt = d
}

// creditor reads a creditor block header (22/12) and its date.
func (r *aebReader) creditor(rec aebRecord) {
	r.inBlock = true
	if r.f.OriginalMessageID == "" {
		r.f.OriginalMessageID = strings.TrimSpace(field(rec.text, 300, 334))
	}
	name := "return date"
	if !r.kind.ownCollectionDate {
		name = "collection date"
	}
	s := field(rec.text, 46, 53)
	d, err := parseDate(s, compactDate)
	if err != nil {
		r.blockDate, r.blockProblem = time.Time{}, fmt.Sprintf("its block's %s %q (line %d) is %v", name, s, rec.line, err)
		r.reject(rec.line, fmt.Sprintf("%s %q: %v", name, s, err))
		return
	}
	r.blockDate, r.blockProblem = d, ""
}

// individual reads an individual record (23/13).
func (r *aebReader) individual(rec aebRecord) {
	t := rec.text
	c := candidate{
		where:      fmt.Sprintf("line %d", rec.line),
		line:       rec.line,
		endToEnd:   field(t, 11, 45),
		mandate:    field(t, 46, 80),
		currency:   "EUR", // the cuaderno is in euros
		debtorName: field(t, 119, 188),
		reason:     field(t, 582, 585),
	}
	amount := field(t, 89, 99)
	if len(amount) == 11 && allDigits(amount) {
		c.amountCents, _ = strconv.ParseInt(amount, 10, 64)
		c.amountGiven = true
		r.sum += c.amountCents
	} else {
		r.sumKnown = false
		if strings.TrimSpace(amount) != "" {
			c.amountProblem = fmt.Sprintf("amount %q: not 11 digits of cents", amount)
		}
	}
	c.debtorIBAN = debtorAccount(field(t, 403, 403), strings.TrimSpace(field(t, 404, 437)))

	switch {
	case !r.inBlock:
		c.returnedOnErr = fmt.Sprintf("no creditor header (record %d) before this record", r.kind.base+2)
	case r.kind.ownCollectionDate: // devoluciones
		c.requested, c.requestedFmt = strings.TrimSpace(field(t, 586, 593)), compactDate
		if r.blockProblem != "" {
			c.returnedOnErr = r.blockProblem
		} else {
			c.returnedOn = r.blockDate
		}
	default: // rechazos
		if r.blockProblem != "" {
			c.returnedOnErr = r.blockProblem // the collection date is missing, not the return date, but both are needed
		} else {
			c.requested, c.requestedFmt = r.blockDate.Format(compactDate), compactDate
		}
		if r.f.CreatedAt.IsZero() {
			if c.returnedOnErr == "" {
				c.returnedOnErr = "the file's creation date (presenter header) is missing or unreadable"
			}
		} else {
			c.returnedOn = r.f.CreatedAt
		}
	}
	r.f.take(c, r.seen)
}

// debtorAccount turns the account field into an IBAN: as given when it is
// one (A), built from the CCC when it is a Spanish account of 20 digits (B).
func debtorAccount(kind, acct string) string {
	acct = normalizeIBAN(acct)
	if kind == "B" || len(acct) == 20 && allDigits(acct) {
		if iban, ok := ibanFromCCC(acct); ok {
			return iban
		}
	}
	return acct
}

// finish compares the file's total record (99) with the records read.
func (r *aebReader) finish() {
	if r.totals == nil {
		r.f.Rejected = append(r.f.Rejected, Rejected{Where: "end of file", Reason: "totals: no record 99; the file may be cut short"})
		return
	}
	t := r.totals.text
	count, sum := field(t, 20, 27), field(t, 3, 19)
	n, errN := strconv.Atoi(count)
	s, errS := strconv.ParseInt(sum, 10, 64)
	switch {
	case errN != nil || !allDigits(count):
		r.reject(r.totals.line, fmt.Sprintf("totals: number of records %q is not a count", count))
	case n != r.individuals:
		r.reject(r.totals.line, fmt.Sprintf("totals: record 99 counts %d individual records, the file has %d", n, r.individuals))
	}
	switch {
	case errS != nil || !allDigits(sum):
		r.reject(r.totals.line, fmt.Sprintf("totals: total amount %q is not an amount in cents", sum))
	case r.sumKnown && s != r.sum:
		r.reject(r.totals.line, fmt.Sprintf("totals: record 99 adds up to %s, the individual records to %s", centsText(s), centsText(r.sum)))
	}
}
