package sheets

import (
	"fmt"
	"io"
	"strings"

	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/taxid"
)

// ReadReturns streams the TRADE export of returned invoices (an .xlsx, or a
// ';'-separated CSV with Spanish decimals when the file name ends in .csv)
// and calls accept for each valid returned invoice, in row order. Rejected
// and skipped rows are counted in the report. An error from accept stops the
// read and is returned.
//
// The columns Número de Factura, Cliente, Importe and Cups are required:
// they are the four the clerks copy today, and a case without the customer's
// name can neither be worked from the workbook nor named in a notice. When
// the export has a status column (Estado), only the rows whose status is
// Devuelto/Devuelta are read; the others are skipped. Fecha Devolución and
// NIF/CIF are read when present.
func ReadReturns(path string, opts Options, accept func(Return) error) (Report, error) {
	b, err := openBook(path)
	if err != nil {
		return Report{}, err
	}
	return readReturns(b, opts, accept)
}

// ReadReturnsFrom is ReadReturns on a file already open; name is its file
// name, whose extension (.csv or not) decides the format.
func ReadReturnsFrom(r io.Reader, name string, opts Options, accept func(Return) error) (Report, error) {
	b, err := openBookFrom(r, name)
	if err != nil {
		return Report{}, err
	}
	return readReturns(b, opts, accept)
}

func readReturns(b book, opts Options, accept func(Return) error) (rep Report, err error) {
	var s *sheetRead
	defer func() { finish(s, b, &err) }()
	if s, err = openSheet(b, opts, returnsLayout); err != nil {
		return rep, err
	}
	var (
		h                                   = s.h
		cInvoice, cCustomer, cAmount, cCups = h.col(roleInvoice), h.col(roleCustomer), h.col(roleAmount), h.col(roleCups)
		cStatus, cDate, cTaxID              = h.col(roleStatus), h.col(roleReturnDate), h.col(roleTaxID)
		firstRow                            = make(map[string]int) // invoice → first row it is on
	)
	err = s.each(opts, &rep, func(r rowData) error {
		invoice := text(r.get(cInvoice))
		cupsText := text(r.get(cCups))
		if isTotals(r, invoice, cupsText) {
			rep.Skipped++
			return nil
		}
		var (
			bad problems
			err error
		)
		if cStatus >= 0 {
			switch status := text(r.get(cStatus)); {
			case status == "":
				// Rather than drop it unseen: it may be a returned invoice
				// whose status was lost (a merged cell, a filter gone wrong).
				bad.add("status is empty (only Devuelto rows are imported)")
			case !strings.HasPrefix(headerKey(status), "devuelt"):
				rep.Skipped++
				return nil
			}
		}
		ret := Return{Row: r.num, Invoice: invoice}
		if invoice == "" {
			bad.add("invoice number is empty")
		} else if bad.tooLong("invoice number", invoice, maxInvoiceLen) {
			ret.Invoice = clip(invoice, maxInvoiceLen)
		} else if first, dup := firstRow[invoice]; dup {
			bad.add("invoice %s already on row %d", invoice, first)
		} else {
			firstRow[invoice] = r.num
		}
		if ret.Customer = text(r.get(cCustomer)); ret.Customer == "" {
			bad.add("customer is empty")
		} else {
			bad.tooLong("customer", ret.Customer, maxCustomerLen)
		}
		if v, k := r.get(cAmount); isBlank(v) {
			bad.add("amount is empty")
		} else if ret.AmountCents, err = amount(v, k); err != nil {
			bad.addErr("", err)
		}
		if cupsText == "" {
			bad.add("CUPS is empty")
		} else if ret.Cups, err = cups.Parse(cupsText); err != nil {
			bad.addErr("", err)
		}
		if v, k := r.get(cDate); cDate >= 0 && !isBlank(v) {
			if ret.ReturnedAt, err = date(v, k, b.date1904()); err != nil {
				bad.addErr(h.texts[cDate], err)
			}
		}
		if len(bad) > 0 {
			key := clip(invoice, maxInvoiceLen)
			if key == "" {
				key = clip(cupsText, 30)
			}
			rep.Rejected = append(rep.Rejected, Rejection{Row: r.num, Invoice: key, Reason: bad.String()})
			return nil
		}
		if v := text(r.get(cTaxID)); v != "" {
			// The tax id of a return is only informative (the contract is
			// where it matters), so a bad one is left out, not fatal.
			if ret.TaxID, _, err = taxid.Validate(v); err != nil {
				rep.Warnings = append(rep.Warnings, Rejection{Row: r.num, Invoice: invoice,
					Reason: fmt.Sprintf("tax id left out: %v", err)})
			}
		}
		if err = accept(ret); err != nil {
			return fmt.Errorf("row %d: %w", r.num, err)
		}
		rep.Accepted++
		return nil
	})
	return rep, err
}
