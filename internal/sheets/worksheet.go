package sheets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// maxCellChars is the most characters a cell holds in Excel; the scanner
// keeps no more of a longer text.
const maxCellChars = 32767

// sheetScanner reads a worksheet part once, row by row, giving the raw value
// of each cell (a number as written in the file, "1814.67", not through its
// display format) and its type. The type matters: a number cell holding
// 12.125 must be rejected (a tenth of a cent) while the text "12.125" is a
// Spanish 12.125,00 €.
//
// It scans the bytes for tags rather than going through encoding/xml: in a
// worksheet the markup inside cell text is escaped, so a tag scanner that
// skips comments, CDATA sections and processing instructions like any XML
// reader finds every row and cell, at a fraction of the cost of a general
// decoder. Values come out as excelize gives them with RawCellValue (shared
// and inline strings resolved, _xHHHH_ escapes decoded, a cell with neither
// a value nor a formula left out), which the tests check against excelize.
//
// On the way it enforces the limits of open.go: the bytes of each row,
// counting the shared texts its cells show; the nesting depth; the columns
// of a row; rows numbered in order and within Excel's last row. What it does
// not understand (a file cut short, a cell never closed, a malformed
// comment) is an error naming the row, never a short read.
type sheetScanner struct {
	*xmlScan
	rc     io.ReadCloser
	shared *sharedTexts

	num         int // number of the row just read
	vals        []string
	kinds       []cellKind
	lastRow     int
	inRow       bool
	inSheetData bool
	finished    bool
	dimension   string // the ref of the dimension element: "A1:N1000"

	v, inline []byte // scratch for the cell being read
}

func newSheetScanner(rc io.ReadCloser, shared *sharedTexts) *sheetScanner {
	if shared == nil {
		shared = &sharedTexts{}
	}
	return &sheetScanner{xmlScan: newXMLScan(rc, maxRowBytes), rc: rc, shared: shared}
}

func (s *sheetScanner) close() error { return s.rc.Close() }

// declaredLastRow is the last row of the sheet's dimension element, or 0
// when it has none (yet).
func (s *sheetScanner) declaredLastRow() int {
	ref := s.dimension[strings.LastIndexByte(s.dimension, ':')+1:]
	if _, row, err := excelize.CellNameToCoordinates(ref); err == nil {
		return row
	}
	return 0
}

// damage is XML the scanner cannot read, or rows out of Excel's order or
// bounds: its message names the row.
type damage struct{ msg string }

func (d *damage) Error() string { return d.msg }

func damagedf(format string, args ...any) error { return &damage{fmt.Sprintf(format, args...)} }

// next reads the next row element of the sheet: false at the end of the
// sheet data (or when the part has none, as a chart sheet).
func (s *sheetScanner) next() (bool, error) {
	if s.finished {
		return false, nil
	}
	for {
		t := &s.tag
		if err := s.nextTag(t); err == io.EOF {
			s.finished = true
			if s.inSheetData {
				return false, fmt.Errorf("the worksheet ends before its last row does (after row %d)", s.lastRow)
			}
			return false, nil // no sheetData at all: a chart sheet, say
		} else if err != nil {
			return false, s.readError(err)
		}
		switch name := string(t.name); {
		case !t.end && name == "dimension":
			s.dimension = t.ref
		case !t.end && name == "sheetData":
			// <sheetData/> is an empty sheet.
			s.inSheetData, s.finished = !t.selfClosing, t.selfClosing
			if s.finished {
				return false, nil
			}
		case !t.end && name == "row" && s.inSheetData:
			if err := s.readRow(t); err != nil {
				return false, s.readError(err)
			}
			s.inRow = false
			s.budget(maxRowBytes)
			return true, nil
		case t.end && name == "sheetData":
			s.finished, s.inSheetData = true, false
			return false, s.drain()
		}
	}
}

// drain reads the rest of the part, which makes the zip reader check it
// against its checksum and declared size.
func (s *sheetScanner) drain() error {
	s.in.limit = maxUnzipped
	if _, err := io.Copy(io.Discard, s.br); err != nil {
		return fmt.Errorf("after row %d: %w", s.lastRow, err)
	}
	return nil
}

// readRow reads the cells of the row whose start tag is t.
func (s *sheetScanner) readRow(t *tag) error {
	num := s.lastRow + 1
	if t.r != "" {
		n, err := strconv.Atoi(t.r)
		if err != nil {
			return damagedf("row %d: row number %q", s.lastRow+1, t.r)
		}
		num = n
	}
	switch {
	case num <= s.lastRow:
		return damagedf("row %d comes after row %d", num, s.lastRow)
	case num > excelize.TotalRows:
		return damagedf("row %d is beyond Excel's last row, %d", num, excelize.TotalRows)
	}
	s.lastRow, s.num, s.inRow = num, num, true
	s.vals, s.kinds = s.vals[:0], s.kinds[:0]
	if t.selfClosing {
		return nil
	}
	col := 0
	for {
		if err := s.nextTag(t); err != nil {
			return unexpected(err)
		}
		switch name := string(t.name); {
		case !t.end && name == "c":
			col++
			if t.r != "" {
				c, _, err := excelize.CellNameToCoordinates(t.r)
				if err != nil {
					return damagedf("row %d: %v", s.num, err)
				}
				col = c
			}
			if col > excelize.MaxColumns {
				return damagedf("row %d has more than %d columns, Excel's last column", s.num, excelize.MaxColumns)
			}
			for len(s.kinds) < col {
				s.kinds = append(s.kinds, kindText)
			}
			s.kinds[col-1] = kindOf(t.t)
			if t.selfClosing {
				continue
			}
			val, formula, err := s.readCell(t.t)
			if err != nil {
				return err
			}
			if val == "" && !formula {
				continue
			}
			for len(s.vals) < col {
				s.vals = append(s.vals, "")
			}
			// Cells come in column order; one written out of order still
			// goes to its column.
			s.vals[col-1] = val
		case t.end && name == "row":
			return nil
		case name == "row" || name == "sheetData":
			return damagedf("row %d is not closed", s.num)
		}
	}
}

// readCell reads the content of a c element up to its end tag: its value
// <v>, its inline string <is> and whether it has a formula <f>. typ is its
// t attribute.
func (s *sheetScanner) readCell(typ string) (val string, formula bool, err error) {
	var (
		hasIS bool
		t     = &s.tag
	)
	s.v, s.inline = s.v[:0], s.inline[:0]
	for {
		if err := s.nextTag(t); err != nil {
			return "", false, unexpected(err)
		}
		switch name := string(t.name); {
		case t.end && name == "c":
			val, err := s.cellValue(typ, hasIS)
			return val, formula, err
		case name == "row" || name == "sheetData" || (!t.end && name == "c"):
			return "", false, damagedf("row %d: a cell is not closed", s.num)
		case !t.end && name == "f":
			formula = true
			if t.selfClosing {
				continue
			}
			if _, err = s.readElementText("f", nil, false); err != nil {
				return "", false, err
			}
		case t.end || t.selfClosing:
		case name == "v":
			if s.v, err = s.readElementText("v", s.v[:0], true); err != nil {
				return "", false, err
			}
		case name == "is":
			hasIS = true
			if s.inline, err = s.readRichText("is", s.inline[:0]); err != nil {
				return "", false, err
			}
		}
	}
}

// cellValue is the raw value of the cell just read, as excelize gives it.
func (s *sheetScanner) cellValue(typ string, hasIS bool) (string, error) {
	switch typ {
	case "s":
		if len(s.v) == 0 {
			return "", nil
		}
		i, _ := strconv.Atoi(string(bytes.TrimSpace(s.v)))
		if i < 0 || i >= s.shared.len() {
			return "", nil // excelize drops a reference to no shared string
		}
		// The text counts in the row's bytes as if it were written there.
		if s.in.limit -= int64(s.shared.textLen(i)); s.pos() > s.in.limit {
			return "", errOverBudget
		}
		return s.shared.get(i), nil
	case "inlineStr":
		if hasIS {
			return unescapeBSTR(string(s.inline)), nil
		}
	}
	return string(s.v), nil
}

// readError words an error met while reading the part, naming the row.
func (s *sheetScanner) readError(err error) error {
	switch {
	case errors.Is(err, errOverBudget):
		return &fileError{fmt.Sprintf("row %d is larger than %d MB, counting the shared texts it shows; no row of an export is: the file is damaged or not an export",
			s.rowNum(), maxRowBytes>>20), ErrTooLarge}
	case errors.As(err, new(*damage)):
		return err
	}
	return fmt.Errorf("row %d: %w", s.rowNum(), err)
}

// rowNum is the row being read, or the next one between rows.
func (s *sheetScanner) rowNum() int {
	if s.inRow {
		return s.num
	}
	return s.lastRow + 1
}

// readElementText appends to buf the text of the element name, whose start
// tag has just been read (or only reads it, unless keep), and reads its end
// tag.
func (s *xmlScan) readElementText(name string, buf []byte, keep bool) ([]byte, error) {
	buf, err := s.readText(buf, keep)
	if err != nil {
		return nil, err
	}
	t := &s.tag
	if err := s.nextTag(t); err != nil {
		return nil, unexpected(err)
	}
	if !t.end || string(t.name) != name {
		return nil, fmt.Errorf("<%s> holds <%s>", name, t.name)
	}
	return buf, nil
}

// readRichText appends to buf the text of a string item (an <is> or an
// <si>): its <t>, or the <t> of its runs <r>, but not its phonetic runs
// <rPh>. It reads up to the end tag of the element name.
func (s *xmlScan) readRichText(name string, buf []byte) ([]byte, error) {
	t := &s.tag
	phonetic := 0
	for {
		if err := s.nextTag(t); err != nil {
			return nil, unexpected(err)
		}
		switch tn := string(t.name); {
		case t.end && tn == name:
			return buf, nil
		case tn == "row" || tn == "sheetData" || tn == "c" || tn == "sst" || tn == "si" || tn == "is":
			return nil, fmt.Errorf("<%s> is not closed", name)
		case tn == "rPh" && !t.selfClosing:
			if t.end {
				phonetic--
			} else {
				phonetic++
			}
		case !t.end && tn == "t" && !t.selfClosing:
			var err error
			if phonetic > 0 {
				_, err = s.readElementText("t", nil, false)
			} else {
				buf, err = s.readElementText("t", buf, true)
			}
			if err != nil {
				return nil, err
			}
		}
	}
}

// readText appends to buf the character data up to the next tag (left
// unread), with entities decoded, line ends normalised as XML does, CDATA
// sections taken as they are and comments skipped, keeping at most
// maxCellChars characters. Unless keep, it reads the text and keeps nothing.
func (s *xmlScan) readText(buf []byte, keep bool) ([]byte, error) {
	start, raw := len(buf), len(buf) // raw: where the text not yet decoded starts
	add := func(p []byte) {
		if keep {
			buf = appendCapped(buf, start, p)
		}
	}
	for {
		chunk, err := s.br.ReadSlice('<')
		if err == bufio.ErrBufferFull {
			add(chunk)
			continue
		}
		if err != nil {
			return nil, unexpected(err)
		}
		add(chunk[:len(chunk)-1])
		s.br.UnreadByte()
		head, _ := s.br.Peek(9)
		switch {
		case bytes.HasPrefix(head, []byte("<![CDATA[")):
			s.br.Discard(9)
			if buf, err = decodeXMLText(buf, raw); err != nil {
				return nil, err
			}
			if err := s.readCDATA(add); err != nil {
				return nil, err
			}
			raw = len(buf)
		case bytes.HasPrefix(head, []byte("<!--")):
			s.br.Discard(4)
			if err := s.skipComment(); err != nil {
				return nil, err
			}
		default:
			if buf, err = decodeXMLText(buf, raw); err != nil {
				return nil, err
			}
			return trimChars(buf, start), nil
		}
	}
}

// appendCapped appends p to the text that starts at buf[start], keeping
// at most what maxCellChars characters can take.
func appendCapped(buf []byte, start int, p []byte) []byte {
	room := maxCellChars*utf8.UTFMax - (len(buf) - start)
	if room <= 0 {
		return buf
	}
	if len(p) > room {
		p = p[:room]
	}
	return append(buf, p...)
}

// readCDATA reads a CDATA section up to and including its "]]>", giving
// its text to add with line ends normalised.
func (s *xmlScan) readCDATA(add func([]byte)) error {
	var pending []byte // "]" or "]]" that may start the end
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch {
		case c == ']' && len(pending) < 2:
			pending = append(pending, c)
			continue
		case c == '>' && len(pending) == 2:
			return nil
		case c == ']': // "]]]": the first is text
			add(pending[:1])
			continue
		}
		add(pending)
		pending = pending[:0]
		switch {
		case c == '\r':
			if next, _ := s.br.Peek(1); len(next) == 1 && next[0] == '\n' {
				s.br.Discard(1)
			}
			add([]byte{'\n'})
		default:
			add([]byte{c})
		}
	}
}

// skipComment reads up to and including the "-->" that ends a comment;
// "--" anywhere else in it is malformed XML.
func (s *xmlScan) skipComment() error {
	dashes := 0
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch {
		case c == '-':
			dashes++
		case dashes >= 2 && c == '>':
			return nil
		case dashes >= 2:
			return errors.New(`a comment holds "--"`)
		default:
			dashes = 0
		}
	}
}

// decodeXMLText decodes in place the entities and line ends of buf[from:].
func decodeXMLText(buf []byte, from int) ([]byte, error) {
	text := buf[from:]
	if bytes.IndexByte(text, '&') < 0 && bytes.IndexByte(text, '\r') < 0 {
		return buf, nil
	}
	out := text[:0]
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\r':
			out = append(out, '\n')
			if i+1 < len(text) && text[i+1] == '\n' {
				i++
			}
		case '&':
			end := bytes.IndexByte(text[i:], ';')
			if end < 0 {
				if len(text) >= maxCellChars*utf8.UTFMax {
					i = len(text) // an entity cut where the text was cut
					continue
				}
				return nil, errors.New("an unterminated entity")
			}
			r, ok := entity(text[i+1 : i+end])
			if !ok {
				return nil, fmt.Errorf("unknown entity &%.20s;", text[i+1:i+end])
			}
			// The decoded rune is never longer than its entity.
			out = utf8.AppendRune(out, r)
			i += end
		default:
			out = append(out, c)
		}
	}
	return buf[:from+len(out)], nil
}

// trimChars keeps at most maxCellChars characters of buf[start:].
func trimChars(buf []byte, start int) []byte {
	text := buf[start:]
	if len(text) <= maxCellChars {
		return buf
	}
	n, i := 0, 0
	for i < len(text) && n < maxCellChars {
		_, size := utf8.DecodeRune(text[i:])
		i += size
		n++
	}
	return buf[:start+i]
}

// entity is the character an XML entity or character reference stands for.
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	var (
		n   uint64
		err error
	)
	if name[1] == 'x' {
		n, err = strconv.ParseUint(string(name[2:]), 16, 32)
	} else {
		n, err = strconv.ParseUint(string(name[1:]), 10, 32)
	}
	if err != nil || n > utf8.MaxRune {
		return 0, false
	}
	return rune(n), true
}

// unescapeBSTR decodes the _xHHHH_ escapes Excel writes for characters XML
// cannot hold (_x000D_ for a carriage return; _x005F_ is an underscore), as
// excelize does: an escape of a surrogate half is dropped.
func unescapeBSTR(s string) string {
	i := indexBSTR(s, 0)
	if i < 0 {
		return s
	}
	out := make([]byte, 0, len(s))
	last := 0
	for i >= 0 {
		out = append(out, s[last:i]...)
		n, _ := strconv.ParseUint(s[i+2:i+6], 16, 32)
		switch {
		case n == 0x5F:
			out = append(out, '_')
		case n >= 0xD800 && n <= 0xDFFF:
		default:
			out = utf8.AppendRune(out, rune(n))
		}
		last = i + 7
		i = indexBSTR(s, last)
	}
	return string(append(out, s[last:]...))
}

// indexBSTR is the index of the first _xHHHH_ escape in s from from on, or -1.
func indexBSTR(s string, from int) int {
	for {
		i := strings.Index(s[from:], "_x")
		if i < 0 {
			return -1
		}
		i += from
		if i+7 <= len(s) && s[i+6] == '_' && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
			return i
		}
		from = i + 1
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
