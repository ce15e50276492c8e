package sheets

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// csvBook is a ';'-separated export, as Excel writes "CSV (delimitado por
// puntos y coma)" on a Spanish Windows: amounts with a decimal comma, text in
// UTF-8 (optionally with a BOM) or in Windows-1252. Its one sheet is named
// after the file.
type csvBook struct {
	display string
	rc      io.ReadCloser
	used    bool
}

func newCSVBook(display string, rc io.ReadCloser) *csvBook {
	return &csvBook{display: display, rc: rc}
}

func (b *csvBook) name() string     { return b.display }
func (b *csvBook) sheets() []string { return []string{filepath.Base(b.display)} }
func (b *csvBook) date1904() bool   { return false }
func (b *csvBook) close() error     { return b.rc.Close() }

func (b *csvBook) rows(sheet string) (rowIter, error) {
	if sheet != filepath.Base(b.display) {
		return nil, fmt.Errorf("%s has no sheet %q: a CSV file has one sheet", b.display, sheet)
	}
	// The file is streamed once; the one sheet is only ever opened once.
	if b.used {
		return nil, fmt.Errorf("%s: the CSV file was already read", b.display)
	}
	b.used = true
	br := bufio.NewReaderSize(b.rc, 64<<10)
	switch head, _ := br.Peek(3); {
	case string(head) == "\ufeff":
		br.Discard(3)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, &fileError{fmt.Sprintf(`%s is UTF-16 text ("Texto Unicode"), not a CSV export; save it from Excel as "CSV UTF-8 (delimitado por comas)" or as .xlsx`, b.display), ErrNotWorkbook}
	}
	in := &budgetReader{r: br}
	r := csv.NewReader(in)
	r.Comma = ';'
	r.FieldsPerRecord = -1 // rows may be ragged, like a sheet's
	r.LazyQuotes = true
	r.ReuseRecord = true
	c := &csvRows{r: r, in: in, display: b.display}
	c.budget()
	return c, nil
}

// csvRows numbers rows by the line a record starts on, which is the row
// Excel shows for the file unless a quoted field spans several lines.
// Empty lines are skipped by encoding/csv; a line of empty fields (";;;")
// is an empty row.
type csvRows struct {
	r       *csv.Reader
	in      *budgetReader // what r reads, to bound a record's bytes
	display string
	cur     rowData
	e       error
}

// budget lets the reader take one more record of at most maxRowBytes (and
// a little of what encoding/csv reads ahead), within maxUnzipped in all.
func (c *csvRows) budget() {
	c.in.limit = min(c.r.InputOffset()+maxRowBytes+64<<10, maxUnzipped)
}

func (c *csvRows) next() bool {
	if c.e != nil {
		return false
	}
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return false
	}
	if errors.Is(err, errOverBudget) {
		if c.in.limit >= maxUnzipped {
			c.e = &fileError{fmt.Sprintf("%s is larger than %d MB, the most a file may hold here; split the export", c.display, maxUnzipped>>20), ErrTooLarge}
		} else {
			c.e = &fileError{fmt.Sprintf("%s: the row after line %d is longer than %d MB, which no row of an export is: the file is damaged or not a CSV export", c.display, c.cur.num, maxRowBytes>>20), ErrTooLarge}
		}
		return false
	}
	if err != nil {
		c.e = fmt.Errorf("%s: %w", c.display, err)
		return false
	}
	c.budget()
	c.cur.num, _ = c.r.FieldPos(0)
	c.cur.vals = c.cur.vals[:0]
	for _, f := range rec {
		if strings.IndexByte(f, 0) >= 0 {
			// Text never holds NUL; a binary file or UTF-16 text does, and
			// the database refuses it.
			c.e = &fileError{fmt.Sprintf("%s: line %d holds a NUL byte: the file is binary or UTF-16 text, not a CSV export; save it from Excel as \"CSV UTF-8 (delimitado por comas)\"", c.display, c.cur.num), ErrNotWorkbook}
			return false
		}
		c.cur.vals = append(c.cur.vals, decodeText(f))
	}
	c.cur.kinds = nil // every field is text
	return true
}

func (c *csvRows) row() rowData { return c.cur }
func (c *csvRows) err() error   { return c.e }
func (c *csvRows) close() error { return nil }
func (c *csvRows) lastRow() int { return 0 }

// decodeText returns s as UTF-8: unchanged when it already is, else read as
// Windows-1252, the code page of Excel's CSV on a Spanish Windows. A
// Windows-1252 Spanish text is practically never valid UTF-8 (an accented
// letter is one byte above 0x7F, never followed by a continuation byte).
func decodeText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(windows1252(s[i]))
	}
	return b.String()
}

// windows1252 decodes one byte of Windows-1252: ASCII and 0xA0-0xFF are
// Latin-1; 0x80-0x9F hold the euro sign, typographic quotes and a few
// letters (undefined bytes become U+FFFD).
func windows1252(c byte) rune {
	if c < 0x80 || c >= 0xA0 {
		return rune(c)
	}
	return cp1252High[c-0x80]
}

var cp1252High = [32]rune{
	'€', '\ufffd', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\ufffd', 'Ž', '\ufffd',
	'\ufffd', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\ufffd', 'ž', 'Ÿ',
}
