package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// RecordRefusal keeps on the audit trail a clerk's action that a case refused
// before anything reached its history (an update's validator), so that every
// attempt on a case, accepted or not, can be found again.
func (s *Store) RecordRefusal(ctx context.Context, c activities.CaseRef, actor, action, reason string) error {
	return s.inTx(ctx, "record refusal for "+c.Invoice, func(tx pgx.Tx) error {
		return audit(ctx, tx, c, firstNonEmpty(actor, "desconocido"), "refused", time.Now(), map[string]any{
			"action": action,
			"reason": reason,
		}, "")
	})
}
