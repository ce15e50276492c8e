package sheets

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxBook is an .xlsx workbook read with excelize's row iterator.
//
// The iterator gives each cell's value but not its type, and the type
// matters: a number cell holding 12.125 must be rejected (a tenth of a cent)
// while the text "12.125" is a Spanish 12.125,00 €. So next to excelize's
// iterator a second, lighter pass reads the same worksheet part straight from
// the zip and keeps only the t attribute of each cell (typeScanner below).
// Both stream, so memory stays bounded; the price is reading the worksheet
// XML twice, which the type scanner does in a goroutine of its own a few
// hundred rows ahead (typesAhead), on another core when there is one.
type xlsxBook struct {
	display       string // the name used in messages
	removeOnClose string // a temporary copy to delete on close

	f      *excelize.File
	zr     *zip.ReadCloser
	order  []string          // sheet names in workbook order
	parts  map[string]string // sheet name → worksheet part in the zip
	is1904 bool
}

func openXLSX(filePath, display string) (*xlsxBook, error) {
	zr, err := zip.OpenReader(filePath)
	if err != nil {
		return nil, notWorkbookError(display, "it is damaged or not a zip package ("+err.Error()+")")
	}
	b := &xlsxBook{display: display, zr: zr}
	if err := b.checkPackage(); err != nil {
		zr.Close()
		return nil, err
	}
	if err := b.readWorkbook(); err != nil {
		zr.Close()
		return nil, err
	}
	b.f, err = excelize.OpenFile(filePath, excelize.Options{
		UnzipSizeLimit:    maxUnzipped,
		UnzipXMLSizeLimit: maxInMemoryPart,
	})
	if err != nil {
		zr.Close()
		if errors.Is(err, excelize.ErrWorkbookFileFormat) {
			return nil, legacyError(display, false)
		}
		return nil, notWorkbookError(display, err.Error())
	}
	return b, nil
}

// checkPackage looks at the zip directory: it must hold a workbook, and the
// sizes it declares (which the zip reader enforces while inflating) must stay
// within the limit.
func (b *xlsxBook) checkPackage() error {
	var total uint64
	for _, f := range b.zr.File {
		total += f.UncompressedSize64
		if total > maxUnzipped {
			return tooLargeError(b.display)
		}
	}
	if zipPart(&b.zr.Reader, "xl/workbook.bin") != nil {
		return &fileError{fmt.Sprintf("%s is a binary Excel workbook (.xlsb); save it as .xlsx in Excel (\"Guardar como\" → \"Libro de Excel (*.xlsx)\")", b.display), ErrNotWorkbook}
	}
	if zipPart(&b.zr.Reader, "[Content_Types].xml") == nil {
		return notWorkbookError(b.display, "it is a zip archive but not an Office document")
	}
	return nil
}

// The parts of the package that say where each sheet is.
type (
	xmlRels struct {
		Rels []struct {
			ID     string `xml:"Id,attr"`
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	xmlWorkbook struct {
		Pr struct {
			Date1904 string `xml:"date1904,attr"`
		} `xml:"workbookPr"`
		Sheets []struct {
			Name string `xml:"name,attr"`
			// r:id, in the relationships namespace; matched by local name.
			RID []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
)

// readWorkbook finds the workbook part, its sheets in order and the
// worksheet part of each.
func (b *xlsxBook) readWorkbook() error {
	wbPath := "xl/workbook.xml"
	var root xmlRels
	if err := b.decodePart("_rels/.rels", &root); err == nil {
		for _, r := range root.Rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				wbPath = strings.TrimPrefix(r.Target, "/")
			}
		}
	}
	var wb xmlWorkbook
	if err := b.decodePart(wbPath, &wb); err != nil {
		return notWorkbookError(b.display, "it has no readable workbook part ("+err.Error()+")")
	}
	var rels xmlRels
	relsPath := path.Join(path.Dir(wbPath), "_rels", path.Base(wbPath)+".rels")
	if err := b.decodePart(relsPath, &rels); err != nil {
		return notWorkbookError(b.display, "it has no readable workbook relationships ("+err.Error()+")")
	}
	targets := make(map[string]string, len(rels.Rels))
	for _, r := range rels.Rels {
		t := r.Target
		if strings.HasPrefix(t, "/") {
			t = strings.TrimPrefix(t, "/")
		} else {
			t = path.Join(path.Dir(wbPath), t)
		}
		targets[r.ID] = t
	}
	b.parts = make(map[string]string, len(wb.Sheets))
	for _, s := range wb.Sheets {
		for _, a := range s.RID {
			if a.Name.Local == "id" {
				if t, ok := targets[a.Value]; ok {
					b.order = append(b.order, s.Name)
					b.parts[s.Name] = t
				}
			}
		}
	}
	if len(b.order) == 0 {
		return notWorkbookError(b.display, "it has no worksheets")
	}
	b.is1904 = wb.Pr.Date1904 == "1" || strings.EqualFold(wb.Pr.Date1904, "true")
	return nil
}

// decodePart unmarshals a small part of the package.
func (b *xlsxBook) decodePart(name string, v any) error {
	zf := zipPart(&b.zr.Reader, name)
	if zf == nil {
		return fmt.Errorf("%s is missing", name)
	}
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	// These parts are a few kilobytes; the limit only guards the decoder.
	return xml.NewDecoder(io.LimitReader(rc, maxInMemoryPart)).Decode(v)
}

func (b *xlsxBook) name() string     { return b.display }
func (b *xlsxBook) sheets() []string { return b.order }
func (b *xlsxBook) date1904() bool   { return b.is1904 }

func (b *xlsxBook) close() error {
	err := b.f.Close()
	if cerr := b.zr.Close(); err == nil {
		err = cerr
	}
	if b.removeOnClose != "" {
		if rerr := os.Remove(b.removeOnClose); err == nil {
			err = rerr
		}
	}
	return err
}

func (b *xlsxBook) rows(sheet string) (rowIter, error) {
	part, ok := b.parts[sheet]
	if !ok {
		return nil, fmt.Errorf("%s has no sheet %q", b.display, sheet)
	}
	zf := zipPart(&b.zr.Reader, part)
	if zf == nil {
		return nil, notWorkbookError(b.display, fmt.Sprintf("sheet %q points to %s, which is missing", sheet, part))
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: sheet %q: %w", b.display, sheet, err)
	}
	rows, err := b.f.Rows(sheet)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: sheet %q: %w", b.display, sheet, err)
	}
	return &xlsxRows{sheet: sheet, display: b.display, rows: rows, types: newTypesAhead(newTypeScanner(rc))}, nil
}

// xlsxRows walks excelize's iterator and the type scanner side by side.
type xlsxRows struct {
	sheet, display string
	rows           *excelize.Rows
	types          *typesAhead
	cur            rowData
	e              error
}

var rawValues = excelize.Options{RawCellValue: true}

func (x *xlsxRows) next() bool {
	if x.e != nil {
		return false
	}
	if !x.rows.Next() {
		x.e = x.rows.Error()
		if x.e == nil {
			x.e = x.checkEnd()
		}
		return false
	}
	// excelize numbers rows 1, 2, 3... and yields the rows missing from
	// the file as empty ones, so counting Next calls gives the row number.
	x.cur.num++
	// Raw values: a number as written in the file ("1814.67", "46320")
	// rather than through its display format ("1.814,67 €", "10/25/26").
	vals, err := x.rows.Columns(rawValues)
	if err != nil {
		x.e = fmt.Errorf("%s: sheet %q row %d: %w", x.display, x.sheet, x.cur.num, err)
		return false
	}
	kinds, err := x.types.kinds(x.cur.num)
	if err != nil {
		x.e = fmt.Errorf("%s: sheet %q is damaged at row %d: %w", x.display, x.sheet, x.cur.num, err)
		return false
	}
	x.cur.vals, x.cur.kinds = vals, kinds
	return true
}

// checkEnd makes sure excelize stopped at the end of the worksheet: its
// iterator stops without an error on damaged XML (or a damaged zip stream),
// which would silently cut the import short. The type scanner, reading the
// same part, must find no row after the last one excelize gave.
func (x *xlsxRows) checkEnd() error {
	next, err := x.types.after(x.cur.num)
	switch {
	case err != nil:
		return fmt.Errorf("%s: sheet %q is damaged after row %d: %w", x.display, x.sheet, x.cur.num, err)
	case next > 0:
		return x.damaged(next)
	}
	return nil
}

func (x *xlsxRows) damaged(next int) error {
	return fmt.Errorf("%s: sheet %q is damaged: the rows from %d on cannot be read (open it in Excel and save it again)", x.display, x.sheet, next)
}

func (x *xlsxRows) row() rowData { return x.cur }
func (x *xlsxRows) err() error   { return x.e }

func (x *xlsxRows) close() error {
	err := x.rows.Close()
	if cerr := x.types.close(); err == nil {
		err = cerr
	}
	return err
}

// typeScanner reads a worksheet part and reports, row by row, the type of
// each cell, numbering rows and columns as excelize does: from the r
// attributes when present, else one after the previous.
//
// It scans the bytes for tags rather than going through encoding/xml, which
// keeps the second pass cheap (about a sixth of excelize's time on a
// 100,000-row export, inflating included): in a worksheet the only markup
// inside cell text is escaped, and the scanner skips comments, CDATA
// sections and processing instructions like any XML reader. It does not
// validate the XML; excelize does, and checkEnd notices when it gave up.
type typeScanner struct {
	rc io.ReadCloser
	br *bufio.Reader

	pending     bool // a row has been read ahead and not yet asked for
	num         int  // number of the row read ahead
	buf         []cellKind
	lastRow     int
	inSheetData bool
	finished    bool
	tag         tag
	attrName    []byte
}

func newTypeScanner(rc io.ReadCloser) *typeScanner {
	return &typeScanner{rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}
}

func (s *typeScanner) close() error { return s.rc.Close() }

// kinds returns the cell kinds of row n, or nil when the file has no row n
// (excelize then yields an empty row). Rows must be asked for in order.
func (s *typeScanner) kinds(n int) ([]cellKind, error) {
	for !s.pending || s.num < n {
		if s.finished {
			return nil, nil
		}
		if err := s.advance(); err != nil {
			return nil, err
		}
	}
	if s.num > n {
		return nil, nil
	}
	s.pending = false
	return s.buf, nil
}

// advance reads the next row element and the types of its cells into buf.
func (s *typeScanner) advance() error {
	s.pending = false
	inRow, col := false, 0
	for {
		t := &s.tag
		if err := s.nextTag(t); err == io.EOF {
			s.finished = true
			if s.inSheetData {
				return errors.New("the worksheet ends before its last row does")
			}
			return nil // no sheetData at all: a chart sheet, say
		} else if err != nil {
			return fmt.Errorf("reading cell types: %w", err)
		}
		switch {
		case !t.end && string(t.name) == "sheetData":
			// <sheetData/> is an empty sheet.
			s.inSheetData, s.finished = !t.selfClosing, t.selfClosing
			if s.finished {
				return nil
			}
		case !t.end && string(t.name) == "row":
			inRow, col = true, 0
			s.buf = s.buf[:0]
			s.num = s.lastRow + 1
			if t.r != "" {
				n, err := strconv.Atoi(t.r)
				if err != nil {
					return fmt.Errorf("row number %q: %w", t.r, err)
				}
				s.num = n
			}
			s.lastRow = s.num
			if t.selfClosing {
				s.pending = true
				return nil
			}
		case !t.end && string(t.name) == "c" && inRow:
			col++
			if t.r != "" {
				c, _, err := excelize.CellNameToCoordinates(t.r)
				if err != nil {
					return err
				}
				col = c
			}
			for len(s.buf) < col {
				s.buf = append(s.buf, kindText)
			}
			s.buf[col-1] = kindOf(t.t)
		case t.end && string(t.name) == "row":
			s.pending = true
			return nil
		case t.end && string(t.name) == "sheetData":
			s.finished, s.inSheetData = true, false
			return nil
		}
	}
}

// tag is a start or end tag: its local name (without namespace prefix) and,
// for row and c start tags, their r and t attributes.
type tag struct {
	name        []byte
	end         bool
	selfClosing bool
	r, t        string
}

// nextTag reads up to and including the next start or end tag.
func (s *typeScanner) nextTag(t *tag) error {
	for {
		if err := s.skipPast('<'); err != nil {
			return err
		}
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch c {
		case '!':
			if err := s.skipMarkup(); err != nil {
				return err
			}
			continue
		case '?':
			if err := s.skipPastRun('?', 1); err != nil {
				return err
			}
			continue
		}
		t.end, t.selfClosing, t.r, t.t = c == '/', false, "", ""
		if !t.end {
			s.br.UnreadByte()
		}
		t.name = t.name[:0]
		for {
			c, err := s.br.ReadByte()
			if err != nil {
				return unexpected(err)
			}
			if c == '>' || c == '/' || isXMLSpace(c) {
				s.br.UnreadByte()
				break
			}
			if c == ':' {
				t.name = t.name[:0] // drop the namespace prefix
				continue
			}
			t.name = append(t.name, c)
		}
		wanted := !t.end && (string(t.name) == "row" || string(t.name) == "c")
		return s.readAttrs(t, wanted)
	}
}

// readAttrs reads the attributes of a tag up to its '>', keeping r and t
// when keep is set.
func (s *typeScanner) readAttrs(t *tag, keep bool) error {
	name := s.attrName[:0]
	defer func() { s.attrName = name }()
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch {
		case c == '>':
			return nil
		case c == '/':
			t.selfClosing = true
		case c == '"' || c == '\'':
			val, err := s.br.ReadSlice(c)
			for err == bufio.ErrBufferFull && !keep {
				_, err = s.br.ReadSlice(c) // a long value nobody needs
			}
			if err != nil {
				return unexpected(err)
			}
			if keep {
				switch string(name) {
				case "r":
					t.r = string(val[:len(val)-1])
				case "t":
					t.t = string(val[:len(val)-1])
				}
			}
			name = name[:0]
		case c == '=' || isXMLSpace(c):
		default:
			if c == ':' {
				name = name[:0]
				continue
			}
			t.selfClosing = false
			name = append(name, c)
		}
	}
}

// skipMarkup skips what follows "<!": a comment, a CDATA section or a
// declaration.
func (s *typeScanner) skipMarkup() error {
	head, _ := s.br.Peek(7)
	switch {
	case bytes.HasPrefix(head, []byte("--")):
		s.br.Discard(2)
		return s.skipPastRun('-', 2) // -->
	case bytes.HasPrefix(head, []byte("[CDATA[")):
		s.br.Discard(7)
		return s.skipPastRun(']', 2) // ]]>
	}
	return s.skipPast('>')
}

// skipPast reads up to and including the next byte c.
func (s *typeScanner) skipPast(c byte) error {
	for {
		_, err := s.br.ReadSlice(c)
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// skipPastRun reads up to and including the next '>' that follows at least
// n bytes x: "-->" ends a comment, "]]>" a CDATA section, "?>" a processing
// instruction.
func (s *typeScanner) skipPastRun(x byte, n int) error {
	run := 0
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch {
		case c == x:
			run++
		case c == '>' && run >= n:
			return nil
		default:
			run = 0
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// kindOf maps a cell's t attribute to its kind.
func kindOf(t string) cellKind {
	switch t {
	case "", "n":
		return kindNumber
	case "b":
		return kindBool
	case "d":
		return kindDate
	case "e":
		return kindError
	default: // s, str, inlineStr
		return kindText
	}
}
