package bankfile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// checkParsed holds what Parse promises for any input: an error and nothing
// else, or a file whose every return is usable and every rejection says
// where and why.
func checkParsed(t *testing.T, data []byte) {
	f, err := Parse("fuzz", data)
	if err != nil {
		if !reflect.DeepEqual(f, File{}) {
			t.Fatalf("error %v with a file %+v", err, f)
		}
		return
	}
	for _, r := range f.Returns {
		switch {
		case r.AmountCents <= 0 || r.AmountCents > MaxAmountCents:
			t.Fatalf("return %+v: amount out of bounds", r)
		case r.Reason == "" || r.Where == "" || r.EndToEndID == "":
			t.Fatalf("return %+v: no reason, place or end-to-end id", r)
		case r.Currency != "EUR":
			t.Fatalf("return %+v: currency", r)
		case r.IBANOK != (r.DebtorIBAN != "" && CheckIBAN(r.DebtorIBAN)):
			t.Fatalf("return %+v: IBANOK disagrees with CheckIBAN", r)
		case r.ReturnedOn.IsZero():
			t.Fatalf("return %+v: no return date", r)
		}
	}
	for _, r := range f.Rejected {
		if r.Where == "" || r.Reason == "" {
			t.Fatalf("rejection %+v says not where or why", r)
		}
	}
	if again, _ := Parse("fuzz", data); !reflect.DeepEqual(again, f) {
		t.Fatal("two reads of the same bytes differ")
	}
}

func addFiles(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParsePain002(f *testing.F) {
	addFiles(f, samplePath("pain002_es_bank.xml"),
		filepath.Join("testdata", "pain002_v10_dialect.xml"),
		filepath.Join("testdata", "pain002_bad_transactions.xml"),
		filepath.Join("testdata", "pain002_three_decimals.xml"),
		filepath.Join("testdata", "pain002_usd.xml"),
		filepath.Join("testdata", "pain002_truncated.xml"),
		filepath.Join("testdata", "pain002_doctype.xml"),
		filepath.Join("testdata", "pain008.xml"))
	f.Add(nested(MaxXMLDepth))
	f.Fuzz(func(t *testing.T, data []byte) { checkParsed(t, data) })
}

func FuzzParseCamt054(f *testing.F) {
	addFiles(f, samplePath("camt054.xml"))
	f.Add([]byte(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>C1</MsgId>` +
		`<CreDtTm>2026-03-13T07:15:00</CreDtTm></GrpHdr><Ntfctn><Ntry><Amt Ccy="EUR">20.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>` +
		`<BookgDt><DtTm>2026-03-13T06:00:00Z</DtTm></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>F2026-0101</EndToEndId></Refs>` +
		`<RtrInf><Orgtr><Nm>DEUDOR</Nm></Orgtr><Rsn><Prtry>X1</Prtry></Rsn></RtrInf></TxDtls></NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`))
	f.Fuzz(func(t *testing.T, data []byte) { checkParsed(t, data) })
}

func FuzzParseAEB(f *testing.F) {
	addFiles(f, aebSamplePath, filepath.Join("testdata", "aeb1914_short_record.txt"))
	lines := sampleReturnsFile(f)
	f.Add(latin1(f, lines[0]+"\n"+lines[1]+"\n"+lines[2]+"\n"))
	f.Add([]byte(lines[0] + lines[1] + lines[2] + lines[len(lines)-1]))
	f.Fuzz(func(t *testing.T, data []byte) { checkParsed(t, data) })
}
