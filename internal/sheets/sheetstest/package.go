package sheetstest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// part is one part of a package. Its content is Data, or Head, then Chunk
// Times times, then Tail, or what Gen writes. A repeated chunk is compressed
// once and its compressed bytes repeated, so a part that inflates to
// gigabytes costs milliseconds to write. Declare, when set, is the
// uncompressed size the zip directory gives instead of the real one.
type part struct {
	Name              string
	Data              string
	Head, Chunk, Tail string
	Times             int
	Gen               func(w io.Writer)
	Declare           uint64
}

// writeZip writes the parts as a zip file named name in dir.
func writeZip(tb testing.TB, dir, name string, parts ...part) string {
	tb.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, p := range parts {
		data, crc, size := p.deflate(tb)
		if p.Declare != 0 {
			size = p.Declare
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: p.Name, Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(data)), UncompressedSize64: size})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return writeFile(tb, dir, name, out.Bytes())
}

// deflate returns the part compressed, its CRC-32 and its size.
func (p part) deflate(tb testing.TB) (data []byte, crc uint32, size uint64) {
	if p.Gen != nil {
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, flate.BestSpeed)
		if err != nil {
			tb.Fatal(err)
		}
		h := crc32.NewIEEE()
		cw := &countWriter{w: io.MultiWriter(fw, h)}
		p.Gen(cw)
		if err := fw.Close(); err != nil {
			tb.Fatal(err)
		}
		return buf.Bytes(), h.Sum32(), uint64(cw.n)
	}
	if p.Times == 0 {
		p.Head, p.Chunk, p.Times = p.Data+p.Head, "", 0
	}
	// Each piece is flushed to a byte boundary and refers to nothing before
	// it, so the pieces can follow each other in one deflate stream.
	var buf bytes.Buffer
	buf.Write(deflated(tb, p.Head, false))
	chunk := deflated(tb, p.Chunk, false)
	crc = crc32.Update(0, crc32.IEEETable, []byte(p.Head))
	for range p.Times {
		buf.Write(chunk)
		crc = crc32.Update(crc, crc32.IEEETable, []byte(p.Chunk))
	}
	buf.Write(deflated(tb, p.Tail, true))
	crc = crc32.Update(crc, crc32.IEEETable, []byte(p.Tail))
	return buf.Bytes(), crc, uint64(len(p.Head) + p.Times*len(p.Chunk) + len(p.Tail))
}

func deflated(tb testing.TB, s string, final bool) []byte {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.WriteString(fw, s); err != nil {
		tb.Fatal(err)
	}
	if final {
		err = fw.Close()
	} else {
		err = fw.Flush()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// The parts of a minimal workbook around its first worksheet.
const (
	contentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`
	rootRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`
	workbookXML = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Hoja1" sheetId="1" r:id="rId1"/></sheets></workbook>`
	workbookRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`

	sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`
	sheetTail  = `</sheetData></worksheet>`
	sharedHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`
	sharedTail = `</sst>`
)

// workbook returns the parts of a one-sheet workbook: sheet is its
// worksheet (its name is set here), extra any other parts.
func workbook(sheet part, extra ...part) []part {
	sheet.Name = "xl/worksheets/sheet1.xml"
	return append([]part{
		{Name: "[Content_Types].xml", Data: contentTypes},
		{Name: "_rels/.rels", Data: rootRels},
		{Name: "xl/workbook.xml", Data: workbookXML},
		{Name: "xl/_rels/workbook.xml.rels", Data: workbookRels},
		sheet,
	}, extra...)
}

// sharedStrings is a shared strings part: Head, then Chunk Times times.
func sharedStrings(head, chunk string, times int) part {
	return part{Name: "xl/sharedStrings.xml", Head: sharedHead + head, Chunk: chunk, Times: times, Tail: sharedTail}
}
