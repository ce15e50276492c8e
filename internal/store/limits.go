package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// RequestPowerLimit asks the distributor to limit the power of the case's
// supply point to in.KW (the Suministro Mínimo Vital of a Bono Social
// household): one request per run of the case, a retry reads as the first.
// Like a cut it is judged under the supply point's lock: the invoice must be
// open, owe something by the payments ledger and not be on hold, and the
// supply must have a contract that does not forbid its suspension (essential,
// protected). A refusal writes nothing but an audit entry
// (power_limit_refused) and is returned as a *activities.CutRefusal.
func (s *Store) RequestPowerLimit(ctx context.Context, in activities.LimitInput) (activities.LimitResult, error) {
	c := in.Case
	switch {
	case c.Cups == "":
		return activities.LimitResult{}, fmt.Errorf("request power limit for invoice %s: no CUPS", c.Invoice)
	case in.KW <= 0:
		return activities.LimitResult{}, fmt.Errorf("request power limit for invoice %s: %v kW is not a power", c.Invoice, in.KW)
	}
	var res activities.LimitResult
	var refusal *activities.CutRefusal
	var day time.Time
	err := s.inTx(ctx, "request power limit for "+c.Invoice, func(tx pgx.Tx) error {
		res, refusal = activities.LimitResult{}, nil
		if err := lockSupplyPoint(ctx, tx, c.Cups); err != nil {
			return err
		}
		var err error
		if day, err = s.today(ctx, tx); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id FROM power_limits WHERE invoice = $1 AND run_id = $2`,
			c.Invoice, c.RunID).Scan(&res.RequestID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, r, err := checkInvoice(ctx, tx, c.Invoice)
		if err != nil {
			return err
		}
		if r == nil {
			k, found, err := contractForCut(ctx, tx, c.Cups)
			switch {
			case err != nil:
				return err
			case !found:
				r = refuse(activities.RefusedNeverCut, nil, "sin contrato del CUPS %s", c.Cups)
			case k.essential:
				r = refuse(activities.RefusedNeverCut, nil, "suministro esencial")
			case k.protected:
				r = refuse(activities.RefusedNeverCut, nil, "hogar protegido")
			}
		}
		if refusal = r; r != nil {
			return errRefused
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO power_limits (cups, invoice, workflow_id, run_id, power_kw, approved_by, requested_at, done_at, done_by)
			VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, now()),
			        CASE WHEN $8 THEN COALESCE($7, now()) END, CASE WHEN $8 THEN 'contrato: potencia ya limitada' ELSE '' END)
			RETURNING id`,
			c.Cups, c.Invoice, c.WorkflowID, c.RunID, in.KW, in.ApprovedBy, nullTime(in.At), in.AlreadyLimited).Scan(&res.RequestID); err != nil {
			return err
		}
		if err := audit(ctx, tx, c, firstNonEmpty(in.ApprovedBy, actorSystem), "power_limit_requested", in.At,
			map[string]any{"request_id": res.RequestID, "cups": c.Cups, "kw": in.KW}, ""); err != nil {
			return err
		}
		return touchInvoice(ctx, tx, c)
	})
	if refusal != nil {
		if err := s.recordRefusal(ctx, c, "power_limit_refused", in.ApprovedBy, in.At, day, refusal); err != nil {
			return activities.LimitResult{}, err
		}
		return activities.LimitResult{}, fmt.Errorf("request power limit for %s: %w", c.Invoice, refusal)
	}
	return res, err
}

// PowerLimit is a row of power_limits: a request to the distributor to limit
// a supply point's power.
type PowerLimit struct {
	ID          int64     `db:"id"`
	Cups        string    `db:"cups"`
	Invoice     string    `db:"invoice"`
	WorkflowID  string    `db:"workflow_id"`
	RunID       string    `db:"run_id"`
	PowerKW     float64   `db:"power_kw"`
	ApprovedBy  string    `db:"approved_by"`
	RequestedAt time.Time `db:"requested_at"`
	Status      string    `db:"status"`
	CreatedAt   time.Time `db:"created_at"`
	// DoneAt and DoneBy record the clerk who carried it out (MarkPowerLimitDone).
	DoneAt *time.Time `db:"done_at"`
	DoneBy string     `db:"done_by"`
}

// PowerLimits lists the power limits requested for a CUPS, or for every CUPS
// when cups is empty, oldest first.
func (s *Store) PowerLimits(ctx context.Context, cups string) ([]PowerLimit, error) {
	return list[PowerLimit](ctx, s, "power limits",
		"SELECT "+columns[PowerLimit]()+` FROM power_limits WHERE $1 = '' OR cups = $1 ORDER BY id`, cups)
}
