package bankfile

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated sample files under testdata")

// aebSamplePath is the generated 19.14 sample, at the repository's root so
// that other packages and the README can use it.
var aebSamplePath = filepath.Join("..", "..", "testdata", "bank", "aeb1914_devoluciones.txt")

// at is one field of a flat record: the standard's 1-based, inclusive
// positions and the value. A numeric field is right-aligned with zeros, any
// other left-aligned with spaces, as the cuaderno says.
type at struct {
	from, to int
	value    string
	numeric  bool
}

func num(from, to int, v string) at  { return at{from, to, v, true} }
func text(from, to int, v string) at { return at{from, to, v, false} }

// aebRecord writes a 600-character record from its fields. It is written
// apart from the reader, from the positions listed in the standard, so that
// a wrong offset in the reader does not go unseen.
func aebLine(t testing.TB, fields ...at) string {
	t.Helper()
	rec := []rune(strings.Repeat(" ", 600))
	for _, f := range fields {
		v := []rune(f.value)
		width := f.to - f.from + 1
		if len(v) > width {
			t.Fatalf("field %d-%d: %q is longer than %d", f.from, f.to, f.value, width)
		}
		pad := width - len(v)
		if f.numeric {
			v = append([]rune(strings.Repeat("0", pad)), v...)
		} else {
			v = append(v, []rune(strings.Repeat(" ", pad))...)
		}
		copy(rec[f.from-1:f.to], v)
	}
	return string(rec)
}

// latin1 encodes s in ISO-8859-1.
func latin1(t testing.TB, s string) []byte {
	t.Helper()
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			t.Fatalf("%q has no ISO-8859-1 form", r)
		}
		out = append(out, byte(r))
	}
	return out
}

// aebDebit is one individual record (23 or 13) of a sample.
type aebDebit struct {
	endToEnd, mandate string
	cents             string // 11 digits at most
	bic, name         string
	address           [3]string
	taxID             string
	acctKind, account string // A and an IBAN, or B and a CCC
	reason            string
	collection        string // AAAAMMDD, 23 only
}

const (
	sampleCreditorID   = "ES55000B87654324"
	sampleCreditorName = "ELEGA ENERGIA S.L."
	sampleCreditorIBAN = "ES7821000001040200012345"
	// sampleOriginalFile is the presentation file the returns answer:
	// PRE, its date, its time to the hundred-thousandth of a second and a
	// reference of 13 characters.
	sampleOriginalFile = "PRE" + "20260301" + "10150000000" + "ELEGA00000001"
)

func aebIndividual(t testing.TB, code string, d aebDebit) string {
	fields := []at{
		num(1, 2, code), num(3, 7, "19143"), num(8, 10, "003"),
		text(11, 45, d.endToEnd), text(46, 80, d.mandate), text(81, 84, "RCUR"),
		num(89, 99, d.cents), num(100, 107, "20240601"), text(108, 118, d.bic),
		text(119, 188, d.name), text(189, 238, d.address[0]), text(239, 288, d.address[1]),
		text(289, 328, d.address[2]), text(329, 330, "ES"), num(331, 331, "2"),
		text(332, 367, "J"+d.taxID), text(403, 403, d.acctKind), text(404, 437, d.account),
		text(442, 581, "Factura "+d.endToEnd+" suministro electrico"), text(582, 585, d.reason),
	}
	if code == "23" {
		fields = append(fields, num(586, 593, d.collection))
	}
	return aebLine(t, fields...)
}

// sampleReturnsFile is the lines of the devoluciones sample: two creditor
// blocks (returned on 13 and 14 March 2026), two returns each, one of them
// with the debtor's account as a CCC.
func sampleReturnsFile(t testing.TB) []string {
	block1 := []aebDebit{
		{endToEnd: "F2026-0117", mandate: "ELGM-002741", cents: "3450", bic: "CAIXESBBXXX", name: "Íñigo Peña Álvarez",
			address: [3]string{"CALLE MAYOR 14 2 B", "31001 PAMPLONA", "NAVARRA"}, taxID: "12345678Z",
			acctKind: "A", account: "ES4421008080900200998877", reason: "AM04", collection: "20260305"},
		{endToEnd: "F2026-0118", mandate: "ELGM-000619", cents: "22618", bic: "INGDESMMXXX", name: "Begoña Sáez Muñoz",
			address: [3]string{"AVENIDA DE LA CONSTITUCION 3", "41001 SEVILLA", "SEVILLA"}, taxID: "87654321X",
			acctKind: "A", account: "ES4614650100950911122334", reason: "MD01", collection: "20260305"},
	}
	block2 := []aebDebit{
		{endToEnd: "F2026-0119", mandate: "ELGM-003050", cents: "7105", bic: "BBVAESMMXXX", name: "ALFONSO CABRERA PASCUAL",
			address: [3]string{"PLAZA DE ESPAÑA 7", "50001 ZARAGOZA", "ZARAGOZA"}, taxID: "11223344B",
			acctKind: "B", account: "01821290340203344556", reason: "AC04", collection: "20260310"},
		{endToEnd: "F2026-0120", mandate: "ELGM-004988", cents: "11864", bic: "BSCHESMMXXX", name: "María Ángeles Domínguez León",
			address: [3]string{"CALLE ALCALA 120 4 IZDA", "28009 MADRID", "MADRID"}, taxID: "55667788K",
			acctKind: "A", account: "ES4400490001510312121212", reason: "MS02", collection: "20260310"},
	}
	lines := []string{aebLine(t,
		num(1, 2, "21"), num(3, 7, "19143"), num(8, 10, "001"),
		text(11, 45, sampleCreditorID), text(46, 115, sampleCreditorName), num(116, 123, "20260316"),
		text(124, 158, "DEV20260316081502123452100000184221"), num(159, 162, "2100"), num(163, 166, "0001"),
	)}
	for _, b := range []struct {
		date, sum string
		debits    []aebDebit
	}{{"20260313", "26068", block1}, {"20260314", "18969", block2}} {
		lines = append(lines, aebLine(t,
			num(1, 2, "22"), num(3, 7, "19143"), num(8, 10, "002"),
			text(11, 45, sampleCreditorID), num(46, 53, b.date), text(54, 123, sampleCreditorName),
			text(124, 173, "CALLE DEL PRADO 21"), text(174, 223, "28014 MADRID"), text(224, 263, "MADRID"),
			text(264, 265, "ES"), text(266, 299, sampleCreditorIBAN),
			text(300, 334, sampleOriginalFile),
		))
		for _, d := range b.debits {
			lines = append(lines, aebIndividual(t, "23", d))
		}
		lines = append(lines, aebLine(t,
			num(1, 2, "24"), text(3, 37, sampleCreditorID), num(38, 45, b.date),
			num(46, 62, b.sum), num(63, 70, "2"), num(71, 80, "4"),
		))
	}
	lines = append(lines,
		aebLine(t, num(1, 2, "25"), text(3, 37, sampleCreditorID), num(38, 54, "45037"), num(55, 62, "4"), num(63, 72, "9")),
		aebLine(t, num(1, 2, "99"), num(3, 19, "45037"), num(20, 27, "4"), num(28, 37, "11")),
	)
	return lines
}

// aebBytes joins records with CRLF, the line end of the banks' files, and
// encodes them in ISO-8859-1.
func aebBytes(t testing.TB, lines []string) []byte {
	t.Helper()
	return latin1(t, strings.Join(lines, "\r\n")+"\r\n")
}

// generatedFiles are the flat files written by these tests: the sample, and
// the sample with the trailing spaces of its fourth line cut off, as an
// editor that trims lines leaves it.
func generatedFiles(t testing.TB) map[string][]byte {
	lines := sampleReturnsFile(t)
	short := append([]string(nil), lines...)
	short[3] = strings.TrimRight(short[3], " ")
	return map[string][]byte{
		aebSamplePath: aebBytes(t, lines),
		filepath.Join("testdata", "aeb1914_short_record.txt"): aebBytes(t, short),
	}
}

// TestAEBSampleFileIsGenerated keeps the flat files under testdata equal to
// what generatedFiles writes;
// go test ./internal/bankfile/ -run TestAEBSampleFileIsGenerated -update
// rewrites them.
func TestAEBSampleFileIsGenerated(t *testing.T) {
	for path, want := range generatedFiles(t) {
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what generatedFiles writes; run go test ./internal/bankfile/ -run TestAEBSampleFileIsGenerated -update", path)
		}
	}
	// The sample is ISO-8859-1 and its records are 600 bytes: the ñ of
	// "Íñigo Peña" is one byte, not UTF-8's two.
	got, err := os.ReadFile(aebSamplePath)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range bytes.Split(bytes.TrimSuffix(got, []byte("\r\n")), []byte("\r\n")) {
		if len(l) != 600 {
			t.Errorf("line %d is %d bytes", i+1, len(l))
		}
	}
	if !bytes.Contains(got, []byte("\xcd\xf1igo Pe\xf1a \xc1lvarez")) {
		t.Error("the sample does not hold Íñigo Peña Álvarez in ISO-8859-1")
	}
}
