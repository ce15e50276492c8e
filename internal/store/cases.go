package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// actorSystem signs the audit entries the workflow writes on its own.
const actorSystem = "system"

// OpenCase registers the returned invoice for the case's run and returns what
// the payments ledger already holds against it. A retry of the same run leaves
// the row as it is; a new run of the same invoice (returned again) reopens it.
//
// Payments count from the day of the return on (Europe/Madrid), not from its
// instant: the payments workbook carries dates without a time, so a payment on
// the day of the return is stored at midnight and must still count, while the
// direct debit that was later returned, if the ledger holds it, is earlier.
func (s *Store) OpenCase(ctx context.Context, in activities.OpenCaseInput) (activities.OpenCaseResult, error) {
	c := in.Case
	var res activities.OpenCaseResult
	err := s.inTx(ctx, "open case "+c.Invoice, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO invoices (invoice, customer, cups, amount_cents, amount_due_cents, returned_at,
				status, stage, cut_date, workflow_id, run_id)
			VALUES ($1, $2, $3, $4, GREATEST($5::bigint, 0), $6, 'open', $7, $8, $9, $10)
			ON CONFLICT (invoice) DO NOTHING`,
			c.Invoice, c.Customer, c.Cups, in.AmountCents, c.AmountDueCents, nullTime(in.ReturnedAt),
			c.Stage, c.CutDate, c.WorkflowID, c.RunID)
		if err != nil {
			return err
		}
		action := "opened"
		if tag.RowsAffected() == 0 {
			var wf, run string
			if err := tx.QueryRow(ctx, `SELECT workflow_id, run_id FROM invoices WHERE invoice = $1 FOR UPDATE`,
				c.Invoice).Scan(&wf, &run); err != nil {
				return err
			}
			if wf == c.WorkflowID && run == c.RunID {
				action = "" // a retry: nothing new to record
				if err := touchInvoice(ctx, tx, c); err != nil {
					return err
				}
			} else {
				action = "reopened"
				if _, err := tx.Exec(ctx, `
					UPDATE invoices SET customer = $2, cups = $3, amount_cents = $4,
						amount_due_cents = GREATEST($5::bigint, 0), returned_at = $6, status = 'open', stage = $7,
						cut_date = $8, workflow_id = $9, run_id = $10, opened_at = now(), paid_at = NULL,
						settled_cut_id = NULL, cancelled_at = NULL, cancelled_by = '', cancel_reason = '',
						hold_reason = '', hold_by = '', hold_at = NULL, updated_at = now()
					WHERE invoice = $1`,
					c.Invoice, c.Customer, c.Cups, in.AmountCents, c.AmountDueCents, nullTime(in.ReturnedAt),
					c.Stage, c.CutDate, c.WorkflowID, c.RunID); err != nil {
					return err
				}
			}
		}
		if action != "" {
			if err := audit(ctx, tx, c, actorSystem, action, in.ReturnedAt, map[string]any{
				"amount_cents": in.AmountCents,
				"cups":         c.Cups,
				"customer":     c.Customer,
			}, ""); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `
			SELECT key, amount_cents FROM payments
			WHERE invoice = $1
			  AND ($2::timestamptz IS NULL
			       OR (paid_at AT TIME ZONE 'Europe/Madrid')::date >= ($2::timestamptz AT TIME ZONE 'Europe/Madrid')::date)
			ORDER BY id`,
			c.Invoice, nullTime(in.ReturnedAt))
		if err != nil {
			return err
		}
		var key string
		var cents int64
		_, err = pgx.ForEachRow(rows, []any{&key, &cents}, func() error {
			res.PaidCents += cents
			res.PaymentKeys = append(res.PaymentKeys, key)
			return nil
		})
		return err
	})
	return res, err
}

// Contract returns the contract of the case's supply point; Found is false
// when the contracts hold none.
func (s *Store) Contract(ctx context.Context, c activities.CaseRef) (activities.Contract, error) {
	var k activities.Contract
	err := s.pool.QueryRow(ctx, `
		SELECT k.customer, k.tax_id, k.cups, k.segment, k.phone, k.email, k.province, k.bono_social, k.essential,
			k.protected, COALESCE(sp.protection, '')
		FROM contracts k LEFT JOIN supply_points sp ON sp.cups = k.cups WHERE k.cups = $1`, c.Cups).Scan(
		&k.Customer, &k.TaxID, &k.Cups, &k.Segment, &k.Phone, &k.Email, &k.Province,
		&k.BonoSocial, &k.Essential, &k.Protected, &k.Protection)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return activities.Contract{}, nil
	case err != nil:
		return activities.Contract{}, fmt.Errorf("contract of %s: %w", c.Cups, err)
	}
	k.Found = true
	return k, nil
}

// PutOutbox stores each message once per idempotency key and returns the
// stored rows, so a retry gets the ids of the first attempt.
func (s *Store) PutOutbox(ctx context.Context, c activities.CaseRef, msgs []activities.OutboxMessage) ([]activities.Message, error) {
	out := make([]activities.Message, 0, len(msgs))
	err := s.inTx(ctx, "outbox of "+c.Invoice, func(tx pgx.Tx) error {
		out = out[:0]
		for _, m := range msgs {
			if m.Key == "" {
				return fmt.Errorf("%s message to %q has no idempotency key", m.Channel, m.Recipient)
			}
			var id int64
			err := tx.QueryRow(ctx, `
				INSERT INTO outbox (idempotency_key, workflow_id, run_id, invoice, kind, channel, recipient,
					subject, body, notice_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT (idempotency_key) DO NOTHING
				RETURNING id`,
				m.Key, c.WorkflowID, c.RunID, c.Invoice, m.Kind, m.Channel, m.Recipient, m.Subject, m.Body, m.At).Scan(&id)
			switch {
			case errors.Is(err, pgx.ErrNoRows): // stored by an earlier attempt
			case err != nil:
				return err
			default:
				for _, a := range m.Attachments {
					sum := sha256.Sum256(a.Content)
					if _, err := tx.Exec(ctx, `
						INSERT INTO outbox_attachments (outbox_id, filename, content_type, content, sha256)
						VALUES ($1, $2, $3, $4, $5)`,
						id, a.Filename, a.ContentType, a.Content, hex.EncodeToString(sum[:])); err != nil {
						return err
					}
				}
				if err := audit(ctx, tx, c, actorSystem, "notice", m.At, map[string]any{
					"outbox_id": id,
					"kind":      m.Kind,
					"channel":   m.Channel,
					"recipient": m.Recipient,
				}, ""); err != nil {
					return err
				}
			}
			var msg activities.Message
			if err := tx.QueryRow(ctx, `SELECT id, channel, recipient, notice_at FROM outbox WHERE idempotency_key = $1`,
				m.Key).Scan(&msg.OutboxID, &msg.Channel, &msg.Recipient, &msg.At); err != nil {
				return err
			}
			msg.At = msg.At.In(m.At.Location())
			out = append(out, msg)
		}
		return touchInvoice(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordStage writes the case's stage, amount due and cut date to the invoice
// row and adds an audit entry, once however often it is retried.
func (s *Store) RecordStage(ctx context.Context, in activities.StageInput) error {
	c := in.Case
	return s.inTx(ctx, "record stage of "+c.Invoice, func(tx pgx.Tx) error {
		if err := touchInvoice(ctx, tx, c); err != nil {
			return err
		}
		detail := map[string]any{
			"stage":            c.Stage,
			"amount_due_cents": c.AmountDueCents,
			"detail":           in.Detail,
		}
		if c.CutDate != nil {
			detail["cut_date"] = c.CutDate.Format(time.DateOnly)
		}
		when := in.At.UTC().Format(time.RFC3339Nano)
		if in.Seq > 0 {
			when = "#" + strconv.Itoa(in.Seq)
		}
		key := auditKey(c.WorkflowID, c.RunID, "stage", c.Stage, when, in.Actor, in.Detail)
		return audit(ctx, tx, c, firstNonEmpty(in.Actor, actorSystem), "stage", in.At, detail, key)
	})
}

// RecordPayment puts a payment received by signal in the ledger once per key
// and reports whether it was new. It takes the supply point's lock first, so a
// cut request of the supply point sees it or comes before it. A key the ledger
// holds for another invoice or amount is a *activities.PaymentRefusal; the
// same payment under the older form of its key is not new (see putPayment).
func (s *Store) RecordPayment(ctx context.Context, in activities.PaymentInput) (bool, error) {
	c := in.Case
	if in.Key == "" {
		return false, fmt.Errorf("payment for invoice %s has no key", c.Invoice)
	}
	var inserted bool
	err := s.inTx(ctx, "record payment for "+c.Invoice, func(tx pgx.Tx) error {
		if err := lockInvoiceSupplies(ctx, tx, []string{c.Invoice}, c.Cups); err != nil {
			return err
		}
		if err := lockReferences(ctx, tx, []string{in.Reference}); err != nil {
			return err
		}
		key, isNew, err := putPayment(ctx, tx, newPayment{Key: in.Key, Invoice: c.Invoice, PaidAt: in.PaidAt,
			AmountCents: in.AmountCents, Reference: in.Reference, Source: "signal"})
		if err != nil {
			return err
		}
		inserted = isNew
		if err := touchInvoice(ctx, tx, c); err != nil {
			return err
		}
		if !inserted {
			return nil
		}
		return audit(ctx, tx, c, actorSystem, "payment", in.PaidAt, map[string]any{
			"key":              key,
			"amount_cents":     in.AmountCents,
			"reference":        in.Reference,
			"amount_due_cents": c.AmountDueCents,
		}, "")
	})
	return inserted, err
}

// SupplyStatus says whether the case's supply point is cut now.
func (s *Store) SupplyStatus(ctx context.Context, c activities.CaseRef) (activities.SupplyStatus, error) {
	var st activities.SupplyStatus
	err := s.pool.QueryRow(ctx, `SELECT id FROM cuts WHERE cups = $1 AND ended_at IS NULL`,
		c.Cups).Scan(&st.CutID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return activities.SupplyStatus{}, nil
	case err != nil:
		return activities.SupplyStatus{}, fmt.Errorf("supply status of %s: %w", c.Cups, err)
	}
	st.Cut = true
	return st, nil
}

// RequestCut asks the distributor to cut the case's supply point, or joins the
// invoice to the cut already in force there: one request per cut, however many
// invoices of the supply point reach their cut.
//
// A checked request (in.Checked) is judged here, under the supply point's lock
// and in the transaction that writes it, since a cut cannot be undone: the
// invoice must still be open, owe something by the payments ledger and not be
// on hold; a new cut also needs a contract that allows it, a proven formal
// notice whose wait is over, no ban that covers the consumer and an allowed cut
// day of the supply's calendar (see checkCut). A refusal writes nothing but an
// audit entry (cut_refused) and is returned as a *activities.CutRefusal.
//
// Joining a cut already in force sends nothing to the distributor, so it is
// judged by the invoice alone (open, owing, not held): a paid or held invoice
// never joins, but the notice, wait and day of the cut were the cut's own. A
// retry of a request that was written reads as that request, unjudged: the cut
// is done and must not be denied to the case that asked for it.
func (s *Store) RequestCut(ctx context.Context, in activities.CutInput) (activities.CutResult, error) {
	c := in.Case
	if c.Cups == "" {
		return activities.CutResult{}, fmt.Errorf("request cut for invoice %s: no CUPS", c.Invoice)
	}
	var res activities.CutResult
	var refusal *activities.CutRefusal
	var day time.Time
	err := s.inTx(ctx, "request cut for "+c.Invoice, func(tx pgx.Tx) error {
		res, refusal = activities.CutResult{}, nil
		if err := lockSupplyPoint(ctx, tx, c.Cups); err != nil {
			return err
		}
		if in.Checked {
			var err error
			if day, err = s.requestDay(ctx, tx, in); err != nil {
				return err
			}
		}
		var requestedBy string
		err := tx.QueryRow(ctx, `
			SELECT id, requested_by_invoice FROM cuts
			WHERE cups = $1 AND ended_at IS NULL`, c.Cups).Scan(&res.CutID, &requestedBy)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if in.Checked {
				runID, r, err := checkInvoice(ctx, tx, c.Invoice)
				if err == nil && r == nil {
					r, err = s.checkCut(ctx, tx, in, runID, day)
				}
				if err != nil {
					return err
				}
				if refusal = r; r != nil {
					return errRefused
				}
			}
			if err := tx.QueryRow(ctx, `
				INSERT INTO cuts (cups, requested_by_invoice, approved_by, cut_at)
				VALUES ($1, $2, $3, $4) RETURNING id`,
				c.Cups, c.Invoice, in.ApprovedBy, in.At).Scan(&res.CutID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO cut_invoices (cut_id, invoice) VALUES ($1, $2)`,
				res.CutID, c.Invoice); err != nil {
				return err
			}
			if in.ATR {
				st, r, err := s.requestCutATR(ctx, tx, in, res.CutID, day)
				if err != nil {
					return err
				}
				if refusal = r; r != nil {
					return errRefused
				}
				res.Request = st
			} else if _, err := tx.Exec(ctx, `
				INSERT INTO distributor_requests (kind, cups, cut_id, invoice, workflow_id, run_id, requested_at)
				VALUES ('cut', $1, $2, $3, $4, $5, $6)`,
				c.Cups, res.CutID, c.Invoice, c.WorkflowID, c.RunID, in.At); err != nil {
				return err
			}
			if err := audit(ctx, tx, c, firstNonEmpty(in.ApprovedBy, actorSystem), "cut_requested", in.At,
				map[string]any{"cut_id": res.CutID, "cups": c.Cups}, ""); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			// The creating call retried must read as the creating call.
			res.Joined = requestedBy != c.Invoice
			if in.Checked {
				var member bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cut_invoices WHERE cut_id = $1 AND invoice = $2)`,
					res.CutID, c.Invoice).Scan(&member); err != nil {
					return err
				}
				if !member {
					_, r, err := checkInvoice(ctx, tx, c.Invoice)
					if err != nil {
						return err
					}
					if refusal = r; r != nil {
						return errRefused
					}
				}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO cut_invoices (cut_id, invoice) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				res.CutID, c.Invoice)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				if err := audit(ctx, tx, c, firstNonEmpty(in.ApprovedBy, actorSystem), "cut_joined", in.At,
					map[string]any{"cut_id": res.CutID, "cups": c.Cups, "requested_by_invoice": requestedBy}, ""); err != nil {
					return err
				}
			}
			if in.ATR {
				var id int64
				err := tx.QueryRow(ctx, `SELECT id FROM distributor_requests WHERE cut_id = $1 AND kind = 'cut' AND code IS NOT NULL`,
					res.CutID).Scan(&id)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				if err == nil {
					st, err := requestState(ctx, tx, id)
					if err != nil {
						return err
					}
					res.Request = &st
				}
			}
		}
		return touchInvoice(ctx, tx, c)
	})
	if refusal != nil {
		if err := s.recordRefusal(ctx, c, "cut_refused", in.ApprovedBy, in.At, day, refusal); err != nil {
			return activities.CutResult{}, err
		}
		return activities.CutResult{}, fmt.Errorf("request cut for %s: %w", c.Invoice, refusal)
	}
	return res, err
}

// Settle marks the invoice paid. If its supply point is cut and no other
// invoice of that cut is still open, it asks the distributor to reconnect.
//
// Every open returned invoice of the supply point keeps it cut, whether or not
// it reached its own cut yet (PROCESS step 8: reconnected only when all of
// them are paid).
//
// Settlements of one supply point run one at a time (they lock its row), so of
// two invoices paid at the same moment exactly one requests the reconnection.
// A retry returns the answer of the first attempt, never a second request.
func (s *Store) Settle(ctx context.Context, in activities.SettleInput) (activities.SettleResult, error) {
	c := in.Case
	var res activities.SettleResult
	err := s.inTx(ctx, "settle "+c.Invoice, func(tx pgx.Tx) error {
		res = activities.SettleResult{}
		if c.Cups != "" {
			if err := lockSupplyPoint(ctx, tx, c.Cups); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE invoice = $1 AND run_id = $2)`,
			c.Invoice, c.RunID).Scan(&res.Notified); err != nil {
			return err
		}
		unsent, err := tx.Query(ctx, `
			SELECT id FROM outbox
			WHERE invoice = $1 AND run_id = $2 AND status IN ('pending', 'sending') AND channel IN ($3, $4)
			ORDER BY id`, c.Invoice, c.RunID, activities.ChannelEmail, activities.ChannelCertified)
		if err != nil {
			return err
		}
		if res.Unsent, err = pgx.CollectRows(unsent, pgx.RowTo[int64]); err != nil {
			return err
		}
		if len(res.Unsent) == 0 {
			res.Unsent = nil
		}
		var status string
		var cutID *int64
		err = tx.QueryRow(ctx, `SELECT status, settled_cut_id FROM invoices WHERE invoice = $1 FOR UPDATE`,
			c.Invoice).Scan(&status, &cutID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("invoice %s: %w", c.Invoice, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status == "open" {
			cutID = nil
			if c.Cups != "" {
				var id int64
				err := tx.QueryRow(ctx, `SELECT id FROM cuts WHERE cups = $1 AND ended_at IS NULL`,
					c.Cups).Scan(&id)
				switch {
				case err == nil:
					cutID = &id
				case !errors.Is(err, pgx.ErrNoRows):
					return err
				}
			}
			if _, err := tx.Exec(ctx, `
				UPDATE invoices SET status = 'paid', paid_at = COALESCE($2, now()), settled_cut_id = $3,
					updated_at = now()
				WHERE invoice = $1`, c.Invoice, nullTime(in.PaidAt), cutID); err != nil {
				return err
			}
			detail := map[string]any{"supply_cut": cutID != nil}
			if cutID != nil {
				detail["cut_id"] = *cutID
			}
			if err := audit(ctx, tx, c, actorSystem, "paid", in.PaidAt, detail, ""); err != nil {
				return err
			}
		}
		paid := c
		paid.AmountDueCents = 0
		if err := touchInvoice(ctx, tx, paid); err != nil {
			return err
		}
		if cutID == nil {
			return nil
		}
		res.SupplyCut = true

		var releasedBy, release string
		var releaseID int64
		var active bool
		if err := tx.QueryRow(ctx, `
			SELECT cuts.ended_at IS NULL, COALESCE(dr.invoice, ''), COALESCE(dr.kind, ''), COALESCE(dr.id, 0)
			FROM cuts LEFT JOIN distributor_requests dr ON dr.cut_id = cuts.id AND dr.kind IN ('reconnect', 'cancel')
			WHERE cuts.id = $1`, *cutID).Scan(&active, &releasedBy, &release, &releaseID); err != nil {
			return err
		}
		if releasedBy == c.Invoice {
			// This settlement asked for it on an earlier attempt.
			res.Reconnection, res.Release = release == activities.RequestReconnect, release
			return s.releaseState(ctx, tx, releaseID, &res)
		}
		if !active {
			return nil // another settlement asked for it
		}
		rows, err := tx.Query(ctx, `
			SELECT invoice FROM invoices
			WHERE cups = $1 AND invoice <> $2 AND status = 'open'
			ORDER BY invoice`, c.Cups, c.Invoice)
		if err != nil {
			return err
		}
		if res.StillOpen, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if len(res.StillOpen) > 0 {
			return nil
		}
		res.StillOpen = nil
		kind, st, err := s.releaseATR(ctx, tx, c, *cutID, in.From, in.DueBy)
		if err != nil {
			return err
		}
		res.Release, res.Request = kind, st
		res.Reconnection = kind == activities.RequestReconnect
		action := "reconnect_requested"
		if kind == activities.RequestCancel {
			action = "cut_cancel_requested"
		}
		return audit(ctx, tx, c, actorSystem, action, in.PaidAt, map[string]any{
			"cut_id": *cutID,
			"cups":   c.Cups,
			"due_by": nullTime(in.DueBy),
		}, "")
	})
	return res, err
}

// releaseState fills in the state of the release request a settlement made
// on an earlier attempt; one from before ATR has none.
func (s *Store) releaseState(ctx context.Context, tx pgx.Tx, id int64, res *activities.SettleResult) error {
	var code string
	if err := tx.QueryRow(ctx, `SELECT COALESCE(code, '') FROM distributor_requests WHERE id = $1`, id).Scan(&code); err != nil || code == "" {
		return err
	}
	st, err := requestState(ctx, tx, id)
	if err != nil {
		return err
	}
	res.Request = &st
	return nil
}

// lockSupplyPoint creates the supply point's row if needed and locks it until
// the transaction ends.
func lockSupplyPoint(ctx context.Context, tx pgx.Tx, cups string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO supply_points (cups) VALUES ($1) ON CONFLICT DO NOTHING`, cups); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM supply_points WHERE cups = $1 FOR UPDATE`, cups)
	return err
}

// touchInvoice keeps the invoice row as current as the case that writes: an
// empty stage leaves the stored one.
func touchInvoice(ctx context.Context, tx pgx.Tx, c activities.CaseRef) error {
	_, err := tx.Exec(ctx, `
		UPDATE invoices SET stage = COALESCE(NULLIF($2, ''), stage), amount_due_cents = GREATEST($3::bigint, 0),
			cut_date = $4, updated_at = now()
		WHERE invoice = $1`, c.Invoice, c.Stage, c.AmountDueCents, c.CutDate)
	return err
}

// audit adds an entry to the audit trail. A non-empty key writes it at most once.
func audit(ctx context.Context, tx pgx.Tx, c activities.CaseRef, actor, action string, at time.Time, detail map[string]any, key string) error {
	var k *string
	if key != "" {
		k = &key
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit (business_at, workflow_id, run_id, invoice, actor, action, detail, key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (key) DO NOTHING`,
		nullTime(at), c.WorkflowID, c.RunID, c.Invoice, actor, action, detail, k)
	return err
}

// auditKey names an audit entry by what makes it unique.
func auditKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
