package sheets

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/richardlehane/mscfb"
)

// Limits of what a file may hold. Each is far above what a real export
// needs, and each bounds the time and memory a read takes whatever the file
// holds: a zip bomb, a million rows, a text repeated in every cell or XML
// nested a million deep gets an error naming the limit, not an import that
// fills memory or runs for hours.
const (
	// maxUnzipped is the most all the parts of a workbook may unpack to, and
	// the largest CSV file read. A 100,000-row TRADE export unpacks to about
	// 60 MB.
	maxUnzipped = 512 << 20
	// maxInMemoryPart is the most the small parts read whole (workbook,
	// relationships) may take.
	maxInMemoryPart = 4 << 20
	// maxOLEDirectory is the largest OLE2 file whose directory is read to
	// tell a password-protected workbook from an Excel 97-2003 one.
	maxOLEDirectory = 64 << 20
	// maxRows is the most rows a sheet may have below its header (records,
	// in a CSV): five times the largest export of the deployment guide, and
	// about 8 seconds of reading. A larger export is split into several
	// files, which the imports take one after the other.
	maxRows = 500_000
	// maxRowBytes is the most XML a worksheet row may take, counting the
	// shared texts its cells show (a CSV line: its bytes). 16 columns of
	// 32,767 characters, the most an Excel cell holds, take 2 MB at most.
	maxRowBytes = 4 << 20
	// maxSharedString is the most XML one shared text may take: Excel's
	// 32,767 characters, each written as an escape (_xHHHH_), take 230 KB.
	maxSharedString = 256 << 10
	// maxSharedStrings is the most shared texts a workbook may hold: eight
	// for each of maxRows rows. Each takes four bytes besides its text.
	maxSharedStrings = 4_000_000
	// maxSharedBytes is the most all the shared texts may take together,
	// decoded: a 100,000-row export's take about 10 MB.
	maxSharedBytes = 128 << 20
	// maxDepth is how deep XML elements may nest; a worksheet nests about
	// eight deep.
	maxDepth = 64
)

// Errors a caller may want to tell apart; the errors returned wrap them
// with the file name and what to do.
var (
	// ErrLegacyWorkbook: an Excel 97-2003 (.xls) or password-protected workbook.
	ErrLegacyWorkbook = errors.New("legacy or password-protected workbook")
	// ErrNotWorkbook: the file is neither an .xlsx workbook nor a CSV export.
	ErrNotWorkbook = errors.New("not an Excel workbook")
	// ErrTooLarge: the file, or a part, row or text of it, is beyond the
	// limits above.
	ErrTooLarge = errors.New("workbook too large")
	// ErrTooManyRows: the sheet read has more than maxRows rows below its
	// header.
	ErrTooManyRows = errors.New("too many rows")
)

// fileError is an error about the file as a whole, worded for the clerk.
type fileError struct {
	msg  string
	kind error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.kind }

func legacyError(path string, byExtension bool) error {
	fix := fmt.Sprintf(`save it as .xlsx in Excel ("Guardar como" → "Libro de Excel (*.xlsx)") or convert it with: libreoffice --headless --convert-to xlsx %s`, path)
	if byExtension {
		return &fileError{fmt.Sprintf("%s is a legacy Excel 97-2003 workbook (.xls); %s", path, fix), ErrLegacyWorkbook}
	}
	// An .xlsx protected by a password is stored in the same OLE2 container
	// as an .xls; telling them apart would mean reading that container.
	return &fileError{fmt.Sprintf("%s is a password-protected or legacy Excel 97-2003 workbook: remove the password, or %s", path, fix), ErrLegacyWorkbook}
}

func passwordError(path string) error {
	return &fileError{fmt.Sprintf(`%s is protected by a password: open it in Excel, remove the password ("Archivo" → "Información" → "Proteger libro" → "Cifrar con contraseña", left empty) and save it again`, path), ErrLegacyWorkbook}
}

// encrypted reports whether an OLE2 file is an .xlsx encrypted with a
// password: Excel stores it as a stream named EncryptedPackage. Only the
// directory of the container is read, and only of a file small enough for
// that directory to be small too.
func encrypted(ra io.ReaderAt, size int64) bool {
	if size > maxOLEDirectory {
		return false
	}
	doc, err := mscfb.New(io.NewSectionReader(ra, 0, size))
	if err != nil {
		return false
	}
	for e, err := doc.Next(); err == nil; e, err = doc.Next() {
		if e.Name == "EncryptedPackage" {
			return true
		}
	}
	return false
}

func notWorkbookError(path, why string) error {
	msg := fmt.Sprintf("%s is not an Excel workbook (.xlsx)", path)
	if why != "" {
		msg += ": " + why
	}
	return &fileError{msg, ErrNotWorkbook}
}

// Magic numbers at the start of the files we meet.
var (
	oleMagic      = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	zipMagic      = []byte("PK\x03\x04")
	emptyZipMagic = []byte("PK\x05\x06")
)

// cellKind is the type of a spreadsheet cell, which decides how its text is
// read: "12.125" is twelve euros and an eighth in a number cell but twelve
// thousand one hundred and twenty-five euros typed as Spanish text.
type cellKind uint8

const (
	kindText   cellKind = iota // shared, inline or formula string; every CSV field
	kindNumber                 // a number (dates are numbers with a date format)
	kindBool                   // TRUE or FALSE, read as "1" or "0"
	kindDate                   // an ISO 8601 date cell (rare; Excel writes numbers)
	kindError                  // #N/A, #VALUE!...
)

// rowData is one spreadsheet row: the raw value of each cell (0-based
// column) and its kind. It is valid until the next call to next.
type rowData struct {
	num   int // spreadsheet row number, 1-based
	vals  []string
	kinds []cellKind
}

// get returns the raw value and kind of column i; a missing cell is empty text.
func (r rowData) get(i int) (string, cellKind) {
	if i < 0 || i >= len(r.vals) {
		return "", kindText
	}
	k := kindText
	if i < len(r.kinds) {
		k = r.kinds[i]
	}
	return r.vals[i], k
}

// book is an opened workbook or CSV export.
type book interface {
	name() string     // the file name, for messages
	sheets() []string // in workbook order
	rows(sheet string) (rowIter, error)
	date1904() bool // serial dates count from 1904 (old Mac workbooks)
	close() error
}

// rowIter streams the rows of one sheet, every row from 1 to the last one
// that has cells (rows missing in the file come as empty rows).
type rowIter interface {
	next() bool
	row() rowData
	err() error
	close() error
	// lastRow is the last row the sheet says it has (a worksheet's
	// dimension), or 0 when it says nothing. It may be known only once the
	// first rows are read.
	lastRow() int
}

// openBook opens path as a CSV export when its name ends in .csv (and its
// first bytes are not those of a workbook), else as an .xlsx workbook, after
// checking that it is one.
func openBook(path string) (book, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, len(oleMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	// A workbook saved with a .csv name is still a workbook.
	if isCSVName(path) && !bytes.HasPrefix(head, zipMagic) && !bytes.HasPrefix(head, oleMagic) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return newCSVBook(path, f), nil
	}
	err = checkMagic(path, head, f)
	f.Close()
	if err != nil {
		return nil, err
	}
	return openXLSX(path, path)
}

// openBookFrom opens a workbook or CSV export read from r; name is its file
// name, whose extension decides the format. A CSV is streamed; a workbook is
// copied to a temporary file first, because a zip is read from its end.
func openBookFrom(r io.Reader, name string) (book, error) {
	if isCSVName(name) {
		return newCSVBook(name, io.NopCloser(r)), nil
	}
	tmp, err := os.CreateTemp("", "sheets-*.xlsx")
	if err != nil {
		return nil, err
	}
	removeTmp := func() { tmp.Close(); os.Remove(tmp.Name()) }
	// The copy is bounded like the unpacked workbook, which a zip practically
	// never exceeds.
	n, err := io.Copy(tmp, io.LimitReader(r, maxUnzipped+1))
	if err != nil {
		removeTmp()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if n > maxUnzipped {
		removeTmp()
		return nil, tooLargeError(name)
	}
	head := make([]byte, len(oleMagic))
	m, _ := tmp.ReadAt(head, 0)
	if err := checkMagic(name, head[:m], tmp); err != nil {
		removeTmp()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	b, err := openXLSX(tmp.Name(), name)
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	b.removeOnClose = tmp.Name()
	return b, nil
}

func isCSVName(name string) bool { return strings.EqualFold(filepath.Ext(name), ".csv") }

// checkMagic rejects, by their first bytes and name, the files that are not
// .xlsx workbooks; f is the file, to tell a password-protected workbook.
func checkMagic(path string, head []byte, f *os.File) error {
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case bytes.HasPrefix(head, oleMagic):
		if ext != ".xls" {
			if fi, err := f.Stat(); err == nil && encrypted(f, fi.Size()) {
				return passwordError(path)
			}
		}
		return legacyError(path, ext == ".xls")
	case bytes.HasPrefix(head, zipMagic), bytes.HasPrefix(head, emptyZipMagic):
		// An .xlsx renamed .xls is still an .xlsx: read it.
		return nil
	case ext == ".xls":
		// Some systems export HTML or text named .xls; Excel opens them and
		// saves them as .xlsx all the same.
		return legacyError(path, true)
	case len(head) == 0:
		return notWorkbookError(path, "the file is empty")
	case bytes.HasPrefix(head, []byte("%PDF")):
		return notWorkbookError(path, "it is a PDF document")
	default:
		return notWorkbookError(path, "")
	}
}

// tooManyRowsError says that a sheet has more than maxRows rows below its
// header; declared is the last row the sheet says it has, or 0.
func tooManyRowsError(where string, header, declared int) error {
	has := fmt.Sprintf("more than %d rows", maxRows)
	if declared > 0 {
		has = fmt.Sprintf("%d rows", declared-header)
	}
	// Rows that only carry formatting count too: Excel keeps them when a
	// whole column was formatted.
	return &fileError{fmt.Sprintf("%s has %s below its header row, more than the %d a file may have here; split the export into files of at most %d rows and import them one after the other "+
		"(if most of those rows look empty, they only carry formatting: select them in Excel, delete them and save)",
		where, has, maxRows, maxRows), ErrTooManyRows}
}

func tooLargeError(path string) error {
	return &fileError{fmt.Sprintf("%s unpacks to more than %d MB, the most a workbook may hold here; split the export or check that the file is the one intended", path, maxUnzipped>>20), ErrTooLarge}
}

// zipPart finds a part of the package by name, ignoring case and the
// backslashes some writers use.
func zipPart(zr *zip.Reader, name string) *zip.File {
	for _, f := range zr.File {
		if strings.EqualFold(strings.ReplaceAll(f.Name, `\`, "/"), name) {
			return f
		}
	}
	return nil
}
