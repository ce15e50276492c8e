package distributor

import (
	"context"
	"log/slog"
	"time"
)

// Run is the worker's loop until ctx ends: every poll it reads the inbox
// (Scan), tells the cases of the answers still undelivered (Redeliver), then
// calls send, which hands the distributor what the ledger holds unsent, so a
// message committed by a case whose own attempt was cut short still leaves.
// A nil in or send leaves its part out. Errors are logged and the loop goes
// on: a file that failed is read again at the next poll.
func Run(ctx context.Context, in *Inbox, poll time.Duration, send func(context.Context) error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for ctx.Err() == nil {
		round(ctx, in, send)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round is one poll of Run.
func round(ctx context.Context, in *Inbox, send func(context.Context) error) {
	if in != nil {
		results, err := in.Scan(ctx)
		for _, r := range results {
			switch r.Outcome {
			case Rejected:
				slog.Warn("ATR answer rejected", "file", r.File, "moved_to", r.Path, "reason", r.Reason)
			default:
				slog.Info("ATR answer read", "file", r.File, "outcome", string(r.Outcome),
					"message_id", r.Delivery.Answer.MessageID, "cases", len(r.Delivery.WorkflowIDs))
			}
		}
		if err != nil && ctx.Err() == nil {
			slog.Error("ATR inbox", "dir", in.Dir, "error", err)
		}
		n, err := in.Redeliver(ctx)
		if n > 0 {
			slog.Info("ATR answers delivered again", "answers", n)
		}
		if err != nil && ctx.Err() == nil {
			slog.Error("ATR answers undelivered", "error", err)
		}
	}
	if send != nil {
		if err := send(ctx); err != nil && ctx.Err() == nil {
			slog.Error("ATR outbox", "error", err)
		}
	}
}
