package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/internal/mailevents"
)

var _ mailevents.Recorder = (*Store)(nil)

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
