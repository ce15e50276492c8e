package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// Deliver hands a pending outbox row, with its attachments, to send and
// records the outcome. An e-mail is claimed first: marked 'sending' in a
// transaction of its own before the provider is called, so that no retry, after
// a crash or a lost database, ever sends it again. The outcome is written in a
// second transaction, retried for a while if the database is away, since the
// provider may already have the message. A failure the provider reported
// (an outcome without a status) puts the row back to pending for the next
// attempt. A row that is not pending is returned as it is: 'sending' then means
// an earlier attempt was cut short and nobody knows whether the e-mail left.
// Texts and letters for the clerks are never claimed.
func (s *Store) Deliver(ctx context.Context, id int64, send func(activities.OutboxItem) activities.Delivery) (activities.OutboxItem, error) {
	var it activities.OutboxItem
	var claimed bool
	err := s.inTx(ctx, fmt.Sprintf("deliver outbox #%d", id), func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			SELECT id, idempotency_key, invoice, kind, channel, recipient, subject, body, status, status_detail, message_id
			FROM outbox WHERE id = $1 FOR UPDATE`, id).Scan(
			&it.ID, &it.Key, &it.Invoice, &it.Kind, &it.Channel, &it.Recipient, &it.Subject, &it.Body,
			&it.Status, &it.Detail, &it.MessageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("outbox #%d: %w", id, ErrNotFound)
		}
		if err != nil || it.Status != activities.StatusPending {
			return err
		}
		if it.Attachments, err = attachments(ctx, tx, id); err != nil {
			return err
		}
		if it.Channel != activities.ChannelEmail && it.Channel != activities.ChannelCertified {
			return nil
		}
		claimed = true
		_, err = tx.Exec(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = $1`, id)
		return err
	})
	if err != nil || it.Status != activities.StatusPending {
		return it, err
	}
	d := send(it)
	if !claimed {
		if d.Detail != it.Detail {
			_, err = s.pool.Exec(ctx, `UPDATE outbox SET status_detail = $2 WHERE id = $1`, id, d.Detail)
			it.Detail = d.Detail
		}
		return it, err
	}
	// The provider may hold the message now: the outcome must reach the
	// ledger, so a database that is briefly away is waited for.
	for wait := time.Second; ; wait *= 2 {
		err = s.recordDelivery(ctx, id, d)
		if err == nil || ctx.Err() != nil || wait > 30*time.Second {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if err != nil {
		it.Status = "sending"
		return it, err
	}
	if d.Status == "" || d.Status == activities.StatusPending {
		it.Status, it.Detail = activities.StatusPending, d.Detail
		return it, nil
	}
	it.Status, it.MessageID, it.Detail = d.Status, d.MessageID, d.Detail
	return it, nil
}

// recordDelivery writes the outcome of a claimed e-mail.
func (s *Store) recordDelivery(ctx context.Context, id int64, d activities.Delivery) error {
	return s.inTx(ctx, fmt.Sprintf("record delivery of outbox #%d", id), func(tx pgx.Tx) error {
		if d.Status == "" || d.Status == activities.StatusPending {
			_, err := tx.Exec(ctx, `UPDATE outbox SET status = 'pending', status_detail = $2 WHERE id = $1 AND status = 'sending'`,
				id, d.Detail)
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE outbox SET status = $2, message_id = $3, status_detail = $4,
				sent_at = CASE WHEN $2 = 'sent' THEN now() END
			WHERE id = $1 AND status = 'sending'`, id, d.Status, d.MessageID, d.Detail)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if ev := d.Evidence; ev != nil {
			hashes, err := json.Marshal(ev.AttachmentsSHA256)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO evidence (outbox_id, provider, content_sha256, attachments_sha256, message_id, sent_at)
				VALUES ($1, $2, $3, $4, $5, $6)`,
				id, ev.Provider, ev.ContentSHA256, hashes, ev.MessageID, ev.SentAt); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO audit (workflow_id, run_id, invoice, actor, action, detail)
			SELECT workflow_id, run_id, invoice, 'system', 'delivery', $2 FROM outbox WHERE id = $1`,
			id, map[string]any{"outbox_id": id, "status": d.Status, "message_id": d.MessageID, "detail": d.Detail})
		return err
	})
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func attachments(ctx context.Context, db querier, outboxID int64) ([]activities.Attachment, error) {
	rows, err := db.Query(ctx, `
		SELECT filename, content_type, content FROM outbox_attachments WHERE outbox_id = $1 ORDER BY filename`, outboxID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (activities.Attachment, error) {
		var a activities.Attachment
		err := r.Scan(&a.Filename, &a.ContentType, &a.Content)
		return a, err
	})
}

// Attachments returns the files kept with an outbox row.
func (s *Store) Attachments(ctx context.Context, outboxID int64) ([]activities.Attachment, error) {
	out, err := attachments(ctx, s.pool, outboxID)
	if err != nil {
		return nil, fmt.Errorf("attachments of outbox #%d: %w", outboxID, err)
	}
	return out, nil
}

// EvidenceRow is what the certified channel kept of one communication.
type EvidenceRow struct {
	OutboxID          int64           `db:"outbox_id"`
	Provider          string          `db:"provider"`
	ContentSHA256     string          `db:"content_sha256"`
	AttachmentsSHA256 json.RawMessage `db:"attachments_sha256"`
	MessageID         string          `db:"message_id"`
}

// Evidence returns the evidence kept for an outbox row, or ErrNotFound.
func (s *Store) Evidence(ctx context.Context, outboxID int64) (EvidenceRow, error) {
	rows, err := list[EvidenceRow](ctx, s, "evidence", "SELECT "+columns[EvidenceRow]()+" FROM evidence WHERE outbox_id = $1", outboxID)
	if err != nil {
		return EvidenceRow{}, err
	}
	if len(rows) == 0 {
		return EvidenceRow{}, fmt.Errorf("evidence of outbox #%d: %w", outboxID, ErrNotFound)
	}
	return rows[0], nil
}

// ScheduledCuts lists the open cases with a cut date on or after from, by
// date, with the phone the cuts desk calls.
func (s *Store) ScheduledCuts(ctx context.Context, from time.Time) ([]activities.ScheduledCut, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT i.cut_date::timestamp AT TIME ZONE 'Europe/Madrid', i.invoice, i.customer, i.cups, i.amount_due_cents,
		       COALESCE(c.phone, ''), i.stage
		FROM invoices i LEFT JOIN contracts c ON c.cups = i.cups
		WHERE i.status = 'open' AND i.cut_date IS NOT NULL
		  AND (i.stage = 'cut_review'
		       OR (i.stage = 'cut_scheduled' AND i.cut_date >= ($1::timestamptz AT TIME ZONE 'Europe/Madrid')::date))
		ORDER BY i.cut_date, i.customer, i.invoice`, from)
	if err != nil {
		return nil, fmt.Errorf("scheduled cuts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activities.ScheduledCut, error) {
		var c activities.ScheduledCut
		err := r.Scan(&c.CutDate, &c.Invoice, &c.Customer, &c.Cups, &c.AmountCents, &c.Phone, &c.Stage)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("scheduled cuts: %w", err)
	}
	return out, nil
}

// CallEntry is a customer with more than one open returned invoice: the
// clerks call them (PROCESS "Every day").
type CallEntry struct {
	Customer   string   `json:"customer"`
	TaxID      string   `json:"tax_id"`
	Phone      string   `json:"phone"`
	Email      string   `json:"email"`
	Invoices   []string `json:"invoices"`
	TotalCents int64    `json:"total_cents"`
}

// CallList returns the customers with more than one open returned invoice,
// the largest debt first. A customer is its tax id when the contract has one,
// else its name.
func (s *Store) CallList(ctx context.Context) ([]CallEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT max(i.customer), COALESCE(max(c.tax_id), ''), COALESCE(max(NULLIF(c.phone, '')), ''),
		       COALESCE(max(NULLIF(c.email, '')), ''), array_agg(i.invoice ORDER BY i.invoice), sum(i.amount_due_cents)::bigint
		FROM invoices i LEFT JOIN contracts c ON c.cups = i.cups
		WHERE i.status = 'open'
		GROUP BY COALESCE(NULLIF(c.tax_id, ''), i.customer)
		HAVING count(*) > 1
		ORDER BY sum(i.amount_due_cents) DESC, max(i.customer)`)
	if err != nil {
		return nil, fmt.Errorf("call list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallEntry, error) {
		var e CallEntry
		err := r.Scan(&e.Customer, &e.TaxID, &e.Phone, &e.Email, &e.Invoices, &e.TotalCents)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("call list: %w", err)
	}
	return out, nil
}
