package bankfile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestRefusedFiles: files of which nothing can be read are refused whole,
// and the error names the file and why.
func TestRefusedFiles(t *testing.T) {
	for _, tt := range []struct{ file, why string }{
		{"pain008.xml", "message pain.008.001.02 is not a return file"},
		{"pain002_doctype.xml", "DOCTYPE or entity declaration is refused"},
		{"pain002_truncated.xml", "XML is malformed or cut short"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := ReadFile(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatalf("read %d returns, want an error", len(f.Returns))
			}
			if !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q should name %s and say %q", err, tt.file, tt.why)
			}
			if !reflect.DeepEqual(f, File{}) {
				t.Errorf("a refused file gave %+v", f)
			}
		})
	}
}

// TestTruncatedXMLGivesNoReturns cuts the sample pain.002 at many points: no
// cut before its closing tag gives a return.
func TestTruncatedXMLGivesNoReturns(t *testing.T) {
	data, err := os.ReadFile(samplePath("pain002_es_bank.xml"))
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndex(data, []byte("</Document>"))
	for cut := 0; cut < end+len("</Document>"); cut += 37 {
		f, err := Parse("cut.xml", data[:cut])
		if err == nil {
			t.Fatalf("cut at byte %d of %d: %d returns and no error", cut, len(data), len(f.Returns))
		}
	}
}

func TestThreeDecimals(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "pain002_three_decimals.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Returns) != 1 || f.Returns[0].EndToEndID != "F2026-0101" {
		t.Errorf("returns %+v, want F2026-0101 alone", f.Returns)
	}
	want := []Rejected{{Where: "end-to-end id F2026-0102", Reason: "amount 45.678: more than two decimals"}}
	if !reflect.DeepEqual(f.Rejected, want) {
		t.Errorf("rejected %q, want %q", f.Rejected, want)
	}
}

func TestCurrencyOtherThanEuro(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "pain002_usd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Returns) != 1 || f.Returns[0].EndToEndID != "F2026-0101" || f.Returns[0].Currency != "EUR" {
		t.Errorf("returns %+v, want F2026-0101 alone, in EUR", f.Returns)
	}
	want := []Rejected{{Where: "end-to-end id F2026-0102", Reason: "currency USD: only EUR is taken"}}
	if !reflect.DeepEqual(f.Rejected, want) {
		t.Errorf("rejected %q, want %q", f.Rejected, want)
	}
}

// TestBadTransactions: each bad transaction is rejected with where it is
// and every wrong field; the good ones around it are taken, a debtor IBAN
// that fails its check included.
func TestBadTransactions(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "pain002_bad_transactions.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	for _, r := range f.Returns {
		taken = append(taken, r.EndToEndID+" "+r.Reason)
	}
	if want := []string{"F2026-0101 AM04", "F2026-0113 MS03"}; !reflect.DeepEqual(taken, want) {
		t.Errorf("taken %q, want %q", taken, want)
	}
	if len(f.Returns) == 2 && (f.Returns[1].IBANOK || f.Returns[1].DebtorIBAN != "ES9121000418450200051333") {
		t.Errorf("F2026-0113's IBAN: %s ok=%v, want it taken and marked bad", f.Returns[1].DebtorIBAN, f.Returns[1].IBANOK)
	}
	want := []Rejected{
		{"line 37", "end-to-end id: missing"},
		{"end-to-end id F2026-0103", "amount -5.00: negative"},
		{"end-to-end id F2026-0104", "currency: missing"},
		{"end-to-end id F2026-0105", "reason: missing"},
		{"end-to-end id F2026-0106", "requested collection date 2026-02-30: not a date"},
		{"end-to-end id F2026-0107", "amount 0.00: not more than zero"},
		{"end-to-end id F2026-0101", "end-to-end id F2026-0101: repeated (first at line 18)"},
		{"end-to-end id F2026-0109", `currency USD: only EUR is taken; reason "AM-4": not a SEPA reason code (four letters or digits)`},
		{"line 185", "end-to-end id: missing"},
		{"OrgnlGrpInfAndSts", "totals: DtldNbOfTxs declares 12 rejected transactions, the file lists 11"},
	}
	if !reflect.DeepEqual(f.Rejected, want) {
		t.Errorf("rejected:\n%q\nwant:\n%q", f.Rejected, want)
	}
	if f.Ignored != 2 {
		t.Errorf("Ignored = %d, want 2 (ACCP, PDNG)", f.Ignored)
	}
}

func TestFlatRecordOfWrongLength(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "aeb1914_short_record.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var taken []string
	for _, r := range f.Returns {
		taken = append(taken, r.EndToEndID)
	}
	if want := []string{"F2026-0117", "F2026-0119", "F2026-0120"}; !reflect.DeepEqual(taken, want) {
		t.Errorf("taken %q, want %q", taken, want)
	}
	want := []Rejected{{Where: "line 4", Reason: "record 23 of 593 characters, 600 expected"}}
	if !reflect.DeepEqual(f.Rejected, want) {
		t.Errorf("rejected %q, want %q", f.Rejected, want)
	}
}

func TestSizeBound(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	if _, err := Parse("big.xml", big); err == nil || !strings.Contains(err.Error(), "more than the 33554432") {
		t.Errorf("Parse of %d bytes: %v", len(big), err)
	}
	// At the bound the size is not what is refused.
	big = bytes.Repeat([]byte(" "), MaxFileSize)
	if _, err := Parse("spaces.txt", big); err == nil || strings.Contains(err.Error(), "more than") {
		t.Errorf("Parse of %d spaces: %v, want refused as empty", len(big), err)
	}
	// ReadFile refuses a large file on its size, as the file system gives it.
	path := filepath.Join(t.TempDir(), "huge.xml")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "huge.xml: 33554433 bytes, more than") {
		t.Errorf("ReadFile of a file one byte too large: %v", err)
	}
	if _, err := ReadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadFile of a folder: %v", err)
	}
}

// nested is a pain.002 whose message element holds elements down to a
// total depth of depth.
func nested(depth int) []byte {
	inner := depth - 2
	return []byte(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>` +
		strings.Repeat("<a>", inner) + strings.Repeat("</a>", inner) + `</CstmrPmtStsRpt></Document>`)
}

func TestDepthBound(t *testing.T) {
	if _, err := Parse("deep.xml", nested(MaxXMLDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxXMLDepth, err)
	}
	for _, depth := range []int{MaxXMLDepth + 1, 1_000_000} {
		_, err := Parse("deep.xml", nested(depth))
		if err == nil || !strings.Contains(err.Error(), "nests deeper than 32") {
			t.Errorf("depth %d: %v", depth, err)
		}
	}
}

func TestDoctypeRefused(t *testing.T) {
	sample, err := os.ReadFile(samplePath("pain002_es_bank.xml"))
	if err != nil {
		t.Fatal(err)
	}
	body := sample[bytes.Index(sample, []byte("<Document")):]
	for _, prolog := range []string{
		`<!DOCTYPE Document>`,
		`<!doctype Document SYSTEM "file:///etc/passwd">`,
		`<!DOCTYPE Document [<!ENTITY x SYSTEM "http://example.invalid/x">]>`,
	} {
		if _, err := Parse("dtd.xml", append([]byte(prolog+"\n"), body...)); err == nil || !strings.Contains(err.Error(), "DOCTYPE") {
			t.Errorf("%s: %v", prolog, err)
		}
	}
	// An entity nobody declared is malformed XML.
	bad := bytes.Replace(body, []byte("ELEGA-PRE-20260301-01<"), []byte("&xxe;<"), 1)
	if _, err := Parse("entity.xml", bad); err == nil {
		t.Error("an undeclared entity was read")
	}
}

func TestNotReturnFiles(t *testing.T) {
	iso := func(ns, body string) string {
		return `<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:` + ns + `">` + body + `</Document>`
	}
	for _, tt := range []struct{ name, data, why string }{
		{"empty", "", "is empty"},
		{"spaces", " \r\n\t", "is empty"},
		{"text", "hola, esto no es un fichero del banco", "neither XML"},
		{"19.14 presentation", aebLine(t, num(1, 2, "01"), num(3, 7, "19143")), "presentation file"},
		{"19.15 returns", aebLine(t, num(1, 2, "21"), num(3, 7, "19154")), "version 19154"},
		{"flat, other record", aebLine(t, num(1, 2, "31"), num(3, 7, "19143")), "starts with record 31"},
		{"NUL bytes", "2119143\x00", "NUL"},
		{"camt.053", iso("camt.053.001.02", "<BkToCstmrStmt/>"), "camt.053.001.02 is not a return file"},
		{"pain.002 namespace, camt body", iso("pain.002.001.03", "<BkToCstmrDbtCdtNtfctn/>"), "holds BkToCstmrDbtCdtNtfctn"},
		{"unknown message, no namespace", "<Document><Foo/></Document>", "Foo"},
		{"root not Document", `<Envelope><CstmrPmtStsRpt/></Envelope>`, "root element is Envelope"},
		{"two roots", iso("pain.002.001.03", "<CstmrPmtStsRpt/>") + "<Document/>", "more than one root"},
		{"text after the root", iso("pain.002.001.03", "<CstmrPmtStsRpt/>") + "basura", "text outside"},
		{"unknown encoding", `<?xml version="1.0" encoding="ISO-2022-JP"?><Document/>`, "ISO-2022-JP"},
		{"wrong amount type", iso("pain.002.001.03", "<CstmrPmtStsRpt><GrpHdr><MsgId>1</MsgId></GrpHdr><OrgnlPmtInfAndSts><TxInfAndSts><OrgnlTxRef><Amt><InstdAmt Ccy=\"EUR\"><x/></InstdAmt></Amt></OrgnlTxRef></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt>"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x", []byte(tt.data))
			if tt.why == "" {
				// Whatever it says, nothing is taken.
				if len(f.Returns) > 0 {
					t.Errorf("took %+v", f.Returns)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.why) || !strings.HasPrefix(err.Error(), "bank file x: ") {
				t.Errorf("Parse: %v, want an error naming the file and saying %q", err, tt.why)
			}
		})
	}
}

// TestXMLWithoutNamespace: a pain.002 without its namespace is told by its
// message element.
func TestXMLWithoutNamespace(t *testing.T) {
	data := `<?xml version="1.0" encoding="UTF-8"?><Document><CstmrPmtStsRpt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-12T08:41:07Z</CreDtTm></GrpHdr>` +
		`<OrgnlGrpInfAndSts><OrgnlMsgId>O1</OrgnlMsgId></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>F2026-0101</OrgnlEndToEndId>` +
		`<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf><OrgnlTxRef><Amt><InstdAmt Ccy="EUR">10</InstdAmt></Amt></OrgnlTxRef>` +
		`</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`
	f, err := Parse("nons.xml", append([]byte("\xef\xbb\xbf"), data...))
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != FormatPain002 || f.Version != "pain.002" || len(f.Returns) != 1 {
		t.Fatalf("got %s %s with %d returns", f.Format, f.Version, len(f.Returns))
	}
	r := f.Returns[0]
	// CreDtTm in UTC: 08:41 UTC is 09:41 in Madrid.
	if r.AmountCents != 1000 || !r.ReturnedOn.Equal(f.CreatedAt) || f.CreatedAt.Hour() != 9 || !r.RequestedOn.IsZero() {
		t.Errorf("return %+v, created %v", r, f.CreatedAt)
	}
}

func TestPain002Groups(t *testing.T) {
	doc := func(group, pmt string) []byte {
		return []byte(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-12T09:41:07</CreDtTm></GrpHdr>` +
			`<OrgnlGrpInfAndSts><OrgnlMsgId>ELEGA-PRE-1</OrgnlMsgId>` + group + `</OrgnlGrpInfAndSts>` + pmt + `</CstmrPmtStsRpt></Document>`)
	}
	tx := func(sts, rsn string) string {
		s := `<TxInfAndSts><OrgnlEndToEndId>F2026-0101</OrgnlEndToEndId>`
		if sts != "" {
			s += `<TxSts>` + sts + `</TxSts>`
		}
		if rsn != "" {
			s += `<StsRsnInf><Orgtr><Nm>DEUDOR</Nm></Orgtr><Rsn><Cd>` + rsn + `</Cd></Rsn></StsRsnInf>`
		}
		return s + `<OrgnlTxRef><Amt><InstdAmt Ccy="EUR">10.00</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>`
	}
	for _, tt := range []struct {
		name, group, pmt string
		returns, ignored int
		reason, orgtr    string
		rejected         []Rejected
	}{
		{name: "whole file rejected, nothing listed", group: `<GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf>`,
			rejected: []Rejected{{"OrgnlGrpInfAndSts", "the whole collection file ELEGA-PRE-1 was rejected (FF01) and none of its transactions is listed"}}},
		{name: "whole block rejected, nothing listed", pmt: `<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId><PmtInfSts>RJCT</PmtInfSts><StsRsnInf><Rsn><Cd>AM05</Cd></Rsn></StsRsnInf></OrgnlPmtInfAndSts>`,
			rejected: []Rejected{{"payment information P1", "the whole block was rejected (AM05) and none of its transactions is listed"}}},
		{name: "block rejected, reason on the block", pmt: `<OrgnlPmtInfAndSts><PmtInfSts>RJCT</PmtInfSts><StsRsnInf><Orgtr><Nm>ENTIDAD DEL ACREEDOR</Nm></Orgtr><Rsn><Cd>FF05</Cd></Rsn></StsRsnInf>` + tx("", "") + `</OrgnlPmtInfAndSts>`,
			returns: 1, reason: "FF05", orgtr: OriginatorCreditorBank},
		{name: "no status, own reason, block partly accepted", pmt: `<OrgnlPmtInfAndSts><PmtInfSts>PART</PmtInfSts>` + tx("", "MS02") + `</OrgnlPmtInfAndSts>`,
			returns: 1, reason: "MS02", orgtr: OriginatorDebtor},
		{name: "no status, block accepted", pmt: `<OrgnlPmtInfAndSts><PmtInfSts>ACCP</PmtInfSts>` + tx("", "") + `</OrgnlPmtInfAndSts>`,
			ignored: 1},
		{name: "accepted with a reason", pmt: `<OrgnlPmtInfAndSts>` + tx("ACCP", "AM04") + `</OrgnlPmtInfAndSts>`,
			ignored: 1},
		{name: "DtldCtrlSum differs", group: `<NbOfTxsPerSts><DtldNbOfTxs>1</DtldNbOfTxs><DtldSts>RJCT</DtldSts><DtldCtrlSum>12.00</DtldCtrlSum></NbOfTxsPerSts>`,
			pmt: `<OrgnlPmtInfAndSts>` + tx("RJCT", "AM04") + `</OrgnlPmtInfAndSts>`, returns: 1, reason: "AM04", orgtr: OriginatorDebtor,
			rejected: []Rejected{{"OrgnlGrpInfAndSts", "totals: DtldCtrlSum declares 12.00, the rejected transactions add up to 10.00"}}},
		{name: "accepted counts are not compared", group: `<NbOfTxsPerSts><DtldNbOfTxs>249</DtldNbOfTxs><DtldSts>ACCP</DtldSts></NbOfTxsPerSts>`,
			pmt: `<OrgnlPmtInfAndSts>` + tx("RJCT", "AM04") + `</OrgnlPmtInfAndSts>`, returns: 1, reason: "AM04", orgtr: OriginatorDebtor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("p.xml", doc(tt.group, tt.pmt))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Returns) != tt.returns || f.Ignored != tt.ignored || !reflect.DeepEqual(f.Rejected, tt.rejected) {
				t.Fatalf("returns %+v, ignored %d, rejected %q", f.Returns, f.Ignored, f.Rejected)
			}
			if tt.returns == 1 && (f.Returns[0].Reason != tt.reason || f.Returns[0].Originator != tt.orgtr) {
				t.Errorf("reason %s by %q, want %s by %q", f.Returns[0].Reason, f.Returns[0].Originator, tt.reason, tt.orgtr)
			}
		})
	}
}

// TestPain002CreationTime: without a readable creation time a pain.002 has
// no return date, and its returns are rejected saying so.
func TestPain002CreationTime(t *testing.T) {
	for _, tt := range []struct{ hdr, why string }{
		{``, "return date: the file's creation time (GrpHdr/CreDtTm) is missing"},
		{`<CreDtTm>12/03/2026</CreDtTm>`, "return date: the file's creation time (GrpHdr/CreDtTm) 12/03/2026 is not a date and time"},
		{`<CreDtTm>1999-12-31T23:00:00</CreDtTm>`, "return date: the file's creation time (GrpHdr/CreDtTm) 1999-12-31T23:00:00 is not a date of this century"},
	} {
		data := `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt><GrpHdr><MsgId>M1</MsgId>` + tt.hdr + `</GrpHdr>` +
			`<OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>F2026-0101</OrgnlEndToEndId><TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AM04</Cd></Rsn></StsRsnInf>` +
			`<OrgnlTxRef><Amt><InstdAmt Ccy="EUR">10.00</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>`
		f, err := Parse("p.xml", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		want := []Rejected{{"end-to-end id F2026-0101", tt.why}}
		if len(f.Returns) != 0 || !reflect.DeepEqual(f.Rejected, want) || !f.CreatedAt.IsZero() {
			t.Errorf("%s: returns %+v, rejected %q, created %v", tt.hdr, f.Returns, f.Rejected, f.CreatedAt)
		}
	}
}

func TestCamt054Entries(t *testing.T) {
	entry := func(ind, extra, details string) string {
		return `<Ntry><Amt Ccy="EUR">20.00</Amt><CdtDbtInd>` + ind + `</CdtDbtInd>` + extra + details + `</Ntry>`
	}
	txd := func(e2e, amt string, rtr bool) string {
		s := `<TxDtls><Refs><EndToEndId>` + e2e + `</EndToEndId></Refs>`
		if amt != "" {
			s += `<AmtDtls><InstdAmt><Amt Ccy="EUR">` + amt + `</Amt></InstdAmt></AmtDtls>`
		}
		if rtr {
			s += `<RtrInf><Rsn><Cd>AM04</Cd></Rsn></RtrInf>`
		}
		return s + `</TxDtls>`
	}
	dtls := func(txs ...string) string { return `<NtryDtls>` + strings.Join(txs, "") + `</NtryDtls>` }
	doc := func(created string, entries ...string) []byte {
		return []byte(`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>C1</MsgId>` + created +
			`</GrpHdr><Ntfctn>` + strings.Join(entries, "") + `</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>`)
	}
	const created = `<CreDtTm>2026-03-13T07:15:00+01:00</CreDtTm>`
	for _, tt := range []struct {
		name     string
		data     []byte
		taken    []string
		ignored  int
		rejected []Rejected
	}{
		{name: "reversal", data: doc(created, entry("DBIT", `<RvslInd>true</RvslInd>`, dtls(txd("F2026-0101", "20.00", true)))), ignored: 1},
		{name: "credit without details", data: doc(created, entry("CRDT", "", "")), ignored: 1},
		{name: "debit without details", data: doc(created, entry("DBIT", "", "")), ignored: 1},
		{name: "debit without return information", data: doc(created, entry("DBIT", "", dtls(txd("F2026-0101", "20.00", false), txd("F2026-0102", "", true)))),
			ignored: 1, rejected: []Rejected{{"end-to-end id F2026-0102", "amount: missing"}}},
		{name: "entry amount for its single transaction", data: doc(created, entry("DBIT", "", dtls(txd("F2026-0101", "", true)))),
			taken: []string{"F2026-0101 2000 2026-03-13"}},
		{name: "value date when no booking date", data: doc(created, entry("DBIT", `<ValDt><Dt>2026-03-11</Dt></ValDt>`, dtls(txd("F2026-0101", "", true)))),
			taken: []string{"F2026-0101 2000 2026-03-11"}},
		{name: "bad booking date", data: doc(created, entry("DBIT", `<BookgDt><Dt>2026-13-01</Dt></BookgDt>`, dtls(txd("F2026-0101", "", true)))),
			rejected: []Rejected{{"end-to-end id F2026-0101", "return date: BookgDt/Dt 2026-13-01 is not a date"}}},
		{name: "no date at all", data: doc("", entry("DBIT", "", dtls(txd("F2026-0101", "", true)))),
			rejected: []Rejected{{"end-to-end id F2026-0101", "return date: the entry has no booking date and the file's creation time (GrpHdr/CreDtTm) is missing"}}},
		{name: "NOTPROVIDED end-to-end id", data: doc(created, entry("DBIT", "", dtls(txd("NOTPROVIDED", "", true)))),
			rejected: []Rejected{{"line 1", "end-to-end id: missing"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("c.xml", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			var taken []string
			for _, r := range f.Returns {
				taken = append(taken, strings.Join([]string{r.EndToEndID, centsDigits(r.AmountCents), r.ReturnedOn.Format(isoDate)}, " "))
			}
			if !reflect.DeepEqual(taken, tt.taken) || f.Ignored != tt.ignored || !reflect.DeepEqual(f.Rejected, tt.rejected) {
				t.Errorf("taken %q, ignored %d, rejected %q; want %q, %d, %q", taken, f.Ignored, f.Rejected, tt.taken, tt.ignored, tt.rejected)
			}
		})
	}
}

func centsDigits(c int64) string {
	return strings.TrimLeft(strings.ReplaceAll(centsText(c), ".", ""), "0")
}

// TestAEB1914Variants reads the 19.14 sample as banks also send it, and
// with its records spoiled one at a time.
func TestAEB1914Variants(t *testing.T) {
	sample := sampleReturnsFile(t)
	with := func(change func([]string) []string) []string {
		return change(append([]string(nil), sample...))
	}
	set := func(line int, fields ...at) func([]string) []string {
		return func(l []string) []string {
			rec := []rune(l[line-1])
			for _, f := range fields {
				v := []rune(aebLine(t, f))[f.from-1 : f.to]
				copy(rec[f.from-1:f.to], v)
			}
			l[line-1] = string(rec)
			return l
		}
	}
	for _, tt := range []struct {
		name     string
		data     []byte
		taken    int
		rejected []Rejected
	}{
		{name: "LF line ends", data: latin1(t, strings.Join(sample, "\n")), taken: 4},
		{name: "no line ends", data: latin1(t, strings.Join(sample, "")), taken: 4},
		{name: "UTF-8", data: []byte(strings.Join(sample, "\r\n") + "\r\n"), taken: 4},
		{name: "blank lines and an end-of-file mark", data: latin1(t, "\r\n"+strings.Join(sample, "\r\n\r\n")+"\r\n\x1a"), taken: 4},
		{name: "no total record", data: latin1(t, strings.Join(sample[:len(sample)-1], "\n")), taken: 4,
			rejected: []Rejected{{"end of file", "totals: no record 99; the file may be cut short"}}},
		{name: "totals differ", data: latin1(t, strings.Join(with(set(11, num(3, 19, "45038"), num(20, 27, "5"))), "\n")), taken: 4,
			rejected: []Rejected{
				{"line 11", "totals: record 99 counts 5 individual records, the file has 4"},
				{"line 11", "totals: record 99 adds up to 450.38, the individual records to 450.37"},
			}},
		{name: "amount not digits, reason blank", data: latin1(t, strings.Join(with(set(3, text(89, 99, "34.50"), text(582, 585, ""))), "\n")), taken: 3,
			rejected: []Rejected{{"line 3", `amount "34.50": not 11 digits of cents; reason: missing`}}},
		{name: "amount above the bound", data: latin1(t, strings.Join(with(set(3, num(89, 99, "10000003450"))), "\n")), taken: 3,
			rejected: []Rejected{{"line 3", "amount 100000034.50: more than 100.000.000,00"}, {"line 11", "totals: record 99 adds up to 450.37, the individual records to 100000450.37"}}},
		{name: "zero amount", data: latin1(t, strings.Join(with(set(3, num(89, 99, "0"))), "\n")), taken: 3,
			rejected: []Rejected{{"line 3", "amount 0.00: not more than zero"}, {"line 11", "totals: record 99 adds up to 450.37, the individual records to 415.87"}}},
		{name: "blank reason and end-to-end id", data: latin1(t, strings.Join(with(set(4, text(582, 585, ""), text(11, 45, ""))), "\n")), taken: 3,
			rejected: []Rejected{{"line 4", "end-to-end id: missing; reason: missing"}}},
		{name: "bad collection date", data: latin1(t, strings.Join(with(set(7, num(586, 593, "20260230"))), "\n")), taken: 3,
			rejected: []Rejected{{"line 7", "requested collection date 20260230: not a date"}}},
		{name: "bad return date", data: latin1(t, strings.Join(with(set(6, num(46, 53, "0"))), "\n")), taken: 2,
			rejected: []Rejected{
				{"line 6", `return date "00000000": not a date`},
				{"line 7", `return date: its block's return date "00000000" (line 6) is not a date`},
				{"line 8", `return date: its block's return date "00000000" (line 6) is not a date`},
			}},
		{name: "no creditor header", data: latin1(t, strings.Join(append(sample[:1:1], sample[2:]...), "\n")), taken: 2,
			rejected: []Rejected{
				{"line 2", "return date: no creditor header (record 22) before this record"},
				{"line 3", "return date: no creditor header (record 22) before this record"},
			}},
		{name: "a presentation record among the returns", data: latin1(t, strings.Join(with(func(l []string) []string {
			return append(l[:3], append([]string{aebLine(t, num(1, 2, "03"), num(3, 7, "19143"))}, l[3:]...)...)
		}), "\n")), taken: 4,
			rejected: []Rejected{{"line 4", "record code 03: not a record of a 19.14 devoluciones file"}}},
		{name: "same end-to-end id twice", data: latin1(t, strings.Join(with(set(8, text(11, 45, "F2026-0117"))), "\n")), taken: 3,
			rejected: []Rejected{{"line 8", "end-to-end id F2026-0117: repeated (first at line 3)"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("n19.txt", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Returns) != tt.taken || !reflect.DeepEqual(f.Rejected, tt.rejected) {
				t.Errorf("took %d, rejected:\n%q\nwant %d and:\n%q", len(f.Returns), f.Rejected, tt.taken, tt.rejected)
			}
			for _, r := range f.Returns {
				if r.DebtorName == "Íñigo Peña Álvarez" {
					return
				}
			}
			if tt.taken == 4 {
				t.Error("Íñigo Peña Álvarez not read as written")
			}
		})
	}
}
