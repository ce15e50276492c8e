package bankfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// parseXML tells a pain.002 from a camt.054 by the namespace of the
// document (urn:iso:std:iso:20022:tech:xsd:pain.002.001.NN), or by its
// message element when there is no ISO namespace, and reads it.
//
// The file is first scanned whole: it must be well formed, closed, no deeper
// than MaxXMLDepth and free of DOCTYPE and entity declarations. Only then is
// it decoded, so a truncated file gives no returns at all.
func parseXML(f *File, data []byte) error {
	root, message, err := scanXML(data)
	if err != nil {
		return err
	}
	if root.Local != "Document" {
		return fmt.Errorf("XML root element is %s, not the Document of an ISO 20022 message", root.Local)
	}
	version := isoMessage(root.Space)
	kind := version
	if version == "" {
		// No ISO namespace: the message element says what it is.
		switch message.Local {
		case "CstmrPmtStsRpt":
			kind = "pain.002.001."
		case "BkToCstmrDbtCdtNtfctn":
			kind = "camt.054.001."
		}
	}
	switch {
	case strings.HasPrefix(kind, "pain.002.001."):
		if message.Local != "CstmrPmtStsRpt" {
			return fmt.Errorf("%s document holds %s, not CstmrPmtStsRpt", version, message.Local)
		}
		f.Format, f.Version = FormatPain002, version
		return parsePain002(f, data)
	case strings.HasPrefix(kind, "camt.054.001."):
		if message.Local != "BkToCstmrDbtCdtNtfctn" {
			return fmt.Errorf("%s document holds %s, not BkToCstmrDbtCdtNtfctn", version, message.Local)
		}
		f.Format, f.Version = FormatCamt054, version
		return parseCamt054(f, data)
	case version != "":
		return fmt.Errorf("message %s is not a return file: a pain.002 status report or a camt.054 notification is expected", version)
	default:
		return fmt.Errorf("XML message %s (namespace %q) is not a return file: a pain.002 status report or a camt.054 notification is expected", message.Local, root.Space)
	}
}

// isoMessage returns the message id at the end of an ISO 20022 namespace
// ("urn:iso:std:iso:20022:tech:xsd:pain.002.001.03" gives "pain.002.001.03"),
// or "" when the namespace is not of that form.
func isoMessage(ns string) string {
	const prefix = "urn:iso:std:iso:20022:tech:xsd:"
	id, ok := strings.CutPrefix(strings.TrimSpace(ns), prefix)
	if !ok {
		return ""
	}
	// xxxx.nnn.nnn.nn
	if len(id) != 15 || id[4] != '.' || id[8] != '.' || id[12] != '.' {
		return ""
	}
	for i, c := range []byte(id) {
		switch {
		case i < 4:
			if c < 'a' || c > 'z' {
				return ""
			}
		case i == 4 || i == 8 || i == 12:
		default:
			if !isDigit(c) {
				return ""
			}
		}
	}
	return id
}

// scanXML reads every token of the document and returns the root element
// and its first child (the message). It refuses malformed or truncated XML,
// nesting deeper than MaxXMLDepth, DOCTYPE and ENTITY declarations, more
// than one root and text outside the root.
func scanXML(data []byte) (root, message xml.Name, err error) {
	d := newDecoder(data)
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return root, message, fmt.Errorf("XML is malformed or cut short: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > MaxXMLDepth {
				line, _ := d.InputPos()
				return root, message, fmt.Errorf("XML nests deeper than %d elements (line %d)", MaxXMLDepth, line)
			}
			switch depth {
			case 1:
				if roots++; roots > 1 {
					return root, message, errors.New("XML has more than one root element")
				}
				root = t.Name
			case 2:
				if message.Local == "" {
					message = t.Name
				}
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			word := strings.ToUpper(strings.TrimSpace(string(t)))
			if strings.HasPrefix(word, "DOCTYPE") || strings.HasPrefix(word, "ENTITY") {
				return root, message, errors.New("XML with a DOCTYPE or entity declaration is refused")
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return root, message, errors.New("XML has text outside its root element")
			}
		}
	}
	if roots == 0 {
		return root, message, errors.New("XML has no element")
	}
	return root, message, nil
}

// newDecoder is a strict decoder that also reads ISO-8859-1, the encoding
// some Spanish banks declare.
func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = charsetReader
	return d
}

// charsetReader converts the single-byte encodings Spanish banks use to
// UTF-8. Windows-1252 differs from ISO-8859-1 only in 0x80–0x9F, which hold
// control characters in ISO-8859-1 and never appear in these files, so both
// are read as ISO-8859-1.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToUpper(strings.ReplaceAll(charset, "_", "-")) {
	case "ISO-8859-1", "ISO8859-1", "LATIN1", "LATIN-1", "WINDOWS-1252", "CP1252", "US-ASCII", "ASCII":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return bytes.NewReader(latin1ToUTF8(b)), nil
	}
	return nil, fmt.Errorf("XML encoding %q is not supported (UTF-8 or ISO-8859-1 expected)", charset)
}

// latin1ToUTF8 decodes ISO-8859-1: each byte is the code point of the same
// number.
func latin1ToUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+len(b)/8)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// The element types shared by the two ISO 20022 messages. Fields are matched
// by local name, so any namespace prefix is read.

// xmlAmount is an amount with its currency attribute.
type xmlAmount struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

func (a *xmlAmount) given() bool { return a != nil && strings.TrimSpace(a.Value) != "" }

// party is a debtor, or the originator of a status or return. Version .03
// of pain.002 and .02 of camt.054 put the name in Nm; later versions of
// some elements wrap the party in Pty.
type party struct {
	Nm  string `xml:"Nm"`
	Pty struct {
		Nm string `xml:"Nm"`
	} `xml:"Pty"`
	Id struct {
		OrgId struct {
			BICOrBEI string `xml:"BICOrBEI"`
			AnyBIC   string `xml:"AnyBIC"`
			Othr     []struct {
				Id string `xml:"Id"`
			} `xml:"Othr"`
		} `xml:"OrgId"`
		PrvtId struct {
			Othr []struct {
				Id string `xml:"Id"`
			} `xml:"Othr"`
		} `xml:"PrvtId"`
	} `xml:"Id"`
}

func (p *party) name() string {
	if n := strings.TrimSpace(p.Nm); n != "" {
		return n
	}
	return strings.TrimSpace(p.Pty.Nm)
}

func (p *party) bic() string {
	if b := strings.TrimSpace(p.Id.OrgId.BICOrBEI); b != "" {
		return b
	}
	return strings.TrimSpace(p.Id.OrgId.AnyBIC)
}

func (p *party) otherID() string {
	for _, o := range p.Id.OrgId.Othr {
		if id := strings.TrimSpace(o.Id); id != "" {
			return id
		}
	}
	for _, o := range p.Id.PrvtId.Othr {
		if id := strings.TrimSpace(o.Id); id != "" {
			return id
		}
	}
	return ""
}

// account is a debtor's account; only the IBAN is read.
type account struct {
	Id struct {
		IBAN string `xml:"IBAN"`
	} `xml:"Id"`
}

// agent is a bank, named by its BIC (BIC in the older versions, BICFI in
// the later).
type agent struct {
	FinInstnId struct {
		BIC   string `xml:"BIC"`
		BICFI string `xml:"BICFI"`
	} `xml:"FinInstnId"`
}

func (a *agent) bic() string {
	if b := strings.TrimSpace(a.FinInstnId.BIC); b != "" {
		return b
	}
	return strings.TrimSpace(a.FinInstnId.BICFI)
}

// reasonCode is a status or return reason: a code of the ISO external list,
// or a proprietary one.
type reasonCode struct {
	Cd    string `xml:"Cd"`
	Prtry string `xml:"Prtry"`
}

// code returns the reason and whether it is proprietary.
func (r *reasonCode) code() (string, bool) {
	if c := strings.TrimSpace(r.Cd); c != "" {
		return c, false
	}
	if p := strings.TrimSpace(r.Prtry); p != "" {
		return p, true
	}
	return "", false
}

// positioned records the line at which an element starts, so that a
// transaction without an end-to-end id can still be named.
type positioned struct{ line int }

func (p *positioned) at(d *xml.Decoder) {
	p.line, _ = d.InputPos()
}

// creationTime reads GrpHdr/CreDtTm into f.CreatedAt and says why it could
// not, for the returns that depend on it.
func creationTime(f *File, s string) (problem string) {
	if strings.TrimSpace(s) == "" {
		return "the file's creation time (GrpHdr/CreDtTm) is missing"
	}
	t, err := parseDateTime(s)
	if err != nil {
		return fmt.Sprintf("the file's creation time (GrpHdr/CreDtTm) %s is %v", strings.TrimSpace(s), err)
	}
	f.CreatedAt = t
	return ""
}
