// Package sheets reads the workbooks the clerks work with (the TRADE export of
// returned invoices, the contracts and the payments) and writes the ones they
// read. Columns are found by their header, never by position.
package sheets

import "time"

// Return is an accepted row of the TRADE export of returned invoices.
type Return struct {
	Row         int       `json:"row"` // spreadsheet row number, 1-based
	Invoice     string    `json:"invoice"`
	Customer    string    `json:"customer"`
	AmountCents int64     `json:"amount_cents"`
	Cups        string    `json:"cups"`
	TaxID       string    `json:"tax_id,omitempty"`
	ReturnedAt  time.Time `json:"returned_at,omitzero"` // Fecha Devolución when the export has it
}

// Contract is an accepted row of the contracts export.
type Contract struct {
	Row        int    `json:"row"`
	ContractID string `json:"contract_id,omitempty"`
	Customer   string `json:"customer"`
	TaxID      string `json:"tax_id"`
	Cups       string `json:"cups"`
	Segment    string `json:"segment"` // domestico or empresa
	Phone      string `json:"phone"`   // normalised, e.g. +34600111222
	Email      string `json:"email"`
	Province   string `json:"province"`
	BonoSocial bool   `json:"bono_social"`
	Essential  bool   `json:"essential"`
	Protected  bool   `json:"protected"`
	// MandateID and IBAN are the direct debit's mandate reference and the
	// account it charges, when the export has them: a bank's return file
	// names those, not the supply point.
	MandateID string `json:"mandate_id,omitempty"`
	IBAN      string `json:"iban,omitempty"`
}

// Payment is an accepted row of the payments workbook (PAGO FACTURAS CLIENTES).
type Payment struct {
	Row         int       `json:"row"`
	PaidAt      time.Time `json:"paid_at"` // midnight Europe/Madrid of the payment date
	Customer    string    `json:"customer"`
	Invoice     string    `json:"invoice"`
	AmountCents int64     `json:"amount_cents"`
	Method      string    `json:"method"`
	Reference   string    `json:"reference"`
}

// Rejection is a row that failed validation, with why.
type Rejection struct {
	Row     int    `json:"row"`
	Invoice string `json:"invoice"` // or the CUPS / key of the row when it has no invoice
	Reason  string `json:"reason"`
}

// Report sums up a read: every data row is read, then either accepted,
// rejected with a reason, or skipped (blank, totals, not returned).
type Report struct {
	RowsRead int         `json:"rows_read"`
	Accepted int         `json:"-"`
	Rejected []Rejection `json:"rejected"`
	Skipped  int         `json:"skipped"`
	// Warnings are about accepted rows that a clerk should still look at: a
	// contract without phone or e-mail (its cases wait in needs_contact), a
	// return whose tax id is invalid and was left out. Reason says what.
	Warnings []Rejection `json:"warnings,omitempty"`
}
