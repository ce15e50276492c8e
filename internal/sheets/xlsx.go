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
	"strings"
)

// xlsxBook is an .xlsx workbook read straight from its zip package: the
// workbook part says which sheets there are and where, the shared strings
// are read once, and each worksheet is streamed by a sheetScanner (see
// worksheet.go) in one pass that gives each cell's value and type and
// enforces the limits of open.go on every row.
type xlsxBook struct {
	display       string // the name used in messages
	removeOnClose string // a temporary copy to delete on close

	zr     *zip.ReadCloser
	order  []string          // sheet names in workbook order
	parts  map[string]string // sheet name → worksheet part in the zip
	is1904 bool
	shared sharedTexts
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
	if err := b.readSharedStrings(); err != nil {
		zr.Close()
		return nil, err
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

// sharedPart is where Excel, LibreOffice and excelize keep the shared
// strings, whatever the relationships say.
const sharedPart = "xl/sharedStrings.xml"

// sharedTexts are the shared strings of a workbook, one after the other in
// one buffer: a workbook may hold millions, which as separate strings would
// take several times their size.
type sharedTexts struct {
	text []byte
	end  []uint32 // where each text ends in text
}

func (st *sharedTexts) len() int { return len(st.end) }

// textLen is the length in bytes of text i; i is in range.
func (st *sharedTexts) textLen(i int) int {
	if i == 0 {
		return int(st.end[0])
	}
	return int(st.end[i] - st.end[i-1])
}

// get returns text i; i is in range.
func (st *sharedTexts) get(i int) string {
	start := uint32(0)
	if i > 0 {
		start = st.end[i-1]
	}
	return string(st.text[start:st.end[i]])
}

// readSharedStrings reads the shared strings part within the limits (the
// number of texts, their total, the size and nesting of each).
func (b *xlsxBook) readSharedStrings() error {
	zf := zipPart(&b.zr.Reader, sharedPart)
	if zf == nil {
		return nil
	}
	rc, err := zf.Open()
	if err != nil {
		return notWorkbookError(b.display, "its shared texts cannot be read ("+err.Error()+")")
	}
	defer rc.Close()
	s := newXMLScan(rc, maxSharedString)
	st := &b.shared
	var buf []byte
	for {
		t := &s.tag
		err := s.nextTag(t)
		if err == io.EOF {
			return nil
		}
		n := st.len() + 1 // the text being read, 1-based
		if err == nil && !t.end && string(t.name) == "si" && t.depth == 2 {
			// The texts are the si elements of the root.
			switch {
			case st.len() == maxSharedStrings:
				return &fileError{fmt.Sprintf("%s holds more than %d shared texts, the most a workbook may hold here; split the export",
					b.display, maxSharedStrings), ErrTooLarge}
			case !t.selfClosing:
				buf, err = s.readRichText("si", buf[:0])
			default:
				buf = buf[:0]
			}
			if err == nil {
				st.text = append(st.text, unescapeBSTR(string(buf))...)
				if len(st.text) > maxSharedBytes {
					return &fileError{fmt.Sprintf("%s: its shared texts take more than %d MB, the most a workbook may hold here; split the export",
						b.display, maxSharedBytes>>20), ErrTooLarge}
				}
				st.end = append(st.end, uint32(len(st.text)))
				s.budget(maxSharedString)
			}
		}
		switch {
		case errors.Is(err, errOverBudget):
			return &fileError{fmt.Sprintf("%s: its shared text number %d is larger than %d KB, more than an Excel cell holds; the file is damaged or was not written by a spreadsheet program",
				b.display, n, maxSharedString>>10), ErrTooLarge}
		case err != nil:
			return fmt.Errorf("%s: its shared texts are damaged at text number %d: %w", b.display, n, err)
		}
	}
}

func (b *xlsxBook) name() string     { return b.display }
func (b *xlsxBook) sheets() []string { return b.order }
func (b *xlsxBook) date1904() bool   { return b.is1904 }

func (b *xlsxBook) close() error {
	err := b.zr.Close()
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
	return &xlsxRows{sheet: sheet, display: b.display, s: newSheetScanner(rc, &b.shared)}, nil
}

// xlsxRows gives the rows the scanner reads, and an empty row for each row
// number the file skips.
type xlsxRows struct {
	sheet, display string
	s              *sheetScanner
	pending        bool // the scanner holds a row not yet given
	cur            rowData
	e              error
}

func (x *xlsxRows) next() bool {
	if x.e != nil {
		return false
	}
	if !x.pending {
		ok, err := x.s.next()
		if err != nil {
			x.e = x.scanError(err)
			return false
		}
		if !ok {
			return false
		}
		x.pending = true
	}
	x.cur.num++
	if x.s.num > x.cur.num {
		x.cur.vals, x.cur.kinds = nil, nil // a row missing from the file
		return true
	}
	x.pending = false
	x.cur.vals, x.cur.kinds = x.s.vals, x.s.kinds
	return true
}

// scanError words an error of the scanner, which names the row.
func (x *xlsxRows) scanError(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%s: sheet %q: %w", x.display, x.sheet, err)
	}
	return fmt.Errorf("%s: sheet %q is damaged: %w (open it in Excel and save it again)", x.display, x.sheet, err)
}

func (x *xlsxRows) row() rowData { return x.cur }
func (x *xlsxRows) err() error   { return x.e }
func (x *xlsxRows) lastRow() int { return x.s.declaredLastRow() }
func (x *xlsxRows) close() error { return x.s.close() }

// xmlScan reads the tags of an XML part, streaming, and stops on a
// budget of bytes that its user sets (see budget) and on elements nested
// beyond maxDepth.
type xmlScan struct {
	in  *budgetReader
	br  *bufio.Reader
	tag tag

	depth    int
	attrName []byte
}

func newXMLScan(r io.Reader, budget int64) *xmlScan {
	in := &budgetReader{r: r, limit: budget}
	return &xmlScan{in: in, br: bufio.NewReaderSize(in, 64<<10)}
}

// pos is the offset in the part of the next byte to read.
func (s *xmlScan) pos() int64 { return s.in.n - int64(s.br.Buffered()) }

// budget lets the scan read n more bytes from here.
func (s *xmlScan) budget(n int64) { s.in.limit = s.pos() + n }

// budgetReader fails once more than limit bytes were read through it: a
// scan stops early on a row or text that never ends.
type budgetReader struct {
	r     io.Reader
	n     int64 // bytes read so far
	limit int64
}

var (
	errOverBudget = errors.New("over the budget of bytes")
	errTooDeep    = fmt.Errorf("XML elements nest more than %d deep", maxDepth)
)

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errOverBudget
	}
	if rest := b.limit - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// tag is a start or end tag: its local name (without namespace prefix), its
// depth (1 for the root) and, for row, c and dimension start tags, their r,
// t and ref attributes.
type tag struct {
	name        []byte
	end         bool
	selfClosing bool
	depth       int
	r, t, ref   string
}

// nextTag reads up to and including the next start or end tag.
func (s *xmlScan) nextTag(t *tag) error {
	for {
		if err := s.skipText(); err != nil {
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
		t.end, t.selfClosing, t.r, t.t, t.ref = c == '/', false, "", "", ""
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
		name := string(t.name)
		wanted := !t.end && (name == "row" || name == "c" || name == "dimension")
		if err := s.readAttrs(t, wanted); err != nil {
			return err
		}
		switch {
		case t.end:
			t.depth = s.depth
			s.depth--
		case t.selfClosing:
			t.depth = s.depth + 1
		default:
			s.depth++
			t.depth = s.depth
			if s.depth > maxDepth {
				return errTooDeep
			}
		}
		return nil
	}
}

// skipText reads up to and including the next '<'.
func (s *xmlScan) skipText() error { return s.skipPast('<') }

// readAttrs reads the attributes of a tag up to its '>', keeping r, t and
// ref when keep is set.
func (s *xmlScan) readAttrs(t *tag, keep bool) error {
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
				case "ref":
					t.ref = string(val[:len(val)-1])
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
func (s *xmlScan) skipMarkup() error {
	head, _ := s.br.Peek(7)
	switch {
	case bytes.HasPrefix(head, []byte("--")):
		s.br.Discard(2)
		return s.skipComment()
	case bytes.HasPrefix(head, []byte("[CDATA[")):
		s.br.Discard(7)
		return s.skipPastRun(']', 2) // ]]>
	}
	return s.skipPast('>')
}

// skipPast reads up to and including the next byte c.
func (s *xmlScan) skipPast(c byte) error {
	for {
		_, err := s.br.ReadSlice(c)
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// skipPastRun reads up to and including the next '>' that follows at least
// n bytes x: "]]>" ends a CDATA section, "?>" a processing instruction.
func (s *xmlScan) skipPastRun(x byte, n int) error {
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
