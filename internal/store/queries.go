package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/elega/impagos/activities"
)

// Invoice is a row of invoices: one returned invoice and where its case stands.
type Invoice struct {
	Invoice        string     `db:"invoice"`
	Customer       string     `db:"customer"`
	Cups           string     `db:"cups"`
	AmountCents    int64      `db:"amount_cents"`
	AmountDueCents int64      `db:"amount_due_cents"`
	ReturnedAt     *time.Time `db:"returned_at"`
	Status         string     `db:"status"` // open, paid or cancelled
	Stage          string     `db:"stage"`
	CutDate        *time.Time `db:"cut_date"` // a calendar day, at midnight UTC
	WorkflowID     string     `db:"workflow_id"`
	RunID          string     `db:"run_id"`
	OpenedAt       time.Time  `db:"opened_at"`
	PaidAt         *time.Time `db:"paid_at"`
	SettledCutID   *int64     `db:"settled_cut_id"`
	HoldReason     string     `db:"hold_reason"` // a person's hold: no cut while it is set
	HoldBy         string     `db:"hold_by"`
	HoldAt         *time.Time `db:"hold_at"`
	CreatedAt      time.Time  `db:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at"`
}

// OutboxRow is a row of outbox: one communication to a customer.
type OutboxRow struct {
	ID             int64      `db:"id"`
	IdempotencyKey string     `db:"idempotency_key"`
	WorkflowID     string     `db:"workflow_id"`
	RunID          string     `db:"run_id"`
	Invoice        string     `db:"invoice"`
	Kind           string     `db:"kind"`
	Channel        string     `db:"channel"`
	Recipient      string     `db:"recipient"`
	Subject        string     `db:"subject"`
	Body           string     `db:"body"`
	Status         string     `db:"status"` // pending, sending, sent, failed or not_sent
	StatusDetail   string     `db:"status_detail"`
	MessageID      string     `db:"message_id"`
	Attempts       int32      `db:"attempts"` // claims for sending so far
	NoticeAt       time.Time  `db:"notice_at"`
	CreatedAt      time.Time  `db:"created_at"`
	SentAt         *time.Time `db:"sent_at"`
	ClaimedAt      *time.Time `db:"claimed_at"` // the last claim for sending
}

// OutboxFilter selects outbox rows; an empty field matches everything.
type OutboxFilter struct {
	Invoice string
	Channel string
	Status  string
	Kind    string
	Limit   int // 0: no limit
}

// DistributorRequest is a row of distributor_requests: a cut or a
// reconnection the distributor must carry out.
type DistributorRequest struct {
	ID          int64      `db:"id"`
	Kind        string     `db:"kind"` // cut or reconnect
	Cups        string     `db:"cups"`
	CutID       int64      `db:"cut_id"`
	Invoice     string     `db:"invoice"`
	WorkflowID  string     `db:"workflow_id"`
	RunID       string     `db:"run_id"`
	RequestedAt time.Time  `db:"requested_at"`
	DueBy       *time.Time `db:"due_by"`
	Status      string     `db:"status"`
	CreatedAt   time.Time  `db:"created_at"`
}

// Payment is a row of payments, the payments ledger.
type Payment struct {
	ID          int64     `db:"id"`
	Key         string    `db:"key"`
	Invoice     string    `db:"invoice"`
	PaidAt      time.Time `db:"paid_at"`
	AmountCents int64     `db:"amount_cents"`
	Method      string    `db:"method"`
	Reference   string    `db:"reference"`
	Source      string    `db:"source"`
	CreatedAt   time.Time `db:"created_at"`
}

// AuditRow is a row of audit: something that happened to a case.
type AuditRow struct {
	ID         int64           `db:"id"`
	At         time.Time       `db:"at"`
	BusinessAt *time.Time      `db:"business_at"`
	WorkflowID string          `db:"workflow_id"`
	RunID      string          `db:"run_id"`
	Invoice    string          `db:"invoice"`
	Actor      string          `db:"actor"`
	Action     string          `db:"action"`
	Detail     json.RawMessage `db:"detail"`
	Key        *string         `db:"key"`
}

// UpsertContract stores a contract, replacing the one of the same CUPS.
func (s *Store) UpsertContract(ctx context.Context, c activities.Contract) error {
	return upsertContract(ctx, s.pool, c)
}

// execer is what a pool and a transaction share.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func upsertContract(ctx context.Context, db execer, c activities.Contract) error {
	if c.Cups == "" {
		return errors.New("upsert contract: no CUPS")
	}
	_, err := db.Exec(ctx, `
		INSERT INTO contracts (cups, customer, tax_id, segment, phone, email, province, bono_social, essential, protected)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (cups) DO UPDATE SET
			customer = excluded.customer, tax_id = excluded.tax_id, segment = excluded.segment,
			phone = excluded.phone, email = excluded.email, province = excluded.province,
			bono_social = excluded.bono_social, essential = excluded.essential, protected = excluded.protected,
			updated_at = now()`,
		c.Cups, c.Customer, c.TaxID, c.Segment, c.Phone, c.Email, c.Province, c.BonoSocial, c.Essential, c.Protected)
	if err != nil {
		return fmt.Errorf("upsert contract %s: %w", c.Cups, err)
	}
	return nil
}

// Invoice returns the row of an invoice, or ErrNotFound.
func (s *Store) Invoice(ctx context.Context, invoice string) (Invoice, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+columns[Invoice]()+` FROM invoices WHERE invoice = $1`, invoice)
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice %s: %w", invoice, err)
	}
	inv, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Invoice])
	if errors.Is(err, pgx.ErrNoRows) {
		return Invoice{}, fmt.Errorf("invoice %s: %w", invoice, ErrNotFound)
	}
	if err != nil {
		return Invoice{}, fmt.Errorf("invoice %s: %w", invoice, err)
	}
	return inv, nil
}

// Outbox lists the communications that match f, oldest first.
func (s *Store) Outbox(ctx context.Context, f OutboxFilter) ([]OutboxRow, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"invoice", f.Invoice}, {"channel", f.Channel}, {"status", f.Status}, {"kind", f.Kind},
	} {
		if c.val != "" {
			args = append(args, c.val)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	q := "SELECT " + columns[OutboxRow]() + " FROM outbox"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	return list[OutboxRow](ctx, s, "outbox", q, args...)
}

// DistributorRequests lists the cuts and reconnections requested for a CUPS,
// or for every CUPS when cups is empty, oldest first.
func (s *Store) DistributorRequests(ctx context.Context, cups string) ([]DistributorRequest, error) {
	return list[DistributorRequest](ctx, s, "distributor requests",
		"SELECT "+columns[DistributorRequest]()+` FROM distributor_requests WHERE $1 = '' OR cups = $1 ORDER BY id`, cups)
}

// Payments lists the payments recorded for an invoice, oldest first.
func (s *Store) Payments(ctx context.Context, invoice string) ([]Payment, error) {
	return list[Payment](ctx, s, "payments",
		"SELECT "+columns[Payment]()+` FROM payments WHERE invoice = $1 ORDER BY paid_at, id`, invoice)
}

// Audit lists what happened to an invoice's cases, in the order it was written.
func (s *Store) Audit(ctx context.Context, invoice string) ([]AuditRow, error) {
	return list[AuditRow](ctx, s, "audit", "SELECT "+columns[AuditRow]()+` FROM audit WHERE invoice = $1 ORDER BY id`, invoice)
}

// columns lists the db tags of T's fields, so that a column added by a later
// migration does not break the rows read into T.
func columns[T any]() string {
	t := reflect.TypeFor[T]()
	cols := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if c := t.Field(i).Tag.Get("db"); c != "" {
			cols = append(cols, c)
		}
	}
	return strings.Join(cols, ", ")
}

func list[T any](ctx context.Context, s *Store, what, q string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[T])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
