package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// What the clerks see of the distributor: the requests still without their
// answer, the power limitations to carry out by hand, and the answer files
// the inbox could not take; and what they record of it.

// ATRBounds are the distributor's bounds as the cases' policy sets them
// (workflows.Policy): working days of the supply's province, counted from the
// request for an answer (02, 04) and from the day the distributor announced
// for the cut itself (05), at the hour the cases act.
type ATRBounds struct {
	AnswerWorkingDays  int
	ExecuteWorkingDays int
	ActionHour         int
	// Holidays are the days the retailer adds to the supplies' calendars.
	Holidays calendar.Extra
}

// PendingRequest is a request to the distributor still without its answer.
type PendingRequest struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"` // cut, cancel or reconnect
	Cups        string     `json:"cups"`
	Invoice     string     `json:"invoice"`
	Code        string     `json:"code"`   // CodigoDeSolicitud
	Status      string     `json:"status"` // sent, or accepted for a cut awaiting its 05
	Awaiting    string     `json:"awaiting"`
	RequestedAt time.Time  `json:"requested_at"`
	PlannedOn   *time.Time `json:"planned_on,omitempty"` // a cut's day, the distributor's once accepted
	// Due is when the answer is late: the bound of the step awaited, or for a
	// reconnection the end of its due_by day (the day after the payment).
	Due     time.Time `json:"due"`
	Overdue bool      `json:"overdue"`
	AgeDays int       `json:"age_days"` // calendar days in Madrid since the request
}

// PowerLimitTask is a power limitation the clerks have yet to record done:
// the Suministro Mínimo Vital has no B1 motive, so it is asked for by hand.
type PowerLimitTask struct {
	ID            int64     `json:"id"`
	Cups          string    `json:"cups"`
	Invoice       string    `json:"invoice"`
	InvoiceStatus string    `json:"invoice_status"` // open, paid or cancelled
	KW            float64   `json:"kw"`
	ApprovedBy    string    `json:"approved_by"`
	RequestedAt   time.Time `json:"requested_at"`
	AgeDays       int       `json:"age_days"`
}

// Task is what the clerks must do.
func (p PowerLimitTask) Task() string {
	return "limitar potencia a " + strings.Replace(fmt.Sprint(p.KW), ".", ",", 1) + " kW"
}

// RejectedATRFile is an answer file the inbox could not take, with why.
type RejectedATRFile struct {
	ID       int64     `db:"id" json:"id"`
	FileName string    `db:"file_name" json:"file_name"`
	SHA256   string    `db:"sha256" json:"sha256"`
	Reason   string    `db:"reason" json:"reason"`
	At       time.Time `db:"at" json:"at"`
}

// ATRPending is what of the distributor waits for someone.
type ATRPending struct {
	Requests      []PendingRequest  `json:"requests"`
	PowerLimits   []PowerLimitTask  `json:"power_limits"`
	RejectedFiles []RejectedATRFile `json:"rejected_files"`
}

// PendingATR lists the requests to the distributor without their answer,
// oldest first: cuts sent (awaiting the 02) or accepted (awaiting the 05)
// while the cut stands, and cancellations and reconnections sent (awaiting
// the 04); then the power limitations not done and the rejected answer files.
// With overdueOnly, only the requests past their bound, nothing else.
// Requests from before the distributor spoke ATR have no answer to wait for
// and are not listed.
func (s *Store) PendingATR(ctx context.Context, b ATRBounds, overdueOnly bool) (ATRPending, error) {
	var out ATRPending
	now, err := s.now(ctx, s.pool)
	if err != nil {
		return out, err
	}
	calendars := map[string]calendar.Calendar{}
	calendarOf := s.calendarOf
	if calendarOf == nil {
		calendarOf = calendar.ForProvince
	}
	rows, err := s.pool.Query(ctx, `
		SELECT r.id, r.kind, r.cups, r.invoice, r.code, r.status, r.requested_at, r.planned_on, r.due_by,
			COALESCE(k.province, '')
		FROM distributor_requests r
		JOIN cuts c ON c.id = r.cut_id
		LEFT JOIN contracts k ON k.cups = r.cups
		WHERE r.code IS NOT NULL AND (
			(r.kind = 'cut' AND r.status IN ('sent', 'accepted') AND c.ended_at IS NULL)
			OR (r.kind IN ('cancel', 'reconnect') AND r.status = 'sent'))
		ORDER BY r.requested_at, r.id`)
	if err != nil {
		return out, fmt.Errorf("pending ATR requests: %w", err)
	}
	requests, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (PendingRequest, error) {
		var p PendingRequest
		var dueBy *time.Time
		var province string
		if err := row.Scan(&p.ID, &p.Kind, &p.Cups, &p.Invoice, &p.Code, &p.Status, &p.RequestedAt, &p.PlannedOn,
			&dueBy, &province); err != nil {
			return p, err
		}
		if p.PlannedOn != nil {
			*p.PlannedOn = dateInMadrid(*p.PlannedOn)
		}
		cal, ok := calendars[province]
		if !ok {
			cal, _ = calendarOf(province, b.Holidays)
			calendars[province] = cal
		}
		at := func(day time.Time) time.Time {
			return time.Date(day.Year(), day.Month(), day.Day(), b.ActionHour, 0, 0, 0, calendar.Madrid)
		}
		switch {
		case p.Kind == activities.RequestCut && p.Status == activities.RequestAccepted:
			p.Awaiting = "05"
			from := p.RequestedAt
			if p.PlannedOn != nil {
				from = *p.PlannedOn
			}
			p.Due = at(cal.AddWorkingDays(from, b.ExecuteWorkingDays))
		case p.Kind == activities.RequestCut:
			p.Awaiting = "02"
			p.Due = at(cal.AddWorkingDays(p.RequestedAt, b.AnswerWorkingDays))
		case p.Kind == activities.RequestReconnect && dueBy != nil:
			p.Awaiting = "04"
			d := madridDay(*dueBy)
			p.Due = time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 59, 0, calendar.Madrid)
		default:
			p.Awaiting = "04"
			p.Due = at(cal.AddWorkingDays(p.RequestedAt, b.AnswerWorkingDays))
		}
		p.Overdue = !now.Before(p.Due)
		p.AgeDays = daysBetween(p.RequestedAt, now)
		return p, nil
	})
	if err != nil {
		return out, fmt.Errorf("pending ATR requests: %w", err)
	}
	for _, p := range requests {
		if p.Overdue || !overdueOnly {
			out.Requests = append(out.Requests, p)
		}
	}
	if overdueOnly {
		return out, nil
	}
	rows, err = s.pool.Query(ctx, `
		SELECT p.id, p.cups, p.invoice, COALESCE(i.status, ''), p.power_kw::float8, p.approved_by, p.requested_at
		FROM power_limits p LEFT JOIN invoices i ON i.invoice = p.invoice
		WHERE p.done_at IS NULL
		ORDER BY p.requested_at, p.id`)
	if err != nil {
		return out, fmt.Errorf("power limitations to do: %w", err)
	}
	out.PowerLimits, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (PowerLimitTask, error) {
		var p PowerLimitTask
		err := row.Scan(&p.ID, &p.Cups, &p.Invoice, &p.InvoiceStatus, &p.KW, &p.ApprovedBy, &p.RequestedAt)
		p.AgeDays = daysBetween(p.RequestedAt, now)
		return p, err
	})
	if err != nil {
		return out, fmt.Errorf("power limitations to do: %w", err)
	}
	out.RejectedFiles, err = list[RejectedATRFile](ctx, s, "rejected ATR files",
		`SELECT id, file_name, sha256, reason, created_at AS at FROM atr_rejected_files ORDER BY created_at, id`)
	return out, err
}

// daysBetween counts the calendar days in Madrid from a to b.
func daysBetween(a, b time.Time) int {
	da, db := madridDay(a), madridDay(b)
	return int(time.Date(db.Year(), db.Month(), db.Day(), 0, 0, 0, 0, time.UTC).Sub(
		time.Date(da.Year(), da.Month(), da.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

// ErrNotProtected means the supply point carries no protection to clear.
var ErrNotProtected = errors.New("no protection to clear")

// ClearProtection lifts the distributor's protection of a supply point (a cut
// it refused as essential, court-ordered, energy poverty...), once a person
// has checked the supply may be cut again: who and why go to the audit trail.
// It returns the open invoices of the supply point, whose cases read the
// contract again when a person releases them.
func (s *Store) ClearProtection(ctx context.Context, cups, by, reason string) ([]string, error) {
	cups, by, reason = strings.TrimSpace(cups), strings.TrimSpace(by), strings.TrimSpace(reason)
	switch {
	case cups == "":
		return nil, errors.New("clear protection: no CUPS")
	case by == "":
		return nil, fmt.Errorf("clear protection of %s: no one clears it", cups)
	case reason == "":
		return nil, fmt.Errorf("clear protection of %s: no reason", cups)
	}
	var open []string
	err := s.inTx(ctx, "clear protection of "+cups, func(tx pgx.Tx) error {
		var protection string
		var since *time.Time
		err := tx.QueryRow(ctx, `SELECT protection, protection_at FROM supply_points WHERE cups = $1 FOR UPDATE`, cups).
			Scan(&protection, &since)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("the supply point is not in the ledger: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if protection == "" {
			return ErrNotProtected
		}
		if _, err := tx.Exec(ctx, `UPDATE supply_points SET protection = '', protection_at = NULL WHERE cups = $1`, cups); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT invoice FROM invoices WHERE cups = $1 AND status = 'open' ORDER BY invoice`, cups)
		if err != nil {
			return err
		}
		if open, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		// On the trail of every open invoice of the supply point, whose cases
		// it frees; on no invoice's when none is open.
		detail := map[string]any{"cups": cups, "protection": protection, "protection_at": since, "reason": reason}
		invoices := open
		if len(invoices) == 0 {
			invoices = []string{""}
		}
		for _, invoice := range invoices {
			if err := audit(ctx, tx, activities.CaseRef{Invoice: invoice}, by, "protection_cleared", time.Now(), detail, ""); err != nil {
				return err
			}
		}
		return nil
	})
	return open, err
}

// ErrLimitDone means the power limitation was already recorded done.
var ErrLimitDone = errors.New("already done")

// MarkPowerLimitDone records that a clerk carried out the power limitation
// id: who, and when, go to its row and the audit trail. Recording it again
// is refused with ErrLimitDone, naming who did it.
func (s *Store) MarkPowerLimitDone(ctx context.Context, id int64, by string) (PowerLimit, error) {
	by = strings.TrimSpace(by)
	if by == "" {
		return PowerLimit{}, fmt.Errorf("power limitation %d: no one records it", id)
	}
	var p PowerLimit
	err := s.inTx(ctx, fmt.Sprintf("power limitation %d done", id), func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+columns[PowerLimit]()+" FROM power_limits WHERE id = $1 FOR UPDATE", id)
		if err != nil {
			return err
		}
		p, err = pgx.CollectOneRow(rows, pgx.RowToStructByName[PowerLimit])
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("not in the ledger: %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		if p.DoneAt != nil {
			return fmt.Errorf("%w by %s on %s", ErrLimitDone, p.DoneBy, p.DoneAt.In(calendar.Madrid).Format("02/01/2006 15:04"))
		}
		if err := tx.QueryRow(ctx, `UPDATE power_limits SET done_at = now(), done_by = $2 WHERE id = $1 RETURNING done_at`,
			id, by).Scan(&p.DoneAt); err != nil {
			return err
		}
		p.DoneBy = by
		return audit(ctx, tx, activities.CaseRef{WorkflowID: p.WorkflowID, RunID: p.RunID, Invoice: p.Invoice}, by,
			"power_limit_done", time.Now(), map[string]any{"request_id": p.ID, "cups": p.Cups, "kw": p.PowerKW}, "")
	})
	return p, err
}
