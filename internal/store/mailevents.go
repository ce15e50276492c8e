package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/internal/mailevents"
)

var (
	_ mailevents.Recorder = (*Store)(nil)
	_ mailevents.Pruner   = (*Store)(nil)
)

// pruneBatch bounds the rows one pruning statement deletes, so that no
// statement holds its locks for long.
const pruneBatch = 5000

// PruneMailEvents deletes the events received longer than keep ago, in
// batches, except those of an e-mail still 'sending': they may yet settle it.
func (s *Store) PruneMailEvents(ctx context.Context, keep time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `
			DELETE FROM mail_events WHERE id IN (
				SELECT e.id FROM mail_events e
				WHERE e.received_at < now() - make_interval(secs => $1)
				  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = e.outbox_key AND o.status = 'sending')
				LIMIT $2)`, keep.Seconds(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune mail events: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

// RecordMailEvents stores a batch of SendGrid's events in one transaction,
// each once by its event id however often SendGrid posts it, and says how many
// were new.
func (s *Store) RecordMailEvents(ctx context.Context, events []mailevents.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	stored := 0
	err := s.inTx(ctx, fmt.Sprintf("record %d mail events", len(events)), func(tx pgx.Tx) error {
		stored = 0
		var b pgx.Batch
		for _, e := range events {
			b.Queue(`
				INSERT INTO mail_events (event_id, event, outbox_key, attempt, message_id, email, occurred_at, payload)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
				ON CONFLICT (event_id) DO NOTHING`,
				e.ID, e.Event, e.OutboxKey, e.Attempt, e.MessageID, e.Email, e.At, string(e.Raw))
		}
		res := tx.SendBatch(ctx, &b)
		for range events {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			stored += int(tag.RowsAffected())
		}
		return res.Close()
	})
	return stored, err
}
