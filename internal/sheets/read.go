package sheets

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Options of a read.
type Options struct {
	// Sheet is the sheet to read; empty means the first sheet that has a
	// header row with the required columns.
	Sheet string
	// Progress, when set, is called with the number of rows read so far
	// every 1000 rows.
	Progress func(rowsRead int)
}

// progressEvery is how many rows pass between two Progress calls.
const progressEvery = 1000

// sheetRead is a sheet positioned just below its header row.
type sheetRead struct {
	b     book
	sheet string
	h     header
	it    rowIter
}

// openSheet finds the sheet to read and its header row.
func openSheet(b book, opts Options, l layout) (*sheetRead, error) {
	if opts.Sheet != "" {
		found := false
		for _, s := range b.sheets() {
			found = found || s == opts.Sheet
		}
		if !found {
			return nil, fmt.Errorf("%s has no sheet %q (its sheets: %s)", b.name(), opts.Sheet, quotedList(b.sheets()))
		}
		s, err := findHeader(b, opts.Sheet, l)
		var he *HeaderError
		if errors.As(err, &he) {
			return nil, fmt.Errorf("%s: %w", b.name(), err)
		}
		return s, err // other errors name the file already
	}
	var best *HeaderError
	for _, sheet := range b.sheets() {
		s, err := findHeader(b, sheet, l)
		if err == nil {
			return s, nil
		}
		var he *HeaderError
		if !errors.As(err, &he) {
			return nil, err
		}
		if best == nil || he.found > best.found {
			best = he
		}
	}
	switch {
	case len(b.sheets()) == 1:
		return nil, fmt.Errorf("%s: %w", b.name(), best)
	case best.Row == 0:
		return nil, fmt.Errorf("%s: %w", b.name(), &HeaderError{Missing: best.Missing,
			msg: fmt.Sprintf("no sheet has a header row with columns %s in its first %d rows (sheets: %s)",
				andList(l.required()), headerSearchRows, quotedList(b.sheets()))})
	default:
		return nil, fmt.Errorf("%s: no sheet has a header with %s; the closest, %w", b.name(), andList(l.required()), best)
	}
}

// findHeader reads the first rows of a sheet looking for its header row.
func findHeader(b book, sheet string, l layout) (*sheetRead, error) {
	it, err := b.rows(sheet)
	if err != nil {
		return nil, err
	}
	f := newHeaderFinder(l)
	var cells []string
	for it.next() {
		r := it.row()
		if r.num > headerSearchRows {
			break
		}
		cells = cells[:0]
		for i := range r.vals {
			cells = append(cells, text(r.get(i)))
		}
		if h, ok := f.try(r.num, cells); ok {
			return &sheetRead{b: b, sheet: sheet, h: h, it: it}, nil
		}
	}
	err = it.err()
	if cerr := it.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return nil, f.err(sheet)
}

func (s *sheetRead) close() error { return s.it.close() }

// where names the sheet in messages: the file, and the sheet of a workbook.
func (s *sheetRead) where() string {
	if _, csv := s.b.(*csvBook); csv {
		return s.b.name()
	}
	return fmt.Sprintf("%s: sheet %q", s.b.name(), s.sheet)
}

// each calls handle for every row below the header that has something in
// one of the columns read. Empty rows, and rows that repeat the header,
// count as read and skipped when a row with data follows them; the empty
// rows at the end of a sheet (often just formatting) are not rows of the
// export.
//
// A sheet with more than maxRows rows below its header is refused: before
// the first row when its dimension says so, else at the row past the limit.
func (s *sheetRead) each(opts Options, rep *Report, handle func(r rowData) error) error {
	if last := s.it.lastRow(); last-s.h.row > maxRows {
		return tooManyRowsError(s.where(), s.h.row, last)
	}
	empty, below := 0, 0
	for s.it.next() {
		if below++; below > maxRows {
			return tooManyRowsError(s.where(), s.h.row, 0)
		}
		r := s.it.row()
		if s.blank(r) {
			empty++
			continue
		}
		if s.headerAgain(r) {
			// Some exports repeat the header on every printed page.
			empty++
			continue
		}
		before := rep.RowsRead
		rep.RowsRead += empty + 1
		rep.Skipped += empty
		empty = 0
		if err := handle(r); err != nil {
			return err
		}
		if opts.Progress != nil && rep.RowsRead/progressEvery > before/progressEvery {
			opts.Progress(rep.RowsRead)
		}
	}
	if err := s.it.err(); err != nil {
		return err
	}
	return nil
}

// blank reports whether every column the reader knows is empty in r.
func (s *sheetRead) blank(r rowData) bool {
	for _, i := range s.h.cols {
		if v, _ := r.get(i); !isBlank(v) {
			return false
		}
	}
	return true
}

// headerAgain reports whether r repeats the header row.
func (s *sheetRead) headerAgain(r rowData) bool {
	for _, i := range s.h.cols {
		if v, _ := r.get(i); headerKey(v) != headerKey(s.h.texts[i]) {
			return false
		}
	}
	return true
}

// isTotals reports whether r is a totals row: some cell reads "Total" (or
// "TOTAL GENERAL", "Suma total"...) and the cells that identify a data row
// (the invoice, the CUPS...) are empty or hold that label.
func isTotals(r rowData, keys ...string) bool {
	for _, k := range keys {
		if k != "" && !hasTotalWord(k) {
			return false
		}
	}
	for i := range r.vals {
		if v, k := r.get(i); k == kindText && hasTotalWord(v) {
			return true
		}
	}
	return false
}

// isBlank reports whether v has nothing but whitespace.
func isBlank(v string) bool {
	for _, r := range v {
		if !unicode.IsSpace(r) && !strings.ContainsRune("\u200b\u200c\u200d\u2060\ufeff", r) {
			return false
		}
	}
	return true
}

// problems collects what is wrong with a row.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// Longest texts accepted: a cell beyond them is damage or mischief, never a
// customer or an invoice number.
const (
	maxInvoiceLen  = 40
	maxCustomerLen = 200
	maxMandateLen  = 35 // a SEPA mandate reference
)

// tooLong reports a text longer than max characters and says whether it was.
func (p *problems) tooLong(field, v string, max int) bool {
	if n := utf8.RuneCountInString(v); n > max {
		p.add("%s is %d characters long (at most %d)", field, n, max)
		return true
	}
	return false
}

// clip shortens a text to name a rejected row by it.
func clip(v string, max int) string {
	if utf8.RuneCountInString(v) <= max {
		return v
	}
	return string([]rune(v)[:max]) + "…"
}
func (p *problems) addErr(prefix string, err error) {
	if prefix != "" {
		*p = append(*p, prefix+": "+err.Error())
		return
	}
	*p = append(*p, err.Error())
}
func (p problems) String() string { return strings.Join(p, "; ") }

// finish closes the sheet and the book, keeping the first error.
func finish(s *sheetRead, b book, err *error) {
	if s != nil {
		if cerr := s.close(); *err == nil && cerr != nil {
			*err = fmt.Errorf("%s: %w", b.name(), cerr)
		}
	}
	if cerr := b.close(); *err == nil && cerr != nil {
		*err = fmt.Errorf("%s: %w", b.name(), cerr)
	}
}

func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
