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

// RecordHold puts a person's hold on the invoice (in.On) or lifts it, under
// the supply point's lock, so that a hold and a cut request never cross: a
// hold committed first stops the cut, and a hold that comes when the invoice's
// cut was already requested is not applied (Applied false, with why). Nor is
// a hold of an invoice no longer open. A release always applies. Retries write
// the audit entry (hold, release) once.
func (s *Store) RecordHold(ctx context.Context, in activities.HoldInput) (activities.HoldResult, error) {
	c := in.Case
	var res activities.HoldResult
	err := s.inTx(ctx, "record hold of "+c.Invoice, func(tx pgx.Tx) error {
		res = activities.HoldResult{}
		if err := lockInvoiceSupplies(ctx, tx, []string{c.Invoice}, c.Cups); err != nil {
			return err
		}
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM invoices WHERE invoice = $1 FOR UPDATE`, c.Invoice).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			res.Detail = fmt.Sprintf("la factura %s no consta en el libro", c.Invoice)
			return nil
		case err != nil:
			return err
		}
		by := firstNonEmpty(strings.TrimSpace(in.By), actorSystem)
		if !in.On {
			if _, err := tx.Exec(ctx, `
				UPDATE invoices SET hold_reason = '', hold_by = '', hold_at = NULL, updated_at = now()
				WHERE invoice = $1`, c.Invoice); err != nil {
				return err
			}
			res.Applied = true
			if err := touchInvoice(ctx, tx, c); err != nil {
				return err
			}
			return audit(ctx, tx, c, by, "release", in.At, map[string]any{},
				auditKey(c.WorkflowID, c.RunID, "release", in.At.UTC().Format(time.RFC3339Nano), by))
		}
		if status != "open" {
			res.Detail = fmt.Sprintf("la factura %s está %s en el libro: nada que retener", c.Invoice, statusText(status))
			return nil
		}
		var cutID int64
		err = tx.QueryRow(ctx, `
			SELECT ci.cut_id FROM cut_invoices ci JOIN cuts ON cuts.id = ci.cut_id
			WHERE ci.invoice = $1 AND cuts.ended_at IS NULL`, c.Invoice).Scan(&cutID)
		switch {
		case err == nil:
			res.Detail = fmt.Sprintf("el corte del suministro %s ya se pidió a la distribuidora (corte #%d)", c.Cups, cutID)
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		reason := firstNonEmpty(strings.TrimSpace(in.Reason), "sin motivo indicado")
		if _, err := tx.Exec(ctx, `
			UPDATE invoices SET hold_reason = $2, hold_by = $3, hold_at = COALESCE($4, now()), updated_at = now()
			WHERE invoice = $1`, c.Invoice, reason, by, nullTime(in.At)); err != nil {
			return err
		}
		res.Applied = true
		if err := touchInvoice(ctx, tx, c); err != nil {
			return err
		}
		return audit(ctx, tx, c, by, "hold", in.At, map[string]any{"reason": reason},
			auditKey(c.WorkflowID, c.RunID, "hold", in.At.UTC().Format(time.RFC3339Nano), by, reason))
	})
	return res, err
}
