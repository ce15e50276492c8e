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
// transaction of its own before the provider is called, with the claim's time
// and the deadline of the attempt that makes it (ctx's), so that no retry,
// after a crash or a lost database, sends it again while the provider may have
// it. The outcome is written in a second transaction, retried for a while if
// the database is away, since the provider may already have the message. A
// failure the provider reported (an outcome without a status) puts the row back
// to pending for the next attempt. A row that is not pending is returned as it
// is; a 'sending' one comes with its Claim: an earlier attempt was cut short,
// and what the provider's events say of it. Texts and letters for the clerks
// are never claimed.
func (s *Store) Deliver(ctx context.Context, id int64, send func(activities.OutboxItem) activities.Delivery) (activities.OutboxItem, error) {
	var it activities.OutboxItem
	var claimed bool
	var until *time.Time
	if dl, ok := ctx.Deadline(); ok {
		until = &dl
	}
	err := s.inTx(ctx, fmt.Sprintf("deliver outbox #%d", id), func(tx pgx.Tx) error {
		var err error
		if it, err = outboxItem(ctx, tx, id, true); err != nil {
			return err
		}
		switch it.Status {
		case activities.StatusSending:
			if it.Attachments, err = attachments(ctx, tx, id); err != nil {
				return err
			}
			it.Claim, err = claimOf(ctx, tx, it)
			return err
		case activities.StatusPending:
		default:
			return nil
		}
		if it.Attachments, err = attachments(ctx, tx, id); err != nil {
			return err
		}
		if it.Channel != activities.ChannelEmail && it.Channel != activities.ChannelCertified {
			return nil
		}
		claimed = true
		return tx.QueryRow(ctx, `
			UPDATE outbox SET status = 'sending', attempts = attempts + 1, status_detail = '',
				claimed_at = now(), claim_until = $2
			WHERE id = $1 RETURNING attempts`, id, until).Scan(&it.Attempts)
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
		err = s.recordDelivery(ctx, id, it.Attempts, d)
		if err == nil || ctx.Err() != nil || wait > 30*time.Second {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if err != nil {
		it.Status = activities.StatusSending
		return it, err
	}
	if d.Status == "" || d.Status == activities.StatusPending {
		it.Status, it.Detail = activities.StatusPending, d.Detail
		return it, nil
	}
	it.Status, it.MessageID, it.Detail = d.Status, d.MessageID, d.Detail
	return it, nil
}

// outboxItem reads an outbox row as delivery sees it, locked if lock.
func outboxItem(ctx context.Context, db pgx.Tx, id int64, lock bool) (activities.OutboxItem, error) {
	var it activities.OutboxItem
	q := `SELECT id, idempotency_key, invoice, kind, channel, recipient, subject, body, status, status_detail, message_id, attempts
		FROM outbox WHERE id = $1`
	if lock {
		q += " FOR UPDATE"
	}
	err := db.QueryRow(ctx, q, id).Scan(&it.ID, &it.Key, &it.Invoice, &it.Kind, &it.Channel, &it.Recipient, &it.Subject,
		&it.Body, &it.Status, &it.Detail, &it.MessageID, &it.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("outbox #%d: %w", id, ErrNotFound)
	}
	return it, err
}

// claimOf tells what is known of a row left 'sending': the claim's age and its
// attempt's deadline by the database's clock, the first event SendGrid
// reported of the e-mail, and whether its events reach the system at all.
func claimOf(ctx context.Context, tx pgx.Tx, it activities.OutboxItem) (*activities.Claim, error) {
	var c activities.Claim
	var age, running float64
	err := tx.QueryRow(ctx, `
		SELECT o.claimed_at IS NOT NULL,
			COALESCE(EXTRACT(EPOCH FROM now() - o.claimed_at), 0)::float8,
			COALESCE(EXTRACT(EPOCH FROM o.claim_until - now()), 0)::float8,
			EXISTS (SELECT 1 FROM mail_events e WHERE e.received_at > COALESCE(o.claimed_at, now()) - interval '1 day'),
			COALESCE(EXISTS (SELECT 1 FROM mail_events e
				WHERE e.event IN ('processed', 'dropped') AND e.occurred_at > o.claimed_at), false)
		FROM outbox o WHERE o.id = $1`, it.ID).Scan(&c.Dated, &age, &running, &c.Webhook, &c.Later)
	if err != nil {
		return nil, fmt.Errorf("claim of outbox #%d: %w", it.ID, err)
	}
	c.Age = time.Duration(age * float64(time.Second))
	c.Running = time.Duration(running * float64(time.Second))
	var ev activities.MailEvent
	err = tx.QueryRow(ctx, `
		SELECT event, split_part(message_id, '.', 1), occurred_at FROM mail_events
		WHERE outbox_key = $1 ORDER BY occurred_at, id LIMIT 1`, it.Key).Scan(&ev.Event, &ev.MessageID, &ev.At)
	switch {
	case err == nil:
		c.Event = &ev
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("events of outbox #%d: %w", it.ID, err)
	}
	return &c, nil
}

// Confirm records the outcome of claim number attempt of a row left 'sending',
// which the provider's event proves, and returns the row as it then is (as it
// was, if it is no longer in that claim).
func (s *Store) Confirm(ctx context.Context, id int64, attempt int32, d activities.Delivery) (activities.OutboxItem, error) {
	if err := s.recordDelivery(ctx, id, attempt, d); err != nil {
		return activities.OutboxItem{}, err
	}
	var it activities.OutboxItem
	err := s.inTx(ctx, fmt.Sprintf("read outbox #%d", id), func(tx pgx.Tx) error {
		var err error
		it, err = outboxItem(ctx, tx, id, false)
		return err
	})
	return it, err
}

// Release puts a row left 'sending' by claim number attempt back to pending
// with detail, so that the next delivery claims and sends it again, when
// everything says the provider never got it: no event of its outbox key, the
// claim older than grace, the deadline of the attempt that made it passed, and
// events of e-mails the provider got after the claim. It checks all of it in
// the statement that releases, and says whether it did.
func (s *Store) Release(ctx context.Context, id int64, attempt int32, grace time.Duration, detail string) (bool, error) {
	var released bool
	err := s.inTx(ctx, fmt.Sprintf("release outbox #%d", id), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE outbox o SET status = 'pending', status_detail = $4
			WHERE o.id = $1 AND o.status = 'sending' AND o.attempts = $2
			  AND o.claimed_at <= now() - make_interval(secs => $3)
			  AND (o.claim_until IS NULL OR o.claim_until <= now())
			  AND NOT EXISTS (SELECT 1 FROM mail_events e WHERE e.outbox_key = o.idempotency_key)
			  AND EXISTS (SELECT 1 FROM mail_events e
				WHERE e.event IN ('processed', 'dropped') AND e.occurred_at > o.claimed_at)`,
			id, attempt, grace.Seconds(), detail)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		released = true
		_, err = tx.Exec(ctx, `
			INSERT INTO audit (workflow_id, run_id, invoice, actor, action, detail)
			SELECT workflow_id, run_id, invoice, 'system', 'delivery', $2 FROM outbox WHERE id = $1`,
			id, map[string]any{"outbox_id": id, "status": activities.StatusPending, "released_claim": attempt, "detail": detail})
		return err
	})
	return released, err
}

// recordDelivery writes the outcome of claim number attempt of an e-mail; a
// row no longer in that claim is left alone. A qualified provider's
// certificate that comes with a sent formal notice is its proof, recorded in
// the same transaction.
func (s *Store) recordDelivery(ctx context.Context, id int64, attempt int32, d activities.Delivery) error {
	return s.inTx(ctx, fmt.Sprintf("record delivery of outbox #%d", id), func(tx pgx.Tx) error {
		if d.Status == "" || d.Status == activities.StatusPending {
			_, err := tx.Exec(ctx, `UPDATE outbox SET status = 'pending', status_detail = $2 WHERE id = $1 AND status = 'sending' AND attempts = $3`,
				id, d.Detail, attempt)
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE outbox SET status = $2, message_id = $3, status_detail = $4,
				sent_at = CASE WHEN $2 = 'sent' THEN now() END
			WHERE id = $1 AND status = 'sending' AND attempts = $5`, id, d.Status, d.MessageID, d.Detail, attempt)
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
			if d.Status == activities.StatusSent {
				if err := recordCertificate(ctx, tx, id, *ev); err != nil {
					return err
				}
			}
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO audit (workflow_id, run_id, invoice, actor, action, detail)
			SELECT workflow_id, run_id, invoice, 'system', 'delivery', $2 FROM outbox WHERE id = $1`,
			id, map[string]any{"outbox_id": id, "status": d.Status, "message_id": d.MessageID, "detail": d.Detail, "claim": attempt})
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

// ScheduledCuts lists, by date, with the phone the cuts desk calls, the open
// cases scheduled to be cut on or after the day of from (Madrid), and every
// case awaiting the desk's review whatever its date, so that an overdue review
// stays on the list.
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

// CallEntry is a customer the clerks call (PROCESS "Every day"): one with
// more than one open returned invoice, or with one whose bank's return says
// its account or mandate failed, who is asked for a new IBAN or mandate.
type CallEntry struct {
	Customer   string   `json:"customer"`
	TaxID      string   `json:"tax_id"`
	Phone      string   `json:"phone"`
	Email      string   `json:"email"`
	Invoices   []string `json:"invoices"`
	TotalCents int64    `json:"total_cents"`
	// Reasons and Paths are, invoice by invoice as Invoices lists them, the
	// bank's reason code of its return and the path it chose; "" for a
	// return without a reason (TRADE's exports carry none).
	Reasons []string `json:"reasons"`
	Paths   []string `json:"paths"`
	// NewMandate: an open invoice is on the account path, so the call asks
	// the customer for a new IBAN or mandate.
	NewMandate bool `json:"new_mandate"`
}

// CallList returns the customers with more than one open returned invoice,
// and those with an open invoice on the account path, the largest debt
// first. A customer is its tax id when the contract has one, else its name.
func (s *Store) CallList(ctx context.Context) ([]CallEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT max(i.customer), COALESCE(max(c.tax_id), ''), COALESCE(max(NULLIF(c.phone, '')), ''),
		       COALESCE(max(NULLIF(c.email, '')), ''), array_agg(i.invoice ORDER BY i.invoice), sum(i.amount_due_cents)::bigint,
		       array_agg(COALESCE(br.reason, '') ORDER BY i.invoice), array_agg(COALESCE(br.path, '') ORDER BY i.invoice),
		       COALESCE(bool_or(br.path = 'account'), false)
		FROM invoices i LEFT JOIN contracts c ON c.cups = i.cups
		LEFT JOIN (`+bankReasonSQL("")+`) br ON br.invoice = i.invoice
		WHERE i.status = 'open'
		GROUP BY COALESCE(NULLIF(c.tax_id, ''), i.customer)
		HAVING count(*) > 1 OR bool_or(br.path = 'account')
		ORDER BY sum(i.amount_due_cents) DESC, max(i.customer)`)
	if err != nil {
		return nil, fmt.Errorf("call list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallEntry, error) {
		var e CallEntry
		err := r.Scan(&e.Customer, &e.TaxID, &e.Phone, &e.Email, &e.Invoices, &e.TotalCents, &e.Reasons, &e.Paths, &e.NewMandate)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("call list: %w", err)
	}
	return out, nil
}
