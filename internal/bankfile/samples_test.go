package bankfile

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// samplePath is a file of the repository's testdata/bank.
func samplePath(name string) string { return filepath.Join("..", "..", "testdata", "bank", name) }

func day(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, madrid) }

// ret is a Return with the fields every sample return shares.
func ret(e2e, instr, mandate string, cents int64, name, iban string, ibanOK bool, requested, returned time.Time, reason, originator, where string) Return {
	return Return{
		EndToEndID: e2e, InstructionID: instr, MandateID: mandate, AmountCents: cents, Currency: "EUR",
		DebtorName: name, DebtorIBAN: iban, IBANOK: ibanOK, RequestedOn: requested, ReturnedOn: returned,
		Reason: reason, Originator: originator, Where: where,
	}
}

// checkFile compares a parsed file with the one expected, field by field,
// and names every field that differs. Times are compared as instants and
// must be in Europe/Madrid.
func checkFile(t *testing.T, got, want File) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		switch name {
		case "Returns", "Rejected":
			continue
		}
		checkValue(t, name, gv.Field(i).Interface(), wv.Field(i).Interface())
	}
	if len(got.Returns) != len(want.Returns) {
		t.Errorf("%d returns, want %d: %+v", len(got.Returns), len(want.Returns), got.Returns)
	}
	for i := 0; i < min(len(got.Returns), len(want.Returns)); i++ {
		g, w := reflect.ValueOf(got.Returns[i]), reflect.ValueOf(want.Returns[i])
		for j := 0; j < g.NumField(); j++ {
			checkValue(t, want.Returns[i].EndToEndID+" "+g.Type().Field(j).Name, g.Field(j).Interface(), w.Field(j).Interface())
		}
	}
	if !reflect.DeepEqual(got.Rejected, want.Rejected) {
		t.Errorf("Rejected = %q, want %q", got.Rejected, want.Rejected)
	}
}

func checkValue(t *testing.T, name string, got, want any) {
	t.Helper()
	if gt, ok := got.(time.Time); ok {
		wt := want.(time.Time)
		if !gt.Equal(wt) {
			t.Errorf("%s = %v, want %v", name, gt, wt)
		}
		if !gt.IsZero() && gt.Location().String() != "Europe/Madrid" {
			t.Errorf("%s is in %v, not Europe/Madrid", name, gt.Location())
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", name, got, want)
	}
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSamplePain002 reads a Spanish bank's pain.002.001.03: twelve rejected
// debits in two payment blocks, one for each reason of the table's paths,
// MD01 once raised by the debtor and once by their bank, and one debtor
// IBAN that fails its check.
func TestSamplePain002(t *testing.T) {
	path := samplePath("pain002_es_bank.xml")
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 3, 12, 9, 41, 7, 0, madrid)
	r5, r10 := day(2026, 3, 5), day(2026, 3, 10)
	checkFile(t, got, File{
		Name: "pain002_es_bank.xml", Format: FormatPain002, Version: "pain.002.001.03",
		MessageID: "DEV2026031209410700021000000001", OriginalMessageID: "ELEGA-PRE-20260301-01",
		CreatedAt: created, SHA256: sha256Of(t, path),
		Returns: []Return{
			ret("F2026-0101", "ELG-0101", "ELGM-004512", 4560, "MARIA JOSE FERNANDEZ RUIZ", "ES9121000418450200051332", true, r5, created, "AM04", OriginatorDebtorBank, "end-to-end id F2026-0101"),
			ret("F2026-0102", "ELG-0102", "ELGM-002207", 8723, "ANTONIO GARCIA LOPEZ", "ES7000491500010512345678", true, r5, created, "MS03", OriginatorDebtorBank, "end-to-end id F2026-0102"),
			ret("F2026-0103", "ELG-0103", "ELGM-003318", 13210, "Lucía Martínez Sánchez", "ES8001822370440201234567", true, r5, created, "MD06", OriginatorDebtor, "end-to-end id F2026-0103"),
			ret("F2026-0104", "ELG-0104", "ELGM-001094", 5890, "JOSE LUIS PEREZ GOMEZ", "ES9220855201270330112233", true, r5, created, "MS02", OriginatorDebtor, "end-to-end id F2026-0104"),
			ret("F2026-0105", "ELG-0105", "ELGM-005561", 21045, "CARMEN RODRIGUEZ NUÑEZ", "ES7500810216790001987654", true, r5, created, "MD01", OriginatorDebtor, "end-to-end id F2026-0105"),
			ret("F2026-0106", "ELG-0106", "ELGM-000873", 7600, "FRANCISCO JAVIER MUÑOZ DIAZ", "ES5030580990250272345678", true, r5, created, "MD01", OriginatorDebtorBank, "end-to-end id F2026-0106"),
			ret("F2026-0107", "ELG-0107", "ELGM-006120", 9999, "ANA ISABEL ROMERO CASTRO", "ES3701280010990100567890", true, r10, created, "AC04", "IPAYESMMXXX", "end-to-end id F2026-0107"),
			ret("F2026-0108", "ELG-0108", "ELGM-002986", 6435, "MANUEL JIMENEZ ORTEGA", "ES3814650100950917263548", true, r10, created, "AC06", "", "end-to-end id F2026-0108"),
			ret("F2026-0109", "ELG-0109", "ELGM-000455", 15080, "PILAR NAVARRO GIL", "ES7400730100560551234509", true, r10, created, "MD07", OriginatorDebtorBank, "end-to-end id F2026-0109"),
			ret("F2026-0110", "ELG-0110", "ELGM-007731", 3812, "JESUS ANGEL SERRANO MOLINA", "ES8521002145550200765432", true, r10, created, "AM05", OriginatorCreditorBank, "end-to-end id F2026-0110"),
			ret("F2026-0111", "ELG-0111", "ELGM-003402", 27540, "TALLERES IÑIGUEZ S.L.", "ES9600496701110123456789", true, r10, created, "RR01", OriginatorCreditorBank, "end-to-end id F2026-0111"),
			ret("F2026-0112", "ELG-0112", "ELGM-001877", 12000, "ROCIO BLANCO HERRERO", "ES1101824005920208765413", false, r10, created, "AM04", "BBVA", "end-to-end id F2026-0112"),
		},
	})

	// Each path of the table is reached by the sample.
	paths := map[string]Path{}
	for _, r := range got.Returns {
		paths[r.EndToEndID] = PathOf(r.Reason, r.Originator)
	}
	want := map[string]Path{
		"F2026-0101": PathFunds, "F2026-0102": PathFunds, "F2026-0103": PathDisputed, "F2026-0104": PathDisputed,
		"F2026-0105": PathDisputed, "F2026-0106": PathAccount, "F2026-0107": PathAccount, "F2026-0108": PathAccount,
		"F2026-0109": PathDeceased, "F2026-0110": PathOurError, "F2026-0111": PathOurError, "F2026-0112": PathFunds,
	}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %v, want %v", paths, want)
	}
}

// TestSampleCamt054 reads a camt.054.001.02: a debit entry of three returns,
// a debit entry of one whose amount is only on the entry and whose booking
// date is a date and time, and a credit (the collection itself), ignored.
func TestSampleCamt054(t *testing.T) {
	path := samplePath("camt054.xml")
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r5, r10 := day(2026, 3, 5), day(2026, 3, 10)
	checkFile(t, got, File{
		Name: "camt054.xml", Format: FormatCamt054, Version: "camt.054.001.02",
		MessageID: "C54-20260313-071500-000184",
		CreatedAt: time.Date(2026, 3, 13, 7, 15, 0, 0, madrid), SHA256: sha256Of(t, path),
		Ignored: 1,
		Returns: []Return{
			ret("F2026-0113", "ELG-0113", "ELGM-004120", 6745, "BEATRIZ SOLER VIDAL", "ES8720381012520060009876", true, r5, day(2026, 3, 12), "AM04", OriginatorDebtorBank, "end-to-end id F2026-0113"),
			ret("F2026-0114", "ELG-0114", "ELGM-000932", 14320, "Raúl Ortiz Medina", "ES6600815290710002003004", true, r5, day(2026, 3, 12), "MD06", OriginatorDebtor, "end-to-end id F2026-0114"),
			ret("F2026-0115", "", "ELGM-006688", 5275, "GONZALO PRIETO CANO", "ES9330582500650274455667", true, r10, day(2026, 3, 12), "AC01", "", "end-to-end id F2026-0115"),
			ret("F2026-0116", "", "ELGM-005014", 18930, "Elena Vázquez Ramos", "ES3701289400220105556667", true, r10, day(2026, 3, 13), "MS02", OriginatorDebtor, "end-to-end id F2026-0116"),
		},
	})
}

// TestSampleAEB1914 reads the Cuaderno 19.14 devoluciones sample: ISO-8859-1
// names, two creditor blocks with their own return dates, one account given
// as a CCC and written back as its IBAN, and no originator.
func TestSampleAEB1914(t *testing.T) {
	got, err := ReadFile(aebSamplePath)
	if err != nil {
		t.Fatal(err)
	}
	r5, r10 := day(2026, 3, 5), day(2026, 3, 10)
	checkFile(t, got, File{
		Name: "aeb1914_devoluciones.txt", Format: FormatAEB1914, Version: "19143 devoluciones",
		MessageID: "DEV20260316081502123452100000184221", OriginalMessageID: sampleOriginalFile,
		CreatedAt: day(2026, 3, 16), SHA256: sha256Of(t, aebSamplePath),
		Returns: []Return{
			ret("F2026-0117", "", "ELGM-002741", 3450, "Íñigo Peña Álvarez", "ES4421008080900200998877", true, r5, day(2026, 3, 13), "AM04", "", "line 3"),
			ret("F2026-0118", "", "ELGM-000619", 22618, "Begoña Sáez Muñoz", "ES4614650100950911122334", true, r5, day(2026, 3, 13), "MD01", "", "line 4"),
			ret("F2026-0119", "", "ELGM-003050", 7105, "ALFONSO CABRERA PASCUAL", "ES6001821290340203344556", true, r10, day(2026, 3, 14), "AC04", "", "line 7"),
			ret("F2026-0120", "", "ELGM-004988", 11864, "María Ángeles Domínguez León", "ES4400490001510312121212", true, r10, day(2026, 3, 14), "MS02", "", "line 8"),
		},
	})
	// A flat file names no originator, so MD01 is an account problem.
	if p := PathOf(got.Returns[1].Reason, got.Returns[1].Originator); p != PathAccount {
		t.Errorf("MD01 in a flat file takes path %s, want account", p)
	}
}

// TestPain002Version10Dialect reads a pain.002.001.10 as some banks write
// it: ISO-8859-1, every element behind an ns2: prefix, the detailed count
// and sum straight under OrgnlGrpInfAndSts, the debtor's name under
// Dbtr/Pty, the BIC under AnyBIC and BICFI, a proprietary reason, an IBAN
// written in groups or in lower case, and one accepted transaction.
func TestPain002Version10Dialect(t *testing.T) {
	path := filepath.Join("testdata", "pain002_v10_dialect.xml")
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 4, 2, 8, 30, 0, 0, madrid)
	checkFile(t, got, File{
		Name: "pain002_v10_dialect.xml", Format: FormatPain002, Version: "pain.002.001.10",
		MessageID: "0049RCH20260402083000417", OriginalMessageID: "ELEGA-PRE-20260325-01",
		CreatedAt: created, SHA256: sha256Of(t, path), Ignored: 1,
		Returns: []Return{
			ret("F2026-0101", "", "ELGM-004512", 4560, "María José Fernández Ruiz", "ES9121000418450200051332", true, day(2026, 4, 1), created, "AC04", OriginatorDebtorBank, "end-to-end id F2026-0101"),
			ret("F2026-0103", "", "ELGM-003318", 12375, "Lucía Martínez Sánchez", "ES8001822370440201234567", true, day(2026, 4, 1), created, "DEV12", "", "end-to-end id F2026-0103"),
		},
	})
}

// TestAEB1914Rejections reads a rechazos file (records 11 to 15): the
// collection date is its block's, the return date the file's creation date.
func TestAEB1914Rejections(t *testing.T) {
	d := aebDebit{endToEnd: "F2026-0117", mandate: "ELGM-002741", cents: "3450", bic: "CAIXESBBXXX", name: "Íñigo Peña Álvarez",
		acctKind: "A", account: "ES4421008080900200998877", reason: "ms03"}
	lines := []string{
		aebLine(t, num(1, 2, "11"), num(3, 7, "19143"), num(8, 10, "001"), text(11, 45, sampleCreditorID),
			text(46, 115, sampleCreditorName), num(116, 123, "20260304"), text(124, 158, "REC20260304070000000002100000000077")),
		aebLine(t, num(1, 2, "12"), num(3, 7, "19143"), num(8, 10, "002"), text(11, 45, sampleCreditorID),
			num(46, 53, "20260305"), text(54, 123, sampleCreditorName), text(266, 299, sampleCreditorIBAN), text(300, 334, sampleOriginalFile)),
		aebIndividual(t, "13", d),
		aebLine(t, num(1, 2, "14"), text(3, 37, sampleCreditorID), num(38, 45, "20260305"), num(46, 62, "3450"), num(63, 70, "1"), num(71, 80, "3")),
		aebLine(t, num(1, 2, "15"), text(3, 37, sampleCreditorID), num(38, 54, "3450"), num(55, 62, "1"), num(63, 72, "4")),
		aebLine(t, num(1, 2, "99"), num(3, 19, "3450"), num(20, 27, "1"), num(28, 37, "6")),
	}
	data := latin1(t, strings.Join(lines, "\n")+"\n")
	got, err := Parse("rechazos.txt", data)
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, got, File{
		Name: "rechazos.txt", Format: FormatAEB1914, Version: "19143 rechazos",
		MessageID: "REC20260304070000000002100000000077", OriginalMessageID: sampleOriginalFile,
		CreatedAt: day(2026, 3, 4), SHA256: sha256Hex(data),
		Returns: []Return{
			ret("F2026-0117", "", "ELGM-002741", 3450, "Íñigo Peña Álvarez", "ES4421008080900200998877", true, day(2026, 3, 5), day(2026, 3, 4), "MS03", "", "line 3"),
		},
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
