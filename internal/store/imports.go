package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/workflows"
)

// ReturnsImport says what an import of returns changed.
type ReturnsImport struct {
	// New are the invoices whose return the database did not know.
	New map[string]bool
	// Known counts the rows that were already imported.
	Known int
}

// ImportReturns stores the returns of a TRADE export in one transaction while
// they are read: read runs in a goroutine of its own and calls emit for each
// accepted row, which COPY takes into a staging table; then the returns not
// seen before are inserted. Importing the same file twice changes nothing.
// When read fails (a damaged file, too many rows), nothing is stored and its
// error is returned as it is.
func (s *Store) ImportReturns(ctx context.Context, file string, read func(emit func(sheets.Return) error) error) (ReturnsImport, error) {
	res := ReturnsImport{New: map[string]bool{}}
	var readErr error
	err := s.inTx(ctx, "import returns", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE returns_staging (
				invoice text, returned_on date, customer text, tax_id text, cups text,
				amount_cents bigint, source_row integer
			) ON COMMIT DROP`); err != nil {
			return err
		}
		src := streamRows(read, func(r sheets.Return) []any {
			return []any{r.Invoice, calendarDay(r.ReturnedAt), r.Customer, r.TaxID, r.Cups, r.AmountCents, r.Row}
		})
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"returns_staging"},
			[]string{"invoice", "returned_on", "customer", "tax_id", "cups", "amount_cents", "source_row"}, src)
		if readErr = src.stop(); readErr != nil {
			return readErr
		}
		if err != nil {
			return err
		}
		inserted, err := tx.Query(ctx, `
			INSERT INTO returns (invoice, returned_on, customer, tax_id, cups, amount_cents, source_file, source_row)
			SELECT invoice, returned_on, customer, tax_id, cups, amount_cents, $1, source_row FROM returns_staging s
			-- A bank's file gave the same return first (its date and TRADE's differ).
			WHERE NOT EXISTS (
				SELECT 1 FROM returns r WHERE r.invoice = s.invoice AND r.source = 'bank'
				AND abs(COALESCE(s.returned_on, r.returned_on) - r.returned_on) <= $2)
			ON CONFLICT (invoice, (COALESCE(returned_on, '-infinity'::date))) DO NOTHING
			RETURNING invoice`, file, SameReturnDays)
		if err != nil {
			return err
		}
		var inv string
		if _, err := pgx.ForEachRow(inserted, []any{&inv}, func() error {
			res.New[inv] = true
			return nil
		}); err != nil {
			return err
		}
		res.Known = src.rows() - len(res.New)
		return nil
	})
	if readErr != nil {
		return ReturnsImport{}, readErr
	}
	return res, err
}

// ReturnRows is a read for ImportReturns of rows already in memory.
func ReturnRows(rows []sheets.Return) func(emit func(sheets.Return) error) error {
	return func(emit func(sheets.Return) error) error {
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// PaymentImport is what happened to one row of the payments workbook.
type PaymentImport struct {
	Payment sheets.Payment
	Key     string
	New     bool // not in the ledger before
	// Known is true when some case or TRADE export knows the invoice.
	Known bool
	// InvoiceCents is the invoice amount; OverpaidCents what the ledger holds
	// beyond it after this payment (0 when not overpaid).
	InvoiceCents  int64
	OverpaidCents int64
}

// ImportPayments records payments in the ledger once each, keyed as
// workflows.PaymentKeyOf keys them (reference, invoice, day and amount: one
// transfer may pay several invoices), and reports for each whether it was new,
// whether its invoice is known and whether the invoice is now overpaid. A
// payment the ledger holds under the older key of its reference alone ("ref:R",
// from a workbook imported before) for the same invoice and amount is not new.
// The supply points of the invoices paid are locked first, so that a cut
// request sees the whole file or none of it.
func (s *Store) ImportPayments(ctx context.Context, file string, rows []sheets.Payment) ([]PaymentImport, error) {
	out := make([]PaymentImport, 0, len(rows))
	err := s.inTx(ctx, "import payments", func(tx pgx.Tx) error {
		out = out[:0]
		invoices := make([]string, 0, len(rows))
		refs := make([]string, 0, len(rows))
		for _, p := range rows {
			invoices = append(invoices, p.Invoice)
			refs = append(refs, p.Reference)
		}
		if err := lockInvoiceSupplies(ctx, tx, invoices, ""); err != nil {
			return err
		}
		if err := lockReferences(ctx, tx, refs); err != nil {
			return err
		}
		for _, p := range rows {
			r := PaymentImport{Payment: p}
			var err error
			r.Key, r.New, err = putPayment(ctx, tx, newPayment{
				Key: workflows.PaymentKeyOf(p.Invoice, p.Reference, p.PaidAt, p.AmountCents), Invoice: p.Invoice,
				PaidAt: p.PaidAt, AmountCents: p.AmountCents, Method: p.Method, Reference: p.Reference,
				Source: "import", SourceFile: file, SourceRow: p.Row})
			if err != nil {
				return fmt.Errorf("row %d: %w", p.Row, err)
			}
			out = append(out, r)
		}
		for i := range out {
			r := &out[i]
			var paid int64
			err := tx.QueryRow(ctx, `
				WITH inv AS (
					SELECT amount_cents, returned_at FROM invoices WHERE invoice = $1
					UNION ALL
					(SELECT amount_cents, returned_on::timestamptz FROM returns WHERE invoice = $1
					 ORDER BY returned_on DESC NULLS LAST LIMIT 1)
					LIMIT 1)
				SELECT COALESCE((SELECT amount_cents FROM inv), 0),
				       EXISTS (SELECT 1 FROM inv),
				       COALESCE((SELECT sum(amount_cents) FROM payments q WHERE q.invoice = $1
				                 AND q.paid_at >= COALESCE(date_trunc('day', (SELECT returned_at FROM inv)), '-infinity')), 0)::bigint`,
				r.Payment.Invoice).Scan(&r.InvoiceCents, &r.Known, &paid)
			if err != nil {
				return fmt.Errorf("row %d: %w", r.Payment.Row, err)
			}
			if r.Known && paid > r.InvoiceCents {
				r.OverpaidCents = paid - r.InvoiceCents
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ImportContracts upserts contracts in one transaction and returns the open
// invoices of those supply points that wait, or may be about to wait, for
// contact data.
func (s *Store) ImportContracts(ctx context.Context, rows []sheets.Contract) ([]string, error) {
	var waiting []string
	err := s.inTx(ctx, "import contracts", func(tx pgx.Tx) error {
		cupsList := make([]string, 0, len(rows))
		for _, c := range rows {
			if err := upsertContract(ctx, tx, activities.Contract{
				Customer: c.Customer, TaxID: c.TaxID, Cups: c.Cups, Segment: c.Segment, Phone: c.Phone,
				Email: c.Email, Province: c.Province, BonoSocial: c.BonoSocial, Essential: c.Essential, Protected: c.Protected,
			}); err != nil {
				return fmt.Errorf("row %d: %w", c.Row, err)
			}
			if c.MandateID != "" || c.IBAN != "" {
				// Kept when a later export lacks the columns.
				if _, err := tx.Exec(ctx, `
					UPDATE contracts SET mandate_id = COALESCE(NULLIF($2, ''), mandate_id), iban = COALESCE(NULLIF($3, ''), iban)
					WHERE cups = $1`, c.Cups, c.MandateID, c.IBAN); err != nil {
					return fmt.Errorf("row %d: %w", c.Row, err)
				}
			}
			cupsList = append(cupsList, c.Cups)
		}
		// A case still checking may have looked for its contract already and be
		// on its way to needs_contact: it is told too (the signal is harmless
		// to a case that does not wait for it).
		r, err := tx.Query(ctx, `
			SELECT invoice FROM invoices
			WHERE status = 'open' AND stage IN ('checking', 'needs_contact') AND cups = ANY($1)
			ORDER BY invoice`, cupsList)
		if err != nil {
			return err
		}
		waiting, err = pgx.CollectRows(r, pgx.RowTo[string])
		return err
	})
	return waiting, err
}

// OpenInvoices returns which of the invoices have an open case in the ledger.
func (s *Store) OpenInvoices(ctx context.Context, invoices []string) (map[string]bool, error) {
	r, err := s.pool.Query(ctx, `SELECT invoice FROM invoices WHERE status = 'open' AND invoice = ANY($1)`, invoices)
	if err != nil {
		return nil, fmt.Errorf("open invoices: %w", err)
	}
	list, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("open invoices: %w", err)
	}
	out := make(map[string]bool, len(list))
	for _, inv := range list {
		out[inv] = true
	}
	return out, nil
}

// calendarDay is the calendar day of t in Madrid, or nil for the zero time.
func calendarDay(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	d := t.In(calendar.Madrid)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}
