// Package bankfile reads the files a creditor's bank sends back for SEPA
// direct debits that were rejected or returned: the ISO 20022 status report
// pain.002, the debit notification camt.054, and the AEB flat file of the
// Cuaderno 19.14 ("devoluciones" and "rechazos"). The format is told from the
// content, never from the file name.
//
// Each file gives a File: the returns it holds, each with the invoice's
// end-to-end id, the amount in cents, the debtor, the dates and the SEPA
// reason code; the transactions that could not be taken, each named by where
// it is in the file and which field is wrong; and a count of the entries that
// are not returns (accepted collections, credits). One bad transaction never
// costs the others: Parse fails only when nothing at all can be read.
//
// The files come from outside, so every read is bounded: a file over
// MaxFileSize is refused before it is read, XML deeper than MaxXMLDepth or
// carrying a DOCTYPE or entity declaration is refused, and a truncated XML
// file is refused whole.
package bankfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Madrid must load on a machine without a zoneinfo database
)

// MaxFileSize is the largest file read, in bytes (32 MiB). A bank's daily
// return file is a few hundred kilobytes; anything this large is not one.
const MaxFileSize = 32 << 20

// MaxXMLDepth is the deepest element nesting accepted in an XML file. The
// elements of these messages go some fifteen levels down (a debtor's id
// scheme in a camt.054 transaction); 32 leaves room for a bank's extra
// wrappers and stops a file built to exhaust the parser.
const MaxXMLDepth = 32

// Format is the kind of return file.
type Format string

// The formats Parse reads.
const (
	FormatPain002 Format = "pain.002" // ISO 20022 customer payment status report
	FormatCamt054 Format = "camt.054" // ISO 20022 debit/credit notification
	FormatAEB1914 Format = "aeb19.14" // AEB Cuaderno 19.14 flat file, devoluciones or rechazos
)

// Originators a bank can name for a return. Any other originator is kept as
// the name or BIC the file gives.
const (
	OriginatorDebtor       = "debtor"        // the debtor asked their bank to return the debit
	OriginatorDebtorBank   = "debtor_bank"   // the debtor's bank returned or refused it
	OriginatorCreditorBank = "creditor_bank" // our own bank refused it before sending it on
)

// Return is one returned or rejected direct debit.
type Return struct {
	EndToEndID    string // the invoice number we sent as the end-to-end id
	InstructionID string // the instruction id we sent, when the file repeats it
	MandateID     string
	AmountCents   int64  // always > 0
	Currency      string // always "EUR"
	DebtorName    string
	DebtorIBAN    string // upper-case, without spaces; built from the CCC when a flat file gives one
	// IBANOK says the IBAN passes its mod-97 check and, for a Spanish IBAN,
	// the two check digits of the account inside it (dígitos de control).
	IBANOK bool
	// RequestedOn is the collection date we asked for, midnight in
	// Europe/Madrid; zero when the file does not give it.
	RequestedOn time.Time
	// ReturnedOn is the date of the return (midnight, Europe/Madrid) when
	// the file gives one: the booking date of a camt.054 entry, the return
	// date of a 19.14 creditor block. A pain.002 has no such field, nor does
	// a 19.14 rejections file: there it is the file's creation time.
	ReturnedOn time.Time
	// Reason is the SEPA reason code, upper-case (AM04); a proprietary code
	// (pain.002 Prtry) is kept as the bank wrote it.
	Reason string
	// Originator is who raised the return: OriginatorDebtor,
	// OriginatorDebtorBank, OriginatorCreditorBank when the file says so,
	// otherwise the name or BIC the file gives; "" when it gives none, as
	// in every flat file.
	Originator string
	Where      string // "end-to-end id F2026-0101", or "line 12" when that is all there is
}

// Rejected is a transaction of the file that could not be taken.
type Rejected struct {
	Where  string // "end-to-end id F2026-0101", "line 12" or "end of file"
	Reason string // names the field: "amount 12.345: more than two decimals"
}

// File is what one return file holds.
type File struct {
	Name    string // the file's name as given to Parse
	Format  Format
	Version string // "pain.002.001.03", "camt.054.001.02", "19143 devoluciones"
	// MessageID is the file's own id: GrpHdr/MsgId, or the 19.14
	// presenter header's file identification.
	MessageID string
	// OriginalMessageID is the id of the collection file the returns answer
	// (pain.002 OrgnlMsgId, the 19.14 creditor header's original file);
	// "" when the file does not say.
	OriginalMessageID string
	CreatedAt         time.Time // in Europe/Madrid; zero when missing or unreadable
	SHA256            string    // hex of the bytes read
	Returns           []Return
	Rejected          []Rejected
	// Ignored counts the transactions that are not returns: accepted or
	// pending statuses in a pain.002, credits and transactions without
	// return information in a camt.054.
	Ignored int
}

// madrid is where the dates of the files are read: Spanish banks write local
// dates and, in XML, often local times without an offset.
var madrid = mustLoad("Europe/Madrid")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // cannot happen: time/tzdata is linked in
	}
	return loc
}

// Parse reads a return file held in memory. name is used in errors and kept
// in File.Name. The error is for a file of which nothing can be read: empty,
// over MaxFileSize, not a return file (a pain.008, a presentation 19.14),
// malformed or truncated XML, or XML refused for its DOCTYPE or depth.
func Parse(name string, data []byte) (File, error) {
	if len(data) > MaxFileSize {
		return File{}, fmt.Errorf("bank file %s: %d bytes, more than the %d a return file may have", name, len(data), MaxFileSize)
	}
	sum := sha256.Sum256(data)
	f := File{Name: name, SHA256: hex.EncodeToString(sum[:])}
	body := bytes.TrimPrefix(data, utf8BOM)
	trimmed := bytes.TrimSpace(body)
	var err error
	switch {
	case len(trimmed) == 0:
		err = errors.New("is empty")
	case trimmed[0] == '<':
		err = parseXML(&f, body)
	default:
		err = parseAEB(&f, body)
	}
	if err != nil {
		return File{}, fmt.Errorf("bank file %s: %w", name, err)
	}
	return f, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ReadFile reads and parses the file at path. A file larger than
// MaxFileSize is refused before any of it is read.
func ReadFile(path string) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("bank file %s: %w", path, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return File{}, fmt.Errorf("bank file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return File{}, fmt.Errorf("bank file %s: not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return File{}, fmt.Errorf("bank file %s: %d bytes, more than the %d a return file may have", path, st.Size(), MaxFileSize)
	}
	// The limit holds even if the file grows between Stat and the read.
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return File{}, fmt.Errorf("bank file %s: %w", path, err)
	}
	return Parse(filepath.Base(path), data)
}

// candidate is a transaction as a format reader found it, before the checks
// common to every format decide whether it becomes a Return.
type candidate struct {
	where         string // set by take from endToEnd or line
	line          int
	endToEnd      string
	instruction   string
	mandate       string
	amountText    string // as written in an XML file; "" when amountCents is set
	amountCents   int64
	amountGiven   bool   // amountText or amountCents holds the amount
	amountProblem string // why the amount could not be read, when the format reader knows
	currency      string
	debtorName    string
	debtorIBAN    string
	requested     string // the date text; "" when the file gives none
	requestedFmt  string // layout of requested
	returnedOn    time.Time
	returnedOnErr string // why returnedOn could not be set
	reason        string
	proprietary   bool // reason is a proprietary (Prtry) code
	originator    string
}

// take checks a candidate and adds it to the returns or to the rejected,
// with every wrong field named.
func (f *File) take(c candidate, seen map[string]string) {
	c.endToEnd = strings.TrimSpace(c.endToEnd)
	if strings.EqualFold(c.endToEnd, "NOTPROVIDED") {
		c.endToEnd = ""
	}
	if c.where == "" {
		if c.endToEnd != "" {
			c.where = "end-to-end id " + c.endToEnd
		} else {
			c.where = fmt.Sprintf("line %d", c.line)
		}
	}
	r := Return{
		EndToEndID:    c.endToEnd,
		InstructionID: strings.TrimSpace(c.instruction),
		MandateID:     strings.TrimSpace(c.mandate),
		DebtorName:    collapseSpaces(c.debtorName),
		Originator:    c.originator,
		Where:         c.where,
	}
	var problems []string
	if r.EndToEndID == "" {
		problems = append(problems, "end-to-end id: missing")
	} else if first, ok := seen[r.EndToEndID]; ok {
		problems = append(problems, fmt.Sprintf("end-to-end id %s: repeated (first at %s)", r.EndToEndID, first))
	}

	switch {
	case c.amountProblem != "":
		problems = append(problems, c.amountProblem)
	case !c.amountGiven:
		problems = append(problems, "amount: missing")
	case c.amountText != "":
		cents, err := ParseAmount(c.amountText)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case cents == 0:
			problems = append(problems, fmt.Sprintf("amount %s: not more than zero", c.amountText))
		}
		r.AmountCents = cents
	case c.amountCents <= 0:
		problems = append(problems, fmt.Sprintf("amount %s: not more than zero", centsText(c.amountCents)))
	case c.amountCents > MaxAmountCents:
		// Eleven digits of cents in a 19.14 record reach 999.999.999,99.
		problems = append(problems, fmt.Sprintf("amount %s: more than 100.000.000,00", centsText(c.amountCents)))
	default:
		r.AmountCents = c.amountCents
	}

	switch cur := strings.TrimSpace(c.currency); {
	case !c.amountGiven:
		// An amount that is not there has no currency either.
	case cur == "":
		problems = append(problems, "currency: missing")
	case !strings.EqualFold(cur, "EUR"):
		problems = append(problems, fmt.Sprintf("currency %s: only EUR is taken", cur))
	default:
		r.Currency = "EUR"
	}

	if iban := normalizeIBAN(c.debtorIBAN); iban != "" {
		r.DebtorIBAN = iban
		r.IBANOK = CheckIBAN(iban)
	}

	if c.requested != "" {
		d, err := parseDate(c.requested, c.requestedFmt)
		if err != nil {
			problems = append(problems, fmt.Sprintf("requested collection date %s: %v", c.requested, err))
		}
		r.RequestedOn = d
	}
	if c.returnedOnErr != "" {
		problems = append(problems, "return date: "+c.returnedOnErr)
	}
	r.ReturnedOn = c.returnedOn

	reason := strings.TrimSpace(c.reason)
	switch {
	case reason == "":
		problems = append(problems, "reason: missing")
	case c.proprietary:
		r.Reason = reason
	default:
		reason = strings.ToUpper(reason)
		if !isReasonCode(reason) {
			problems = append(problems, fmt.Sprintf("reason %q: not a SEPA reason code (four letters or digits)", reason))
		}
		r.Reason = reason
	}

	if len(problems) > 0 {
		f.Rejected = append(f.Rejected, Rejected{Where: c.where, Reason: strings.Join(problems, "; ")})
		return
	}
	if c.line > 0 {
		seen[r.EndToEndID] = fmt.Sprintf("line %d", c.line)
	} else {
		seen[r.EndToEndID] = c.where
	}
	f.Returns = append(f.Returns, r)
}

// isReasonCode says whether s is an ISO external reason code: one to four
// upper-case letters or digits.
func isReasonCode(s string) bool {
	if len(s) == 0 || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// collapseSpaces trims s and turns each run of whitespace into one space.
func collapseSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// centsText writes cents as euros with a decimal point, the way the files do.
func centsText(c int64) string {
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

// Date layouts of the formats.
const (
	isoDate     = "2006-01-02"
	compactDate = "20060102"
)

// parseDate reads a date in Europe/Madrid. Years outside 2000–2099 are
// refused: SEPA debits did not exist before, and a zero-filled field is not
// a date.
func parseDate(s, layout string) (time.Time, error) {
	d, err := time.ParseInLocation(layout, strings.TrimSpace(s), madrid)
	if err != nil {
		return time.Time{}, errors.New("not a date")
	}
	if y := d.Year(); y < 2000 || y > 2099 {
		return time.Time{}, errors.New("not a date of this century")
	}
	return d, nil
}

// parseDateTime reads an ISO 20022 date and time: with an offset or Z it is
// that instant, without one it is Madrid's local time. The result is in
// Europe/Madrid.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return checkCentury(t.In(madrid))
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, madrid); err == nil {
		return checkCentury(t)
	}
	return time.Time{}, errors.New("not a date and time")
}

func checkCentury(t time.Time) (time.Time, error) {
	if y := t.Year(); y < 2000 || y > 2099 {
		return time.Time{}, errors.New("not a date of this century")
	}
	return t, nil
}

// dayOf is midnight in Madrid of the day t falls on there.
func dayOf(t time.Time) time.Time {
	y, m, d := t.In(madrid).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, madrid)
}
