package sheets

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
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
// hundred rows ahead (typesAhead), on another core when there is one. The
// scanner enforces the limits of open.go on each row before excelize reads
// it, so excelize only ever reads XML found within them.
type xlsxBook struct {
	display       string // the name used in messages
	removeOnClose string // a temporary copy to delete on close

	f        *excelize.File
	excel    string // the copy of the package excelize reads (see excelizeCopy)
	zr       *zip.ReadCloser
	wbPath   string            // the workbook part
	relsPath string            // its relationships
	order    []string          // sheet names in workbook order
	parts    map[string]string // sheet name → worksheet part in the zip
	is1904   bool
	// shared is the text work (see maxTextWork) of each shared text.
	shared []uint32
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
	if b.excel, err = b.excelizeCopy(); err != nil {
		zr.Close()
		return nil, err
	}
	b.f, err = excelize.OpenFile(b.excel, excelize.Options{
		UnzipSizeLimit:    maxUnzipped,
		UnzipXMLSizeLimit: maxInMemoryPart,
	})
	if err != nil {
		zr.Close()
		os.Remove(b.excel)
		if errors.Is(err, excelize.ErrWorkbookFileFormat) {
			return nil, legacyError(display, false)
		}
		// The parts were inflated to open it: one did not match its
		// checksum or its declared size, or did not inflate.
		return nil, notWorkbookError(display, "it is damaged ("+err.Error()+")")
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

// excelizeCopy writes the copy of the package that excelize opens, with only
// the parts a read needs: content types, relationships, workbook, worksheets
// and shared strings. excelize parses the styles, the theme and the
// calculation chain whole when it opens a workbook, and a few kilobytes of
// those can unpack to gigabytes of structs; the readers need none of them
// (values are read raw, dates from their serial number). The parts are
// copied still compressed.
func (b *xlsxBook) excelizeCopy() (string, error) {
	keep := map[string]bool{
		"[content_types].xml":       true,
		"_rels/.rels":               true,
		strings.ToLower(b.wbPath):   true,
		strings.ToLower(b.relsPath): true,
		strings.ToLower(sharedPart): true,
	}
	for _, p := range b.parts {
		keep[strings.ToLower(p)] = true
	}
	tmp, err := os.CreateTemp("", "sheets-*.xlsx")
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", err
	}
	zw := zip.NewWriter(tmp)
	var inMemory uint64
	for _, f := range b.zr.File {
		name := strings.ToLower(strings.ReplaceAll(f.Name, `\`, "/"))
		if !keep[name] {
			continue
		}
		// A part named twice: keep the first, the one zipPart finds and
		// the scanners check.
		keep[name] = false
		// excelize keeps the parts in memory, except the shared strings and
		// the worksheets named xl/worksheets/sheet… above maxInMemoryPart.
		streamed := name == strings.ToLower(sharedPart) || strings.HasPrefix(name, "xl/worksheets/sheet")
		size := f.UncompressedSize64
		if !streamed && size > maxInMemoryPart {
			return fail(&fileError{fmt.Sprintf("%s: its part %s unpacks to %d MB, more than the %d MB such a part may take here; open the file in Excel and save it again",
				b.display, f.Name, size>>20, maxInMemoryPart>>20), ErrTooLarge})
		}
		if !streamed || size <= maxInMemoryPart {
			if inMemory += size; inMemory > maxInMemoryParts {
				return fail(&fileError{fmt.Sprintf("%s: its workbook, relationships and small worksheets unpack to more than %d MB, the most read into memory here; split the export",
					b.display, maxInMemoryParts>>20), ErrTooLarge})
			}
		}
		if err := zw.Copy(f); err != nil {
			return fail(notWorkbookError(b.display, "it is damaged ("+err.Error()+")"))
		}
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
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
	b.wbPath, b.relsPath = wbPath, relsPath
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

// sharedPart is where excelize looks for the shared strings, whatever the
// relationships say.
const sharedPart = "xl/sharedStrings.xml"

// readSharedStrings checks the shared strings part against the limits (the
// number of texts, the size and nesting of each) and notes the text work of
// each, which the type scanner charges to every cell that shows it.
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
	var start int64
	inItem := false
	for {
		t := &s.tag
		err := s.nextTag(t)
		if err == io.EOF {
			return nil
		}
		n := len(b.shared) + 1 // the text being read, 1-based
		switch {
		case errors.Is(err, errOverBudget):
			return &fileError{fmt.Sprintf("%s: its shared text number %d is larger than %d KB, more than an Excel cell holds; the file is damaged or was not written by a spreadsheet program",
				b.display, n, maxSharedString>>10), ErrTooLarge}
		case err != nil:
			return fmt.Errorf("%s: its shared texts are damaged at text number %d: %w", b.display, n, err)
		}
		// The texts are the si elements of the root; excelize reads an si
		// inside another as part of it.
		if string(t.name) != "si" || t.depth != 2 {
			continue
		}
		switch {
		case !t.end && len(b.shared) == maxSharedStrings:
			return &fileError{fmt.Sprintf("%s holds more than %d shared texts, the most a workbook may hold here; split the export",
				b.display, maxSharedStrings), ErrTooLarge}
		case !t.end && t.selfClosing:
			b.shared = append(b.shared, 0)
			s.budget(maxSharedString)
		case !t.end:
			inItem, start = true, s.pos()
			s.escapes, s.countEscapes = 0, true
		case inItem:
			b.shared = append(b.shared, uint32(min(textWork(s.pos()-start, s.escapes), math.MaxUint32)))
			inItem, s.countEscapes = false, false
			s.budget(maxSharedString)
		}
	}
}

// textWork is the work of turning a text into a cell value (see
// maxTextWork).
func textWork(bytes int64, escapes int) int64 { return bytes * (1 + int64(escapes)) }

func (b *xlsxBook) name() string     { return b.display }
func (b *xlsxBook) sheets() []string { return b.order }
func (b *xlsxBook) date1904() bool   { return b.is1904 }

func (b *xlsxBook) close() error {
	err := b.f.Close()
	if cerr := b.zr.Close(); err == nil {
		err = cerr
	}
	for _, tmp := range []string{b.excel, b.removeOnClose} {
		if tmp == "" {
			continue
		}
		if rerr := os.Remove(tmp); err == nil {
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
	return &xlsxRows{sheet: sheet, display: b.display, rows: rows, types: newTypesAhead(newTypeScanner(rc, b.shared))}, nil
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
	// excelize reads the start of the following row with each row, so the
	// scanner must have read past the row after the next before excelize
	// reads on: excelize then never reads what the scanner has not found
	// within the limits.
	if err := x.types.readAhead(x.cur.num + 1); err != nil {
		x.e = x.scanError(err)
		return false
	}
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			x.e = fmt.Errorf("%s: sheet %q after row %d: %w", x.display, x.sheet, x.cur.num, err)
		} else {
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
		x.e = x.scanError(err)
		return false
	}
	x.cur.vals, x.cur.kinds = vals, kinds
	return true
}

// scanError words an error of the type scanner, which names the row.
func (x *xlsxRows) scanError(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%s: sheet %q: %w", x.display, x.sheet, err)
	}
	return fmt.Errorf("%s: sheet %q is damaged: %w", x.display, x.sheet, err)
}

// checkEnd makes sure excelize stopped at the end of the worksheet: its
// iterator stops without an error on damaged XML (or a damaged zip stream),
// which would silently cut the import short. The type scanner, reading the
// same part, must find no row after the last one excelize gave.
func (x *xlsxRows) checkEnd() error {
	next, err := x.types.after(x.cur.num)
	switch {
	case err != nil:
		return x.scanError(err)
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
func (x *xlsxRows) lastRow() int { return x.types.declared }

func (x *xlsxRows) close() error {
	err := x.rows.Close()
	if cerr := x.types.close(); err == nil {
		err = cerr
	}
	return err
}

// typeScanner reads a worksheet part and reports, row by row, the type of
// each cell, numbering rows and columns as excelize does: from the r
// attributes when present, else one after the previous. On the way it
// enforces the limits of open.go: the bytes of each row, counting the shared
// texts its cells show; the text work of the sheet; the nesting depth; the
// columns of a row; rows numbered in order and within Excel's last row.
//
// It scans the bytes for tags rather than going through encoding/xml, which
// keeps the second pass cheap (about a sixth of excelize's time on a
// 100,000-row export, inflating included): in a worksheet the only markup
// inside cell text is escaped, and the scanner skips comments, CDATA
// sections and processing instructions like any XML reader. It does not
// validate the XML; excelize does, and checkEnd notices when it gave up.
type typeScanner struct {
	*xmlScan
	rc     io.ReadCloser
	shared []uint32 // text work of each shared text

	pending     bool // a row has been read ahead and not yet asked for
	num         int  // number of the row read ahead
	buf         []cellKind
	lastRow     int
	inSheetData bool
	finished    bool
	dimension   string // the ref of the dimension element: "A1:N1000"
	work        int64  // text work of the rows read so far

	// The row and cell being read.
	inRow      bool
	col        int
	inCell     bool
	cellShared bool // a t="s" cell: its value is the index of a shared text
	cellStart  int64
}

func newTypeScanner(rc io.ReadCloser, shared []uint32) *typeScanner {
	return &typeScanner{xmlScan: newXMLScan(rc, maxRowBytes), rc: rc, shared: shared}
}

func (s *typeScanner) close() error { return s.rc.Close() }

// declaredLastRow is the last row of the sheet's dimension element, or 0
// when it has none (yet).
func (s *typeScanner) declaredLastRow() int {
	ref := s.dimension[strings.LastIndexByte(s.dimension, ':')+1:]
	if _, row, err := excelize.CellNameToCoordinates(ref); err == nil {
		return row
	}
	return 0
}

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
	for {
		t := &s.tag
		if err := s.nextTag(t); err == io.EOF {
			s.finished = true
			if s.inSheetData {
				return errors.New("the worksheet ends before its last row does")
			}
			return nil // no sheetData at all: a chart sheet, say
		} else if err != nil {
			return s.readError(err)
		}
		switch name := string(t.name); {
		case !t.end && name == "dimension":
			s.dimension = t.ref
		case !t.end && name == "sheetData":
			// <sheetData/> is an empty sheet.
			s.inSheetData, s.finished = !t.selfClosing, t.selfClosing
			if s.finished {
				return nil
			}
		case !t.end && name == "row":
			if err := s.startRow(t); err != nil {
				return err
			}
			if t.selfClosing {
				s.endRow()
				return nil
			}
		case !t.end && name == "c" && s.inRow:
			if err := s.startCell(t); err != nil {
				return err
			}
		case !t.end && name == "v" && s.inCell && s.cellShared && !t.selfClosing:
			if err := s.sharedValue(); err != nil {
				return err
			}
		case t.end && name == "c" && s.inCell:
			if err := s.endCell(); err != nil {
				return err
			}
		case t.end && name == "row" && s.inRow:
			s.endRow()
			return nil
		case t.end && name == "sheetData":
			s.finished, s.inSheetData = true, false
			return s.drain()
		}
	}
}

// drain reads the rest of the part, which makes the zip reader check it
// against its checksum and declared size: excelize reads the parts it keeps
// in memory without looking at that error.
func (s *typeScanner) drain() error {
	s.in.limit = maxUnzipped
	if _, err := io.Copy(io.Discard, s.br); err != nil {
		return fmt.Errorf("after row %d: %w", s.lastRow, err)
	}
	return nil
}

func (s *typeScanner) startRow(t *tag) error {
	num := s.lastRow + 1
	if t.r != "" {
		n, err := strconv.Atoi(t.r)
		if err != nil {
			return fmt.Errorf("row number %q: %w", t.r, err)
		}
		num = n
	}
	switch {
	case num <= s.lastRow:
		return fmt.Errorf("row %d comes after row %d", num, s.lastRow)
	case num > excelize.TotalRows:
		return fmt.Errorf("row %d is beyond Excel's last row, %d", num, excelize.TotalRows)
	}
	s.lastRow, s.num = num, num
	s.buf = s.buf[:0]
	s.inRow, s.col = true, 0
	return nil
}

func (s *typeScanner) startCell(t *tag) error {
	s.col++
	if t.r != "" {
		c, _, err := excelize.CellNameToCoordinates(t.r)
		if err != nil {
			return fmt.Errorf("row %d: %w", s.num, err)
		}
		s.col = c
	}
	if s.col > excelize.MaxColumns {
		return fmt.Errorf("row %d has more than %d columns, Excel's last column", s.num, excelize.MaxColumns)
	}
	for len(s.buf) < s.col {
		s.buf = append(s.buf, kindText)
	}
	s.buf[s.col-1] = kindOf(t.t)
	if !t.selfClosing {
		s.inCell, s.cellShared, s.cellStart = true, t.t == "s", s.pos()
		s.escapes, s.countEscapes = 0, true
	}
	return nil
}

// sharedValue reads the index a shared-text cell holds and charges the
// text's work to the row and the sheet.
func (s *typeScanner) sharedValue() error {
	v, err := s.br.ReadSlice('<')
	if err != nil {
		// An index longer than the buffer is damage excelize reports.
		return s.readError(err)
	}
	i, err := strconv.Atoi(strings.TrimSpace(string(v[:len(v)-1])))
	s.br.UnreadByte()
	if err != nil || i < 0 || i >= len(s.shared) {
		return nil // excelize reports a bad index
	}
	return s.charge(int64(s.shared[i]))
}

func (s *typeScanner) endCell() error {
	s.inCell, s.countEscapes = false, false
	if s.cellShared {
		return nil
	}
	// The cell's own bytes count in the row already: charge the rest.
	size := s.pos() - s.cellStart
	if err := s.charge(textWork(size, s.escapes) - size); err != nil {
		return err
	}
	s.work += size
	return s.checkWork()
}

// charge counts text work of the current row beyond its XML: against the
// row's budget of bytes, and the sheet's.
func (s *typeScanner) charge(work int64) error {
	if s.in.limit -= work; s.pos() > s.in.limit {
		return s.tooLarge()
	}
	s.work += work
	return s.checkWork()
}

func (s *typeScanner) checkWork() error {
	if s.work > maxTextWork {
		return &fileError{fmt.Sprintf("the text of its cells up to row %d takes more than %d MB to read (long texts, or texts with many _xHHHH_ escapes, shown in many cells); the file is not an export",
			s.num, maxTextWork>>20), ErrTooLarge}
	}
	return nil
}

func (s *typeScanner) endRow() {
	s.pending = true
	s.inRow, s.inCell, s.countEscapes = false, false, false
	s.budget(maxRowBytes)
}

// readError words an error met while reading the part, naming the row.
func (s *typeScanner) readError(err error) error {
	switch {
	case errors.Is(err, errOverBudget):
		return s.tooLarge()
	case errors.Is(err, errTooDeep):
		return fmt.Errorf("row %d: %w", s.rowNum(), err)
	}
	return fmt.Errorf("row %d: reading cell types: %w", s.rowNum(), err)
}

func (s *typeScanner) tooLarge() error {
	return &fileError{fmt.Sprintf("row %d is larger than %d MB, counting the shared texts it shows; no row of an export is: the file is damaged or not an export",
		s.rowNum(), maxRowBytes>>20), ErrTooLarge}
}

// rowNum is the row being read, or the next one between rows.
func (s *typeScanner) rowNum() int {
	if s.inRow {
		return s.num
	}
	return s.lastRow + 1
}

// xmlScan reads the tags of an XML part, streaming, and stops on a
// budget of bytes that its user sets (see budget) and on elements nested
// beyond maxDepth.
type xmlScan struct {
	in  *budgetReader
	br  *bufio.Reader
	tag tag

	depth    int
	attrName []byte
	// When countEscapes is set, escapes counts the _xHHHH_ escapes (or
	// what may be one) in the text read.
	countEscapes bool
	escapes      int
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

var escapeMark = []byte("_x")

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

// skipText reads up to and including the next '<', counting escapes when
// asked to.
func (s *xmlScan) skipText() error {
	for {
		b, err := s.br.ReadSlice('<')
		if s.countEscapes {
			s.escapes += bytes.Count(b, escapeMark)
		}
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

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
		return s.skipPastRun('-', 2) // -->
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
// n bytes x: "-->" ends a comment, "]]>" a CDATA section, "?>" a processing
// instruction.
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
