package bankfile

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// A pain.002 (customer payment status report) answers one collection file
// (a pain.008) and lists its transactions with a status: RJCT for the
// rejected and returned debits, the ones read here. Spanish banks send it for
// the "Norma 19.14 XML". Read:
//
//	GrpHdr/MsgId, GrpHdr/CreDtTm
//	OrgnlGrpInfAndSts/OrgnlMsgId, GrpSts, StsRsnInf
//	OrgnlGrpInfAndSts/NbOfTxsPerSts/{DtldNbOfTxs,DtldSts,DtldCtrlSum}, which
//	  some banks write straight under OrgnlGrpInfAndSts
//	OrgnlPmtInfAndSts/{OrgnlPmtInfId,PmtInfSts,StsRsnInf}
//	OrgnlPmtInfAndSts/TxInfAndSts/
//	  OrgnlInstrId, OrgnlEndToEndId, TxSts,
//	  StsRsnInf/Orgtr/{Nm | Id/OrgId/BICOrBEI | Id/OrgId/AnyBIC}, StsRsnInf/Rsn/{Cd|Prtry},
//	  OrgnlTxRef/Amt/InstdAmt (Ccy), ReqdColltnDt, MndtRltdInf/MndtId,
//	  Dbtr/Nm (Dbtr/Pty/Nm from version .10 on), DbtrAcct/Id/IBAN,
//	  DbtrAgt/FinInstnId/{BIC|BICFI}, CdtrAgt/FinInstnId/{BIC|BICFI}
//
// The message has no date of return: ReturnedOn is the file's creation time.
type painDoc struct {
	Rpt struct {
		GrpHdr struct {
			MsgId   string `xml:"MsgId"`
			CreDtTm string `xml:"CreDtTm"`
		} `xml:"GrpHdr"`
		Group   painGroup     `xml:"OrgnlGrpInfAndSts"`
		PmtInfs []painPmtInfo `xml:"OrgnlPmtInfAndSts"`
	} `xml:"CstmrPmtStsRpt"`
}

type painGroup struct {
	OrgnlMsgId    string         `xml:"OrgnlMsgId"`
	OrgnlMsgNmId  string         `xml:"OrgnlMsgNmId"`
	GrpSts        string         `xml:"GrpSts"`
	StsRsnInf     []statusReason `xml:"StsRsnInf"`
	NbOfTxsPerSts []txsPerStatus `xml:"NbOfTxsPerSts"`
	// The dialect of some Spanish banks: the detailed count and sum straight
	// under the group, without NbOfTxsPerSts.
	DtldNbOfTxs string `xml:"DtldNbOfTxs"`
	DtldSts     string `xml:"DtldSts"`
	DtldCtrlSum string `xml:"DtldCtrlSum"`
}

type txsPerStatus struct {
	DtldNbOfTxs string `xml:"DtldNbOfTxs"`
	DtldSts     string `xml:"DtldSts"`
	DtldCtrlSum string `xml:"DtldCtrlSum"`
}

type painPmtInfo struct {
	OrgnlPmtInfId string         `xml:"OrgnlPmtInfId"`
	PmtInfSts     string         `xml:"PmtInfSts"`
	StsRsnInf     []statusReason `xml:"StsRsnInf"`
	Txs           []painTx       `xml:"TxInfAndSts"`
}

type statusReason struct {
	Orgtr *party     `xml:"Orgtr"`
	Rsn   reasonCode `xml:"Rsn"`
}

type painTx struct {
	positioned
	OrgnlInstrId    string         `xml:"OrgnlInstrId"`
	OrgnlEndToEndId string         `xml:"OrgnlEndToEndId"`
	TxSts           string         `xml:"TxSts"`
	StsRsnInf       []statusReason `xml:"StsRsnInf"`
	OrgnlTxRef      struct {
		Amt struct {
			InstdAmt *xmlAmount `xml:"InstdAmt"`
		} `xml:"Amt"`
		InstdAmt     *xmlAmount `xml:"InstdAmt"` // seen without the Amt wrapper
		ReqdColltnDt string     `xml:"ReqdColltnDt"`
		MndtRltdInf  struct {
			MndtId string `xml:"MndtId"`
		} `xml:"MndtRltdInf"`
		Dbtr     party   `xml:"Dbtr"`
		DbtrAcct account `xml:"DbtrAcct"`
		DbtrAgt  agent   `xml:"DbtrAgt"`
		CdtrAgt  agent   `xml:"CdtrAgt"`
	} `xml:"OrgnlTxRef"`
}

// UnmarshalXML decodes the transaction and keeps the line it starts on.
func (t *painTx) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain painTx // without this method
	var p plain
	p.at(d)
	if err := d.DecodeElement(&p, &start); err != nil {
		return err
	}
	*t = painTx(p)
	return nil
}

func parsePain002(f *File, data []byte) error {
	var doc painDoc
	if err := newDecoder(data).Decode(&doc); err != nil {
		return fmt.Errorf("%s: %v", f.Version, err)
	}
	rpt := &doc.Rpt
	if f.Version == "" {
		f.Version = "pain.002"
	}
	f.MessageID = strings.TrimSpace(rpt.GrpHdr.MsgId)
	f.OriginalMessageID = strings.TrimSpace(rpt.Group.OrgnlMsgId)
	dateProblem := creationTime(f, rpt.GrpHdr.CreDtTm)
	groupStatus := upperTrim(rpt.Group.GrpSts)

	seen := make(map[string]string)
	var rejectedTxs int   // transactions with a rejected status, taken or not
	var rejectedSum int64 // their amounts, where readable
	sumKnown := true
	listed := 0
	for i := range rpt.PmtInfs {
		pi := &rpt.PmtInfs[i]
		pmtStatus := upperTrim(pi.PmtInfSts)
		listed += len(pi.Txs)
		if len(pi.Txs) == 0 && pmtStatus == "RJCT" {
			f.Rejected = append(f.Rejected, Rejected{
				Where:  "payment information " + strings.TrimSpace(pi.OrgnlPmtInfId),
				Reason: "the whole block was rejected" + reasonSuffix(pi.StsRsnInf) + " and none of its transactions is listed",
			})
		}
		for j := range pi.Txs {
			tx := &pi.Txs[j]
			if !isRejected(tx, pmtStatus, groupStatus) {
				f.Ignored++
				continue
			}
			why, orgtr := pickReason(tx.StsRsnInf, pi.StsRsnInf, rpt.Group.StsRsnInf)
			rejectedTxs++
			ref := &tx.OrgnlTxRef
			amt := ref.Amt.InstdAmt
			if !amt.given() {
				amt = ref.InstdAmt
			}
			c := candidate{
				line:         tx.line,
				endToEnd:     tx.OrgnlEndToEndId,
				instruction:  tx.OrgnlInstrId,
				mandate:      ref.MndtRltdInf.MndtId,
				debtorName:   ref.Dbtr.name(),
				debtorIBAN:   ref.DbtrAcct.Id.IBAN,
				requested:    strings.TrimSpace(ref.ReqdColltnDt),
				requestedFmt: isoDate,
			}
			if amt.given() {
				c.amountText, c.amountGiven, c.currency = strings.TrimSpace(amt.Value), true, amt.Ccy
				if cents, err := ParseAmount(c.amountText); err == nil {
					rejectedSum += cents
				} else {
					sumKnown = false
				}
			} else {
				sumKnown = false
			}
			if dateProblem != "" {
				c.returnedOnErr = dateProblem
			} else {
				c.returnedOn = f.CreatedAt
			}
			c.reason, c.proprietary = why.code()
			if orgtr != nil {
				c.originator = originatorOf(orgtr.name(), orgtr.bic(), orgtr.otherID(), ref.DbtrAgt.bic(), ref.CdtrAgt.bic())
			}
			f.take(c, seen)
		}
	}
	if listed == 0 && groupStatus == "RJCT" {
		f.Rejected = append(f.Rejected, Rejected{
			Where:  "OrgnlGrpInfAndSts",
			Reason: fmt.Sprintf("the whole collection file %s was rejected%s and none of its transactions is listed", f.OriginalMessageID, reasonSuffix(rpt.Group.StsRsnInf)),
		})
	}
	checkPainTotals(f, &rpt.Group, rejectedTxs, rejectedSum, sumKnown)
	return nil
}

// isRejected says whether a transaction was rejected or returned: its own
// status is RJCT or, when it has none, its block's or the group's is; or,
// under a partly accepted block (PART) or none, it carries a reason of its
// own.
func isRejected(tx *painTx, pmtStatus, groupStatus string) bool {
	if st := upperTrim(tx.TxSts); st != "" {
		return st == "RJCT"
	}
	outer := firstNonEmpty(pmtStatus, groupStatus)
	if outer == "RJCT" {
		return true
	}
	if outer != "" && outer != "PART" {
		return false
	}
	why, _ := pickReason(tx.StsRsnInf)
	c, _ := why.code()
	return c != ""
}

// pickReason returns the first reason given, looking at the transaction's
// status reasons, then its block's, then the group's, and the originator
// that goes with it (or, when that reason names none, the first originator
// named at the same level).
func pickReason(levels ...[]statusReason) (reasonCode, *party) {
	for _, level := range levels {
		for i := range level {
			if c, _ := level[i].Rsn.code(); c != "" {
				orgtr := level[i].Orgtr
				for k := 0; orgtr == nil && k < len(level); k++ {
					orgtr = level[k].Orgtr
				}
				return level[i].Rsn, orgtr
			}
		}
	}
	return reasonCode{}, nil
}

// reasonSuffix is " (FF01)" for the first reason of a list, or "".
func reasonSuffix(rs []statusReason) string {
	for i := range rs {
		if c, _ := rs[i].Rsn.code(); c != "" {
			return " (" + c + ")"
		}
	}
	return ""
}

// checkPainTotals compares the count and sum the file declares for its
// rejected transactions with those it lists. Only the detailed counts
// (DtldNbOfTxs) are compared: OrgnlNbOfTxs counts the original collection
// file, accepted debits included.
func checkPainTotals(f *File, g *painGroup, count int, sum int64, sumKnown bool) {
	var declCount, declSum string
	for _, n := range g.NbOfTxsPerSts {
		if st := upperTrim(n.DtldSts); st == "RJCT" || st == "" {
			declCount, declSum = n.DtldNbOfTxs, n.DtldCtrlSum
			break
		}
	}
	if declCount == "" && (upperTrim(g.DtldSts) == "RJCT" || upperTrim(g.DtldSts) == "") {
		declCount, declSum = g.DtldNbOfTxs, g.DtldCtrlSum
	}
	declCount, declSum = strings.TrimSpace(declCount), strings.TrimSpace(declSum)
	if declCount != "" {
		n, err := strconv.Atoi(declCount)
		switch {
		case err != nil || n < 0:
			f.Rejected = append(f.Rejected, Rejected{Where: "OrgnlGrpInfAndSts", Reason: fmt.Sprintf("totals: DtldNbOfTxs %s is not a count", declCount)})
		case n != count:
			f.Rejected = append(f.Rejected, Rejected{Where: "OrgnlGrpInfAndSts", Reason: fmt.Sprintf("totals: DtldNbOfTxs declares %d rejected transactions, the file lists %d", n, count)})
		}
	}
	if declSum != "" {
		s, err := ParseAmount(declSum)
		switch {
		case err != nil:
			f.Rejected = append(f.Rejected, Rejected{Where: "OrgnlGrpInfAndSts", Reason: "totals: DtldCtrlSum: " + err.Error()})
		case sumKnown && s != sum:
			f.Rejected = append(f.Rejected, Rejected{Where: "OrgnlGrpInfAndSts", Reason: fmt.Sprintf("totals: DtldCtrlSum declares %s, the rejected transactions add up to %s", centsText(s), centsText(sum))})
		}
	}
}

func upperTrim(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
