package sheets

import (
	"fmt"
	"io"
	"strings"

	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/iban"
	"github.com/elega/impagos/internal/taxid"
)

// Segments of a contract.
const (
	SegmentDomestic = "domestico"
	SegmentBusiness = "empresa"
)

// ReadContracts streams the contracts export (TRADE → Contratos) and calls
// accept for each valid contract, in row order. An error from accept stops
// the read and is returned.
//
// Cliente, NIF/CIF, Cups and Tipo Cliente are required; Contrato, Teléfono,
// Email, Provincia, Bono Social, Suministro Esencial and Protegido are read
// when present, a missing flag column meaning "no". A phone, e-mail or tax
// id that is present must be valid, or the row is rejected. A contract with
// neither phone nor e-mail is accepted with a warning: its cases wait in
// needs_contact. One contract per supply point: a CUPS already seen in the
// file rejects the later row.
func ReadContracts(path string, opts Options, accept func(Contract) error) (Report, error) {
	b, err := openBook(path)
	if err != nil {
		return Report{}, err
	}
	return readContracts(b, opts, accept)
}

// ReadContractsFrom is ReadContracts on a file already open; name is its
// file name, whose extension (.csv or not) decides the format.
func ReadContractsFrom(r io.Reader, name string, opts Options, accept func(Contract) error) (Report, error) {
	b, err := openBookFrom(r, name)
	if err != nil {
		return Report{}, err
	}
	return readContracts(b, opts, accept)
}

func readContracts(b book, opts Options, accept func(Contract) error) (rep Report, err error) {
	var s *sheetRead
	defer func() { finish(s, b, &err) }()
	if s, err = openSheet(b, opts, contractsLayout); err != nil {
		return rep, err
	}
	var (
		h                         = s.h
		cContract, cCustomer      = h.col(roleContract), h.col(roleCustomer)
		cTaxID, cCups, cSegment   = h.col(roleTaxID), h.col(roleCups), h.col(roleSegment)
		cPhone, cEmail, cProvince = h.col(rolePhone), h.col(roleEmail), h.col(roleProvince)
		cMandate, cIBAN           = h.col(roleMandate), h.col(roleIBAN)
		flags                     = []struct {
			col int
			set func(*Contract, bool)
		}{
			{h.col(roleBonoSocial), func(c *Contract, v bool) { c.BonoSocial = v }},
			{h.col(roleEssential), func(c *Contract, v bool) { c.Essential = v }},
			{h.col(roleProtected), func(c *Contract, v bool) { c.Protected = v }},
		}
		firstRow = make(map[string]int) // CUPS → first row it is on
	)
	err = s.each(opts, &rep, func(r rowData) error {
		c := Contract{
			Row:        r.num,
			ContractID: text(r.get(cContract)),
			Customer:   text(r.get(cCustomer)),
			Province:   text(r.get(cProvince)),
		}
		cupsText, taxText := text(r.get(cCups)), text(r.get(cTaxID))
		if isTotals(r, cupsText, taxText) {
			rep.Skipped++
			return nil
		}
		var (
			bad problems
			err error
		)
		if c.Customer == "" {
			bad.add("customer is empty")
		} else {
			bad.tooLong("customer", c.Customer, maxCustomerLen)
		}
		// A contract is kept for its contact data and type even when the tax id
		// fails its check: losing it would leave the case without a phone.
		// The tax id is stored as written and the row listed for a look.
		var taxWarning string
		if taxText == "" {
			taxWarning = "tax id is empty"
		} else if c.TaxID, _, err = taxid.Validate(taxText); err != nil {
			c.TaxID = strings.ToUpper(strings.Join(strings.Fields(taxText), ""))
			taxWarning = fmt.Sprintf("tax id kept as written, check it: %v", err)
		}
		if cupsText == "" {
			bad.add("CUPS is empty")
		} else if c.Cups, err = cups.Parse(cupsText); err != nil {
			bad.addErr("", err)
		} else if first, dup := firstRow[c.Cups]; dup {
			bad.add("CUPS %s already on row %d (one contract per supply point)", c.Cups, first)
		} else {
			firstRow[c.Cups] = r.num
		}
		segText := text(r.get(cSegment))
		if c.Segment, err = segment(segText); err != nil {
			bad.addErr(h.texts[cSegment], err)
		}
		if v := text(r.get(cPhone)); v != "" {
			if c.Phone, err = phone(v); err != nil {
				bad.addErr("", err)
			}
		}
		if v := text(r.get(cEmail)); v != "" {
			if c.Email, err = email(v); err != nil {
				bad.addErr("", err)
			}
		}
		c.MandateID = text(r.get(cMandate))
		bad.tooLong("mandate", c.MandateID, maxMandateLen)
		// Like the tax id, an account that fails its check is kept as
		// written: a return names it, and the clerk corrects it.
		var ibanWarning string
		if v := text(r.get(cIBAN)); v != "" {
			c.IBAN = iban.Normalize(v)
			if !iban.Valid(c.IBAN) {
				ibanWarning = fmt.Sprintf("IBAN %s kept as written, check it: its check digits do not hold", c.IBAN)
			}
		}
		for _, f := range flags {
			if f.col < 0 {
				continue
			}
			v, k := r.get(f.col)
			yes, err := yesNo(v, k)
			if err != nil {
				bad.addErr(h.texts[f.col], err)
			}
			f.set(&c, yes)
		}
		if len(bad) > 0 {
			rep.Rejected = append(rep.Rejected, Rejection{Row: r.num, Invoice: contractKey(c.ContractID, cupsText, taxText), Reason: bad.String()})
			return nil
		}
		if taxWarning != "" {
			rep.Warnings = append(rep.Warnings, Rejection{Row: r.num, Invoice: contractKey(c.ContractID, c.Cups, c.TaxID),
				Reason: taxWarning})
		}
		if ibanWarning != "" {
			rep.Warnings = append(rep.Warnings, Rejection{Row: r.num, Invoice: contractKey(c.ContractID, c.Cups, c.TaxID),
				Reason: ibanWarning})
		}
		if c.Phone == "" && c.Email == "" {
			rep.Warnings = append(rep.Warnings, Rejection{Row: r.num, Invoice: contractKey(c.ContractID, c.Cups, c.TaxID),
				Reason: "no phone or e-mail: its cases will wait in needs_contact"})
		}
		if err = accept(c); err != nil {
			return fmt.Errorf("row %d: %w", r.num, err)
		}
		rep.Accepted++
		return nil
	})
	return rep, err
}

// contractKey names a contract in a report: its number, else its CUPS,
// else its tax id.
func contractKey(id, cupsText, taxText string) string {
	switch {
	case id != "":
		return id
	case cupsText != "":
		return cupsText
	}
	return taxText
}

// segment maps TRADE's customer type to the path the case takes. Households
// (Doméstico, Particular, Residencial) get the three notices and the
// regulatory wait; businesses (Empresa, Negocio, PYME) the cut letter. A
// self-employed customer (Autónomo) contracts the supply for a trade, so it is
// a business supply; anything else is rejected rather than guessed, because
// sending a household down the business path would skip its protections.
func segment(v string) (string, error) {
	switch headerKey(v) {
	case "domestico", "domestica", "particular", "residencial", "hogar":
		return SegmentDomestic, nil
	case "empresa", "empresas", "negocio", "pyme", "pymes", "autonomo", "autonoma", "profesional":
		return SegmentBusiness, nil
	case "":
		return "", fmt.Errorf("is empty (Doméstico or Empresa expected)")
	}
	return "", fmt.Errorf("%q is neither Doméstico nor Empresa", v)
}

// phone normalises a Spanish phone number to +34 and its 9 digits. Spaces,
// dashes, dots and brackets are ignored, and a +34, 0034 or 34 prefix is
// allowed; the number must start with 6 or 7 (mobile) or 8 or 9 (fixed).
func phone(v string) (string, error) {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0:
			b.WriteRune(r)
		case strings.ContainsRune(" \u00a0-.()/", r):
		default:
			return "", fmt.Errorf("phone %q is not a phone number", v)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "+34"):
		d = d[3:]
	case strings.HasPrefix(d, "0034"):
		d = d[4:]
	case len(d) == 11 && strings.HasPrefix(d, "34"):
		d = d[2:]
	}
	if len(d) != 9 || !strings.ContainsRune("6789", rune(d[0])) || strings.HasPrefix(d, "+") {
		return "", fmt.Errorf("phone %q is not a Spanish phone number (9 digits starting with 6, 7, 8 or 9)", v)
	}
	return "+34" + d, nil
}

// email checks the shape of an e-mail address (one @, a dotted domain, no
// spaces) and returns it in lower case. It cannot tell whether the mailbox
// exists; a bounce will.
func email(v string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(v))
	e = strings.TrimPrefix(e, "mailto:")
	bad := func(why string) (string, error) { return "", fmt.Errorf("e-mail %q %s", v, why) }
	if strings.ContainsFunc(e, func(r rune) bool { return r <= ' ' || r == '\u00a0' || r == ',' || r == ';' }) {
		return bad("has spaces or several addresses")
	}
	local, domain, ok := strings.Cut(e, "@")
	switch {
	case !ok:
		return bad("has no @")
	case strings.Contains(domain, "@"):
		return bad("has more than one @")
	case local == "":
		return bad("has nothing before the @")
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return bad("has a misplaced dot before the @")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return bad("has no dot in its domain")
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return bad("has a malformed domain")
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r > 0x7f) {
				return bad("has a malformed domain")
			}
		}
	}
	if tld := labels[len(labels)-1]; len(tld) < 2 {
		return bad("has a malformed domain")
	}
	return e, nil
}
