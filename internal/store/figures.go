package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Figures is what the ledger says of the whole collection at one instant: the
// operators' view, read a few times a minute, never per case.
type Figures struct {
	// At is the ledger's time of the reading.
	At time.Time
	// Open are the open invoices by stage and segment.
	Open []OpenFigure
	// Notices are the outbox's communications by channel and status.
	Notices []NoticeFigure
	// CutsRequested counts the cuts the ledger accepted, ever; CutsExecuted
	// those the distributor says it carried out, CutsExecutedToday those it
	// carried out today (Madrid).
	CutsRequested, CutsExecuted, CutsExecutedToday int64
	// CutRefusals counts the cut requests the ledger refused, by reason
	// (activities.Refused*): once per run of a case, reason and day.
	CutRefusals map[string]int64
	// ReleasesUnrequested counts the supply points still held by a cut while
	// no invoice of theirs owes anything: paid in full, and nobody asked the
	// distributor to reconnect (or cancel). OldestUnrequested is how long the
	// oldest of them has waited since its last debt was cleared.
	ReleasesUnrequested int64
	OldestUnrequested   time.Duration
	// ReconnectionsPending counts the reconnections asked of the distributor
	// without its answer yet; OldestReconnection is the age of the oldest,
	// and ReconnectionsOverdue those past the day the policy gives the
	// distributor (due_by).
	ReconnectionsPending, ReconnectionsOverdue int64
	OldestReconnection                         time.Duration
	// EmailsSending counts the e-mails claimed for sending whose outcome the
	// ledger does not know; OldestSending is how long ago the oldest was
	// claimed.
	EmailsSending int64
	OldestSending time.Duration
	// BankReturnsPending counts the banks' returns waiting for a contract
	// that names their supply point; BankReturnsUnmatched those that match
	// no invoice.
	BankReturnsPending, BankReturnsUnmatched int64
}

// OpenFigure is the open invoices of one stage and segment.
type OpenFigure struct {
	Stage, Segment string
	Cases          int64
	DueCents       int64
}

// NoticeFigure is the communications of one channel in one status.
type NoticeFigure struct {
	Channel, Status string
	Count           int64
}

// Figures reads the ledger's figures in one read-only snapshot. Every query is
// bounded by what is open or waiting (an index says which), but for the
// outbox's count by channel and status, which reads the whole outbox.
func (s *Store) Figures(ctx context.Context) (Figures, error) {
	var f Figures
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			if f.At, err = s.now(ctx, tx); err != nil {
				return err
			}
			for _, read := range []struct {
				what string
				fn   func(context.Context, pgx.Tx, *Figures) error
			}{
				{"open invoices", readOpen},
				{"outbox", readNotices},
				{"cuts", readCuts},
				{"cut refusals", readRefusals},
				{"releases", readReleases},
				{"bank returns", readBankReturns},
			} {
				if err := read.fn(ctx, tx, &f); err != nil {
					return fmt.Errorf("figures of the %s: %w", read.what, err)
				}
			}
			return nil
		})
	return f, err
}

func readOpen(ctx context.Context, tx pgx.Tx, f *Figures) error {
	rows, err := tx.Query(ctx, `
		SELECT i.stage, COALESCE(k.segment, ''), count(*), COALESCE(sum(i.amount_due_cents), 0)::bigint
		FROM invoices i LEFT JOIN contracts k ON k.cups = i.cups
		WHERE i.status = 'open'
		GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	f.Open, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (OpenFigure, error) {
		var o OpenFigure
		err := row.Scan(&o.Stage, &o.Segment, &o.Cases, &o.DueCents)
		return o, err
	})
	return err
}

func readNotices(ctx context.Context, tx pgx.Tx, f *Figures) error {
	rows, err := tx.Query(ctx, `
		SELECT channel, status, count(*), min(claimed_at) FILTER (WHERE status = 'sending')
		FROM outbox GROUP BY 1, 2 ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	var oldest *time.Time
	f.Notices, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (NoticeFigure, error) {
		var n NoticeFigure
		var claimed *time.Time
		if err := row.Scan(&n.Channel, &n.Status, &n.Count, &claimed); err != nil {
			return n, err
		}
		if n.Status == "sending" {
			f.EmailsSending += n.Count
			if claimed != nil && (oldest == nil || claimed.Before(*oldest)) {
				oldest = claimed
			}
		}
		return n, nil
	})
	if oldest != nil {
		f.OldestSending = since(f.At, *oldest)
	}
	return err
}

func readCuts(ctx context.Context, tx pgx.Tx, f *Figures) error {
	return tx.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE executed_on IS NOT NULL), count(*) FILTER (WHERE executed_on = $1::date)
		FROM cuts`, madridDay(f.At).Format(time.DateOnly)).Scan(&f.CutsRequested, &f.CutsExecuted, &f.CutsExecutedToday)
}

// readRefusals counts the refusals recordRefusal wrote (the partial index
// audit_cut_refused_idx holds them).
func readRefusals(ctx context.Context, tx pgx.Tx, f *Figures) error {
	rows, err := tx.Query(ctx, `
		SELECT COALESCE(detail->>'reason', ''), count(*) FROM audit
		WHERE action = 'cut_refused' GROUP BY 1`)
	if err != nil {
		return err
	}
	f.CutRefusals = map[string]int64{}
	var reason string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&reason, &n}, func() error {
		f.CutRefusals[reason] = n
		return nil
	})
	return err
}

// readReleases reads the two waits of a paid supply point: for the request to
// reconnect it (standing cuts: one per supply point at most), and for the
// distributor's answer to that request (those sent and not answered).
func readReleases(ctx context.Context, tx pgx.Tx, f *Figures) error {
	var oldest *time.Time
	if err := tx.QueryRow(ctx, `
		SELECT count(*), min(cleared) FROM (
			SELECT GREATEST(c.created_at, (
				SELECT max(GREATEST(i.paid_at, i.cancelled_at,
					(SELECT max(p.created_at) FROM payments p WHERE p.invoice = i.invoice)))
				FROM invoices i WHERE i.cups = c.cups)) AS cleared
			FROM cuts c
			WHERE c.ended_at IS NULL
			  AND NOT EXISTS (SELECT 1 FROM invoices i
				WHERE i.cups = c.cups AND i.status = 'open' AND i.amount_due_cents > 0)
		) held`).Scan(&f.ReleasesUnrequested, &oldest); err != nil {
		return err
	}
	if oldest != nil {
		f.OldestUnrequested = since(f.At, *oldest)
	}
	oldest = nil
	if err := tx.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE due_by < $1), min(created_at)
		FROM distributor_requests
		WHERE kind = 'reconnect' AND status = 'sent' AND code IS NOT NULL`, f.At).Scan(
		&f.ReconnectionsPending, &f.ReconnectionsOverdue, &oldest); err != nil {
		return err
	}
	if oldest != nil {
		f.OldestReconnection = since(f.At, *oldest)
	}
	return nil
}

func readBankReturns(ctx context.Context, tx pgx.Tx, f *Figures) error {
	return tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'unmatched')
		FROM bank_returns WHERE status IN ('pending', 'unmatched')`).Scan(&f.BankReturnsPending, &f.BankReturnsUnmatched)
}

// since is how long before now t was; never negative (a row written by a
// clock a little ahead of the ledger's).
func since(now, t time.Time) time.Duration {
	return max(now.Sub(t), 0)
}
