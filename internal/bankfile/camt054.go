package bankfile

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// A camt.054 (bank to customer debit/credit notification) lists the entries
// booked on the creditor's account. A returned direct debit is a debit entry
// (CdtDbtInd DBIT) whose transaction details carry return information
// (RtrInf); every other transaction is ignored and counted. Read:
//
//	GrpHdr/MsgId, GrpHdr/CreDtTm
//	Ntfctn/Ntry/{Amt,CdtDbtInd,RvslInd,BookgDt/{Dt|DtTm},ValDt/{Dt|DtTm}}
//	Ntfctn/Ntry/NtryDtls/TxDtls/
//	  Refs/{InstrId,EndToEndId,MndtId},
//	  AmtDtls/InstdAmt/Amt or AmtDtls/TxAmt/Amt or Amt (Ccy), else the
//	    entry's Amt when it has a single transaction,
//	  RltdPties/Dbtr/{Nm|Pty/Nm}, RltdPties/DbtrAcct/Id/IBAN,
//	  RltdAgts/{DbtrAgt,CdtrAgt}/FinInstnId/{BIC|BICFI},
//	  RltdDts/IntrBkSttlmDt (the collection date asked for),
//	  RtrInf/Orgtr/{Nm | Id/OrgId/BICOrBEI | Id/OrgId/AnyBIC}, RtrInf/Rsn/{Cd|Prtry}
//
// ReturnedOn is the entry's booking date, else its value date, else the
// file's creation time.
type camtDoc struct {
	Ntf struct {
		GrpHdr struct {
			MsgId   string `xml:"MsgId"`
			CreDtTm string `xml:"CreDtTm"`
		} `xml:"GrpHdr"`
		Ntfctns []struct {
			Entries []camtEntry `xml:"Ntry"`
		} `xml:"Ntfctn"`
	} `xml:"BkToCstmrDbtCdtNtfctn"`
}

type camtEntry struct {
	positioned
	Amt       *xmlAmount `xml:"Amt"`
	CdtDbtInd string     `xml:"CdtDbtInd"`
	RvslInd   string     `xml:"RvslInd"`
	BookgDt   dateChoice `xml:"BookgDt"`
	ValDt     dateChoice `xml:"ValDt"`
	Details   []struct {
		Txs []camtTx `xml:"TxDtls"`
	} `xml:"NtryDtls"`
}

type dateChoice struct {
	Dt   string `xml:"Dt"`
	DtTm string `xml:"DtTm"`
}

type camtTx struct {
	positioned
	Refs struct {
		InstrId    string `xml:"InstrId"`
		EndToEndId string `xml:"EndToEndId"`
		MndtId     string `xml:"MndtId"`
	} `xml:"Refs"`
	AmtDtls struct {
		InstdAmt struct {
			Amt *xmlAmount `xml:"Amt"`
		} `xml:"InstdAmt"`
		TxAmt struct {
			Amt *xmlAmount `xml:"Amt"`
		} `xml:"TxAmt"`
	} `xml:"AmtDtls"`
	Amt       *xmlAmount `xml:"Amt"`
	RltdPties struct {
		Dbtr     party   `xml:"Dbtr"`
		DbtrAcct account `xml:"DbtrAcct"`
	} `xml:"RltdPties"`
	RltdAgts struct {
		DbtrAgt agent `xml:"DbtrAgt"`
		CdtrAgt agent `xml:"CdtrAgt"`
	} `xml:"RltdAgts"`
	RltdDts struct {
		IntrBkSttlmDt string `xml:"IntrBkSttlmDt"`
	} `xml:"RltdDts"`
	RtrInf *struct {
		Orgtr *party     `xml:"Orgtr"`
		Rsn   reasonCode `xml:"Rsn"`
	} `xml:"RtrInf"`
}

// UnmarshalXML decodes the entry and keeps the line it starts on.
func (e *camtEntry) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain camtEntry // without this method
	var p plain
	p.at(d)
	if err := d.DecodeElement(&p, &start); err != nil {
		return err
	}
	*e = camtEntry(p)
	return nil
}

// UnmarshalXML decodes the transaction and keeps the line it starts on.
func (t *camtTx) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain camtTx // without this method
	var p plain
	p.at(d)
	if err := d.DecodeElement(&p, &start); err != nil {
		return err
	}
	*t = camtTx(p)
	return nil
}

func parseCamt054(f *File, data []byte) error {
	var doc camtDoc
	if err := newDecoder(data).Decode(&doc); err != nil {
		return fmt.Errorf("%s: %v", f.Version, err)
	}
	if f.Version == "" {
		f.Version = "camt.054"
	}
	f.MessageID = strings.TrimSpace(doc.Ntf.GrpHdr.MsgId)
	dateProblem := creationTime(f, doc.Ntf.GrpHdr.CreDtTm)
	seen := make(map[string]string)
	for i := range doc.Ntf.Ntfctns {
		for j := range doc.Ntf.Ntfctns[i].Entries {
			readEntry(f, &doc.Ntf.Ntfctns[i].Entries[j], dateProblem, seen)
		}
	}
	return nil
}

// readEntry takes the returns of one entry and counts the rest.
func readEntry(f *File, e *camtEntry, dateProblem string, seen map[string]string) {
	var txs []*camtTx
	for i := range e.Details {
		for j := range e.Details[i].Txs {
			txs = append(txs, &e.Details[i].Txs[j])
		}
	}
	// A credit is a collection paid, and a reversal undoes an earlier entry:
	// neither is a return.
	if upperTrim(e.CdtDbtInd) != "DBIT" || strings.EqualFold(strings.TrimSpace(e.RvslInd), "true") {
		f.Ignored += max(len(txs), 1)
		return
	}
	if len(txs) == 0 {
		f.Ignored++
		return
	}
	returnedOn, returnedErr := entryDate(f, e, dateProblem)
	for _, tx := range txs {
		if tx.RtrInf == nil {
			f.Ignored++
			continue
		}
		amt := tx.AmtDtls.InstdAmt.Amt
		for _, alt := range []*xmlAmount{tx.AmtDtls.TxAmt.Amt, tx.Amt} {
			if !amt.given() {
				amt = alt
			}
		}
		if !amt.given() && len(txs) == 1 {
			amt = e.Amt
		}
		c := candidate{
			line:         tx.line,
			endToEnd:     tx.Refs.EndToEndId,
			instruction:  tx.Refs.InstrId,
			mandate:      tx.Refs.MndtId,
			debtorName:   tx.RltdPties.Dbtr.name(),
			debtorIBAN:   tx.RltdPties.DbtrAcct.Id.IBAN,
			requested:    strings.TrimSpace(tx.RltdDts.IntrBkSttlmDt),
			requestedFmt: isoDate,
			returnedOn:   returnedOn,
		}
		c.returnedOnErr = returnedErr
		if amt.given() {
			c.amountText, c.amountGiven, c.currency = strings.TrimSpace(amt.Value), true, amt.Ccy
		}
		c.reason, c.proprietary = tx.RtrInf.Rsn.code()
		if o := tx.RtrInf.Orgtr; o != nil {
			c.originator = originatorOf(o.name(), o.bic(), o.otherID(), tx.RltdAgts.DbtrAgt.bic(), tx.RltdAgts.CdtrAgt.bic())
		}
		f.take(c, seen)
	}
}

// entryDate is the date of the return: the booking date, else the value
// date, else the file's creation time.
func entryDate(f *File, e *camtEntry, dateProblem string) (time.Time, string) {
	for _, c := range []struct {
		name string
		d    dateChoice
	}{{"BookgDt", e.BookgDt}, {"ValDt", e.ValDt}} {
		if s := strings.TrimSpace(c.d.Dt); s != "" {
			t, err := parseDate(s, isoDate)
			if err != nil {
				return time.Time{}, fmt.Sprintf("%s/Dt %s is %v", c.name, s, err)
			}
			return t, ""
		}
		if s := strings.TrimSpace(c.d.DtTm); s != "" {
			t, err := parseDateTime(s)
			if err != nil {
				return time.Time{}, fmt.Sprintf("%s/DtTm %s is %v", c.name, s, err)
			}
			return dayOf(t), ""
		}
	}
	if dateProblem != "" {
		return time.Time{}, "the entry has no booking date and " + dateProblem
	}
	return f.CreatedAt, ""
}
