package sheets

import (
	"fmt"
	"io"
)

// ReadPayments streams the payments workbook (PAGO FACTURAS CLIENTES) and
// calls accept for each valid payment, in row order. An error from accept
// stops the read and is returned.
//
// Fecha Pago, Número de Factura and Importe Pagado are required; Cliente,
// Forma de Pago and Referencia are read when present. Partial payments and
// payments of invoices nobody knows are accepted: matching them to cases is
// the database's job, which reports the unknown ones. A reference already
// seen in the file rejects the later row, since a bank reference names one
// payment.
func ReadPayments(path string, opts Options, accept func(Payment) error) (Report, error) {
	b, err := openBook(path)
	if err != nil {
		return Report{}, err
	}
	return readPayments(b, opts, accept)
}

// ReadPaymentsFrom is ReadPayments on a file already open; name is its file
// name, whose extension (.csv or not) decides the format.
func ReadPaymentsFrom(r io.Reader, name string, opts Options, accept func(Payment) error) (Report, error) {
	b, err := openBookFrom(r, name)
	if err != nil {
		return Report{}, err
	}
	return readPayments(b, opts, accept)
}

func readPayments(b book, opts Options, accept func(Payment) error) (rep Report, err error) {
	var s *sheetRead
	defer func() { finish(s, b, &err) }()
	if s, err = openSheet(b, opts, paymentsLayout); err != nil {
		return rep, err
	}
	var (
		h                          = s.h
		cDate, cCustomer, cInvoice = h.col(rolePaidAt), h.col(roleCustomer), h.col(roleInvoice)
		cAmount, cMethod, cRef     = h.col(roleAmount), h.col(roleMethod), h.col(roleReference)
		firstRow                   = make(map[string]int) // reference → first row it is on
	)
	err = s.each(opts, &rep, func(r rowData) error {
		p := Payment{
			Row:       r.num,
			Customer:  text(r.get(cCustomer)),
			Invoice:   text(r.get(cInvoice)),
			Method:    text(r.get(cMethod)),
			Reference: text(r.get(cRef)),
		}
		if isTotals(r, p.Invoice, p.Reference) {
			rep.Skipped++
			return nil
		}
		var (
			bad problems
			err error
		)
		if v, k := r.get(cDate); isBlank(v) {
			bad.add("payment date is empty")
		} else if p.PaidAt, err = date(v, k, b.date1904()); err != nil {
			bad.addErr("payment", err)
		}
		if p.Invoice == "" {
			bad.add("invoice number is empty")
		} else if bad.tooLong("invoice number", p.Invoice, maxInvoiceLen) {
			p.Invoice = clip(p.Invoice, maxInvoiceLen)
		}
		if v, k := r.get(cAmount); isBlank(v) {
			bad.add("amount is empty")
		} else if p.AmountCents, err = amount(v, k); err != nil {
			bad.addErr("", err)
		}
		if p.Reference != "" {
			if first, dup := firstRow[p.Reference]; dup {
				bad.add("reference %s already on row %d", p.Reference, first)
			} else {
				firstRow[p.Reference] = r.num
			}
		}
		if len(bad) > 0 {
			key := p.Invoice
			if key == "" {
				key = p.Reference
			}
			rep.Rejected = append(rep.Rejected, Rejection{Row: r.num, Invoice: key, Reason: bad.String()})
			return nil
		}
		if err = accept(p); err != nil {
			return fmt.Errorf("row %d: %w", r.num, err)
		}
		rep.Accepted++
		return nil
	})
	return rep, err
}
