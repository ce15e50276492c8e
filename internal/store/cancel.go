package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// ErrInvoiceClosed means the invoice is no longer open in the ledger (paid or
// cancelled): there is nothing left to cancel.
var ErrInvoiceClosed = errors.New("closed in the ledger")

// RequestCancel writes on the open invoice's row who asks to cancel its case
// and why, before the case itself is cancelled: the case's own cancellation
// (CancelInvoice) then keeps them, whatever it is told. Each request is an
// audit entry; a later request replaces the who and why of an earlier one.
func (s *Store) RequestCancel(ctx context.Context, invoice, by, reason string) error {
	invoice, by, reason = strings.TrimSpace(invoice), strings.TrimSpace(by), strings.TrimSpace(reason)
	switch {
	case invoice == "":
		return errors.New("request cancel: no invoice")
	case by == "":
		return fmt.Errorf("request cancel of invoice %s: no one asks for it", invoice)
	case reason == "":
		return fmt.Errorf("request cancel of invoice %s: no reason", invoice)
	}
	return s.inTx(ctx, "request cancel of invoice "+invoice, func(tx pgx.Tx) error {
		var c activities.CaseRef
		var status string
		err := tx.QueryRow(ctx, `
			SELECT invoice, workflow_id, run_id, stage, status FROM invoices WHERE invoice = $1 FOR UPDATE`,
			invoice).Scan(&c.Invoice, &c.WorkflowID, &c.RunID, &c.Stage, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("invoice %s is not in the ledger: %w", invoice, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status != "open" {
			return fmt.Errorf("invoice %s is %s: %w", invoice, status, ErrInvoiceClosed)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE invoices SET cancelled_by = $2, cancel_reason = $3, updated_at = now() WHERE invoice = $1`,
			invoice, by, reason); err != nil {
			return err
		}
		return audit(ctx, tx, c, by, "cancel_requested", time.Now(), map[string]any{"reason": reason, "stage": c.Stage}, "")
	})
}

// CancelInvoice closes the open invoice as cancelled; the case calls it when it
// is cancelled. Who and why come from the request written by RequestCancel,
// if any, else from in. A paid invoice stays paid, a cancelled one as it is,
// so a retry, or a cancel crossing a payment, changes nothing. It holds the
// supply point's lock, as a cut request does, so a cut is never requested for
// an invoice once it is cancelled. An invoice the ledger never opened (the
// case was cancelled before its first step) has nothing to close.
//
// A cut already in force stays as it is: whether the supply is reconnected
// is the case's decision, not the ledger's.
func (s *Store) CancelInvoice(ctx context.Context, in activities.CancelInput) error {
	c := in.Case
	if c.Invoice == "" {
		return errors.New("cancel invoice: no invoice")
	}
	return s.inTx(ctx, "cancel invoice "+c.Invoice, func(tx pgx.Tx) error {
		cups := c.Cups
		if cups == "" {
			err := tx.QueryRow(ctx, `SELECT cups FROM invoices WHERE invoice = $1`, c.Invoice).Scan(&cups)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read cups: %w", err)
			}
		}
		if cups != "" {
			if err := lockSupplyPoint(ctx, tx, cups); err != nil {
				return fmt.Errorf("lock supply point %s: %w", cups, err)
			}
		}
		var status, by, reason string
		err := tx.QueryRow(ctx, `
			SELECT status, cancelled_by, cancel_reason FROM invoices WHERE invoice = $1 FOR UPDATE`,
			c.Invoice).Scan(&status, &by, &reason)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read invoice: %w", err)
		}
		if status != "open" {
			return nil
		}
		// The request's who and why win: they are the person's own words, and
		// the case only passes on what its cancellation carried.
		if by == "" {
			by = strings.TrimSpace(in.By)
		}
		if reason == "" {
			reason = strings.TrimSpace(in.Reason)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE invoices SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3,
				stage = COALESCE(NULLIF($4, ''), stage), updated_at = now()
			WHERE invoice = $1`, c.Invoice, by, reason, c.Stage); err != nil {
			return fmt.Errorf("close invoice: %w", err)
		}
		key := auditKey(c.WorkflowID, c.RunID, c.Invoice, "cancelled")
		return audit(ctx, tx, c, firstNonEmpty(by, actorSystem), "cancelled", in.At, map[string]any{
			"reason":           reason,
			"stage":            c.Stage,
			"amount_due_cents": c.AmountDueCents,
		}, key)
	})
}

// ListOpenInvoices lists the invoices open in the ledger with the run that opened
// each, oldest first: what the daily check compares with the cases running in
// Temporal.
func (s *Store) ListOpenInvoices(ctx context.Context) ([]activities.OpenInvoice, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT invoice, workflow_id, run_id, stage, opened_at FROM invoices
		WHERE status = 'open' ORDER BY opened_at, invoice`)
	if err != nil {
		return nil, fmt.Errorf("open invoices: %w", err)
	}
	var out []activities.OpenInvoice
	var o activities.OpenInvoice
	if _, err := pgx.ForEachRow(rows, []any{&o.Invoice, &o.WorkflowID, &o.RunID, &o.Stage, &o.OpenedAt}, func() error {
		out = append(out, o)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("open invoices: %w", err)
	}
	return out, nil
}
