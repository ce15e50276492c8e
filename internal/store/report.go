package store

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// Statuses of a report run. Only first, balanced and accepted runs serve as
// the previous total of the next report.
const (
	RunFirst      = "first"      // no previous total to check against
	RunBalanced   = "balanced"   // previous + new returns - payments = total
	RunUnbalanced = "unbalanced" // the check failed; kept, never used as previous
	RunAccepted   = "accepted"   // the check failed and a person accepted the total
)

// NoticeKinds are the communications counted as notices sent in the report:
// aviso 1, aviso 2, the formal demand and the business cut letter.
var NoticeKinds = []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento, activities.KindCutLetter}

// reportLockKey, with the schema, makes report runs that record their total
// run one at a time, so two of them never take the same previous total
// ("rprt" in ASCII).
const reportLockKey int32 = 0x72707274

// caseWindow says whether payment p counts for invoice i: from the day of the
// return on (Europe/Madrid), as OpenCase counts them.
const caseWindow = `(i.returned_at IS NULL
	OR (p.paid_at AT TIME ZONE 'Europe/Madrid')::date >= (i.returned_at AT TIME ZONE 'Europe/Madrid')::date)`

// bankReasonSQL lists, per invoice, the reason of its latest return a bank's
// file carried and the ledger matched to it (its case started or told), with
// the path that reason chose; cond narrows the returns read (e.g. to those
// recorded by a cutoff). An invoice no bank's file returned (TRADE's exports
// carry no reason) has no row.
func bankReasonSQL(cond string) string {
	return `
	SELECT DISTINCT ON (b.invoice) b.invoice, b.reason, b.path
	FROM bank_returns b
	WHERE b.invoice <> '' AND b.status IN ('started', 'sent', 'known') ` + cond + `
	ORDER BY b.invoice, b.returned_on DESC, b.id DESC`
}

// snapshotSQL lists the invoices opened before the cutoff $1 with what each
// owed then: the amount due the case wrote. For an earlier day, the payments
// recorded after the cutoff are added back, but the invoice never owes more
// than it, nor more than what the payments recorded by the cutoff leave (a
// later overpayment took the amount due to zero, not below).
const snapshotSQL = `
	SELECT i.invoice, i.customer, i.cups, i.amount_cents, i.opened_at, i.returned_at, i.status, i.paid_at,
	       i.updated_at, i.stage, i.cut_date, i.run_id,
	       CASE WHEN late.cents IS NULL THEN i.amount_due_cents
	            ELSE LEAST(i.amount_cents, i.amount_due_cents + late.cents, GREATEST(0, i.amount_cents - (
	                SELECT COALESCE(sum(p.amount_cents), 0) FROM payments p
	                WHERE p.invoice = i.invoice AND p.created_at < $1 AND ` + caseWindow + `)))
	       END::bigint AS pending_cents
	FROM invoices i
	LEFT JOIN (
		SELECT p.invoice, sum(p.amount_cents) AS cents
		FROM payments p JOIN invoices i ON i.invoice = p.invoice
		WHERE p.created_at >= $1 AND ` + caseWindow + `
		GROUP BY p.invoice
	) late ON late.invoice = i.invoice
	WHERE i.opened_at < $1`

// paidSinceSQL adds up, per invoice, the payments recorded from $3 (the
// previous run's cutoff) to $1 (the cutoff) that its case counts, and, for an
// invoice opened in between, those recorded before that its case counted when
// it opened.
const paidSinceSQL = `
	SELECT p.invoice, sum(p.amount_cents)::bigint AS cents, count(*)::int AS n
	FROM (
		SELECT p.invoice, p.amount_cents, p.paid_at FROM payments p
		WHERE p.created_at >= $3 AND p.created_at < $1
		UNION ALL
		SELECT p.invoice, p.amount_cents, p.paid_at
		FROM invoices o JOIN payments p ON p.invoice = o.invoice
		WHERE o.opened_at >= $3 AND o.opened_at < $1 AND p.created_at < $3
	) p
	JOIN invoices i ON i.invoice = p.invoice
	WHERE ` + caseWindow + `
	GROUP BY p.invoice`

// ReportRow is one returned invoice as the clerks' table shows it at the
// cutoff of a report. Zero times mean "none".
type ReportRow struct {
	Invoice      string
	Customer     string
	Cups         string
	AmountCents  int64
	PendingCents int64 // what the invoice owed at the cutoff
	Segment      string
	Stage        string
	Notices      int       // distinct notice kinds sent (NoticeKinds)
	ReturnedAt   time.Time // the return, or when the case opened if the return has no date
	CutDate      time.Time // the scheduled cut day, midnight in Madrid
	CutAt        time.Time // when the distributor was asked to cut (the cut's date), if recorded by the cutoff
	Reconnected  bool      // that cut's reconnection was requested by the cutoff
	PaidAt       time.Time // the settlement's date, if settled by the cutoff
	ReturnReason string    // the bank's reason code (AM04, MD06...), if a bank's file recorded by the cutoff gave one
	ReturnPath   string    // the path that reason chose (funds, disputed, account, deceased, our_error); "" without one

	// Against the previous run (all zero without one):
	PreviousCents int64 // the previous run's line; 0 when it had none
	Opened        bool  // returned (or returned again) since the previous run
	PaidCents     int64 // payments recorded since (for an opened one: every payment its case counts)
	Payments      int
}

// Movement is what changed for the row's invoice since the previous run.
func (r *ReportRow) Movement() ReportMovement {
	return ReportMovement{Invoice: r.Invoice, PreviousCents: r.PreviousCents, InTable: true, Opened: r.Opened,
		AmountCents: r.AmountCents, PaidCents: r.PaidCents, Payments: r.Payments, PendingCents: r.PendingCents}
}

// Moved reports whether the row's invoice was returned, paid or changed
// what it owes since the previous run.
func (r *ReportRow) Moved() bool {
	return r.Opened || r.Payments > 0 || r.PreviousCents != r.PendingCents
}

// ReportRun is a stored report: its total and how it was checked.
type ReportRun struct {
	ID                 int64
	AsOf               time.Time // the day, midnight in Madrid
	CutoffAt           time.Time
	CreatedAt          time.Time
	TotalCents         int64
	OpenCount          int
	PreviousID         int64 // 0: none
	PreviousTotalCents int64
	NewReturnsCents    int64
	PaymentsCents      int64
	DifferenceCents    int64
	Status             string
	Note               string
	File               string
	// LinesCents adds up the stored lines (LastRun only): it equals TotalCents
	// unless the stored total was altered.
	LinesCents int64
}

// LineChange is what an invoice owes now, for the stored lines; 0 removes
// its line.
type LineChange struct {
	Invoice      string
	PendingCents int64
}

// ReportMovement is what changed for one invoice between the previous run
// and this report.
type ReportMovement struct {
	Invoice       string
	PreviousCents int64 // the previous run's line; 0 when it had none
	InTable       bool  // the invoice is in this report
	Opened        bool  // returned (or returned again) since the previous run
	AmountCents   int64
	PaidCents     int64 // payments recorded since the previous run (for an opened one: all that count)
	Payments      int
	PendingCents  int64 // what it owes in this report
}

// PaymentGroup is a set of payments that the check shows but does not subtract.
type PaymentGroup struct {
	Count    int      `json:"count"`
	Cents    int64    `json:"cents"`
	Invoices []string `json:"invoices"` // the first few
}

// StrayPayments are the payments recorded since the previous run that no
// invoice of the report takes: of an invoice the table does not hold, or
// dated before the invoice's return (the debit that was returned).
type StrayPayments struct {
	Unknown      PaymentGroup `json:"unknown_invoice"`
	BeforeReturn PaymentGroup `json:"before_return"`
}

// ReportView is a consistent read of the ledger at a cutoff, in one
// repeatable-read transaction. Close it when done.
type ReportView struct {
	conn   *pgxpool.Conn
	tx     pgx.Tx
	locked bool
	done   bool
	asOf   time.Time
	cutoff time.Time
}

// OpenReportView reads the ledger as it stood at the end of day (the
// calendar day of its year, month and day, ending at midnight in Madrid), or
// as it stands now when day is today or zero. A view that
// will record its run (record) holds a lock that keeps other recording views
// waiting until it is closed.
func (s *Store) OpenReportView(ctx context.Context, day time.Time, record bool) (*ReportView, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	v := &ReportView{conn: conn}
	if record {
		// A lock held by the connection, taken before the transaction begins:
		// the snapshot then includes the run of whoever held the lock before.
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, reportLockKey); err != nil {
			conn.Release()
			return nil, fmt.Errorf("report: take lock: %w", err)
		}
		v.locked = true
	}
	mode := pgx.ReadOnly
	if record {
		mode = pgx.ReadWrite
	}
	if v.tx, err = conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: mode}); err != nil {
		v.Close()
		return nil, fmt.Errorf("report: %w", err)
	}
	var now time.Time
	if err := v.tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		v.Close()
		return nil, fmt.Errorf("report: %w", err)
	}
	// One large read, sorted once: enough memory to sort it without disk; no
	// parallel workers, which on a small machine each build the same hash
	// tables while the report's own process needs the cores; and no JIT, whose
	// compiling (set off by the estimated cost of the earlier-day subquery,
	// which runs for few rows if any) took longer than the query itself.
	if _, err := v.tx.Exec(ctx, `SET LOCAL work_mem = '64MB'; SET LOCAL max_parallel_workers_per_gather = 0;
		SET LOCAL jit = off`); err != nil {
		v.Close()
		return nil, fmt.Errorf("report: %w", err)
	}
	today := madridDay(now)
	if day.IsZero() {
		day = today
	}
	y, m, d := day.Date()
	day = calendar.Date(y, m, d)
	if day.After(today) {
		v.Close()
		return nil, fmt.Errorf("report as of %s: that day has not ended yet (today is %s)",
			day.Format(time.DateOnly), today.Format(time.DateOnly))
	}
	v.asOf = day
	v.cutoff = now
	if end := day.AddDate(0, 0, 1); end.Before(now) {
		v.cutoff = end
	}
	return v, nil
}

// AsOf is the day the view is for, midnight in Madrid.
func (v *ReportView) AsOf() time.Time { return v.asOf }

// Cutoff is the instant of the ledger the view describes.
func (v *ReportView) Cutoff() time.Time { return v.cutoff }

// Close ends the view, rolling back what was not committed.
func (v *ReportView) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v.tx != nil && !v.done {
		_ = v.tx.Rollback(ctx)
	}
	if v.locked {
		if _, err := v.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, reportLockKey); err != nil {
			// Never hand a connection holding the lock back to the pool.
			_ = v.conn.Conn().Close(ctx)
		}
	}
	v.conn.Release()
}

// Commit makes the recorded run permanent.
func (v *ReportView) Commit(ctx context.Context) error {
	if err := v.tx.Commit(ctx); err != nil {
		return fmt.Errorf("report: commit: %w", err)
	}
	v.done = true
	return nil
}

// Count returns how many rows Rows will give.
func (v *ReportView) Count(ctx context.Context) (int, error) {
	var n int
	if err := v.tx.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE opened_at < $1`, v.cutoff).Scan(&n); err != nil {
		return 0, fmt.Errorf("report: count invoices: %w", err)
	}
	return n, nil
}

// rowsSQL reads the table: $1 the cutoff, $2 whether there is a previous run,
// $3 its cutoff, $4 the notice kinds counted, $5 the outbox statuses that do
// not count as sent. The kinds of notice an invoice was sent come as a bit
// set (bit i: $4[i+1]), which one hash aggregate builds.
//
// Cuts, reconnections, notices and the bank's reason of the return count
// when the ledger recorded them before the cutoff (their row times), not by
// the dates they carry: a case on the
// demo policy dates them on its own fast clock, weeks ahead. The settlement has
// no row time of its own; the invoice row's last update, or the payment date
// if earlier, stands for it.
var rowsSQL = `
	WITH snap AS (` + snapshotSQL + `),
	paid AS (` + paidSinceSQL + `)
	SELECT s.invoice, s.customer, s.cups, s.amount_cents, s.pending_cents, COALESCE(c.segment, ''), s.stage,
	       COALESCE(n.kinds, 0)::int4, COALESCE(s.returned_at, s.opened_at), s.cut_date, cu.cut_at,
	       COALESCE(cu.reconnection_requested_at < $1, false),
	       CASE WHEN s.status = 'paid' AND LEAST(s.paid_at, s.updated_at) < $1 THEN s.paid_at END,
	       COALESCE(pl.pending_cents, 0), s.opened_at >= $3, COALESCE(pd.cents, 0), COALESCE(pd.n, 0),
	       COALESCE(br.reason, ''), COALESCE(br.path, '')
	FROM snap s
	LEFT JOIN contracts c ON c.cups = s.cups
	LEFT JOIN (
		SELECT invoice, run_id, bit_or(1 << (array_position($4::text[], kind) - 1)) AS kinds
		FROM outbox
		WHERE kind = ANY($4) AND status <> ALL($5) AND created_at < $1
		GROUP BY invoice, run_id
	) n ON n.invoice = s.invoice AND n.run_id = s.run_id
	LEFT JOIN (
		SELECT DISTINCT ON (ci.invoice) ci.invoice,
			-- A cut asked for by ATR is a cut once the distributor executed it.
			CASE WHEN dr.code IS NULL THEN k.cut_at
			     ELSE k.executed_on::timestamp AT TIME ZONE 'Europe/Madrid' END AS cut_at,
			k.reconnection_requested_at
		FROM cut_invoices ci JOIN cuts k ON k.id = ci.cut_id
		LEFT JOIN distributor_requests dr ON dr.cut_id = k.id AND dr.kind = 'cut'
		WHERE k.created_at < $1
		ORDER BY ci.invoice, k.created_at DESC, k.id DESC
	) cu ON cu.invoice = s.invoice
	LEFT JOIN report_lines pl ON $2 AND pl.invoice = s.invoice
	LEFT JOIN paid pd ON pd.invoice = s.invoice
	LEFT JOIN (` + bankReasonSQL("AND b.imported_at < $1") + `) br ON br.invoice = s.invoice
	ORDER BY COALESCE(s.returned_at, s.opened_at), s.invoice`

// Rows calls fn for each invoice of the view, in the order of their return,
// streaming them from the database. With a previous run, each row also says
// what moved since (see ReportRow). The row passed to fn is reused.
func (v *ReportView) Rows(ctx context.Context, prev *ReportRun, fn func(*ReportRow) error) error {
	checking, since := false, v.cutoff // no previous run: nothing moved
	if prev != nil && prev.CutoffAt.Before(v.cutoff) {
		checking, since = true, prev.CutoffAt
	}
	rows, err := v.tx.Query(ctx, rowsSQL,
		v.cutoff, checking, since, NoticeKinds, []string{activities.StatusFailed, activities.StatusNotSent})
	if err != nil {
		return fmt.Errorf("report: read invoices: %w", err)
	}
	defer rows.Close()
	var (
		r                   ReportRow
		kinds               int32
		cutDate             pgtype.Date
		returned, cut, paid pgtype.Timestamptz
	)
	for rows.Next() {
		if err := rows.Scan(&r.Invoice, &r.Customer, &r.Cups, &r.AmountCents, &r.PendingCents, &r.Segment, &r.Stage,
			&kinds, &returned, &cutDate, &cut, &r.Reconnected, &paid,
			&r.PreviousCents, &r.Opened, &r.PaidCents, &r.Payments, &r.ReturnReason, &r.ReturnPath); err != nil {
			return fmt.Errorf("report: read invoices: %w", err)
		}
		r.Notices = bits.OnesCount32(uint32(kinds))
		r.ReturnedAt, r.CutAt, r.PaidAt, r.CutDate = returned.Time, cut.Time, paid.Time, time.Time{}
		if cutDate.Valid {
			y, m, d := cutDate.Time.Date()
			r.CutDate = calendar.Date(y, m, d)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: read invoices: %w", err)
	}
	return nil
}

// LastRun returns the latest stored run that serves as a previous total, or
// nil when there is none.
func (v *ReportView) LastRun(ctx context.Context) (*ReportRun, error) {
	var r ReportRun
	var prevID, prevTotal *int64
	err := v.tx.QueryRow(ctx, `
		SELECT id, as_of, cutoff_at, created_at, total_cents, open_count, previous_id, previous_total_cents,
		       new_returns_cents, payments_cents, difference_cents, status, note, file,
		       COALESCE((SELECT sum(pending_cents) FROM report_lines), 0)::bigint
		FROM report_runs r WHERE status <> $1
		ORDER BY cutoff_at DESC, id DESC LIMIT 1`, RunUnbalanced).Scan(
		&r.ID, &r.AsOf, &r.CutoffAt, &r.CreatedAt, &r.TotalCents, &r.OpenCount, &prevID, &prevTotal,
		&r.NewReturnsCents, &r.PaymentsCents, &r.DifferenceCents, &r.Status, &r.Note, &r.File, &r.LinesCents)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: last run: %w", err)
	}
	y, m, d := r.AsOf.Date()
	r.AsOf = calendar.Date(y, m, d)
	if prevID != nil {
		r.PreviousID = *prevID
	}
	if prevTotal != nil {
		r.PreviousTotalCents = *prevTotal
	}
	return &r, nil
}

// Vanished calls fn for each invoice the previous run's lines hold that the
// view does not: removed from the table, or reopened after the cutoff.
func (v *ReportView) Vanished(ctx context.Context, fn func(ReportMovement) error) error {
	rows, err := v.tx.Query(ctx, `
		SELECT pl.invoice, pl.pending_cents FROM report_lines pl
		WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.invoice = pl.invoice AND i.opened_at < $1)
		ORDER BY pl.invoice`, v.cutoff)
	if err != nil {
		return fmt.Errorf("report: vanished invoices: %w", err)
	}
	m := ReportMovement{}
	_, err = pgx.ForEachRow(rows, []any{&m.Invoice, &m.PreviousCents}, func() error { return fn(m) })
	if err != nil {
		return fmt.Errorf("report: vanished invoices: %w", err)
	}
	return nil
}

// StrayPayments returns the payments recorded since the previous run that
// the check does not subtract.
func (v *ReportView) StrayPayments(ctx context.Context, prev *ReportRun) (StrayPayments, error) {
	var out StrayPayments
	rows, err := v.tx.Query(ctx, `
		SELECT unknown, count(*)::int, sum(amount_cents)::bigint, (array_agg(DISTINCT invoice ORDER BY invoice))[1:10]
		FROM (
			SELECT p.invoice, p.amount_cents, (i.invoice IS NULL OR i.opened_at >= $1) AS unknown
			FROM payments p LEFT JOIN invoices i ON i.invoice = p.invoice
			WHERE p.created_at >= $2 AND p.created_at < $1
			  AND (i.invoice IS NULL OR i.opened_at >= $1 OR NOT `+caseWindow+`)
		) x
		GROUP BY unknown`, v.cutoff, prev.CutoffAt)
	if err != nil {
		return out, fmt.Errorf("report: stray payments: %w", err)
	}
	var unknown bool
	var g PaymentGroup
	_, err = pgx.ForEachRow(rows, []any{&unknown, &g.Count, &g.Cents, &g.Invoices}, func() error {
		if unknown {
			out.Unknown = g
		} else {
			out.BeforeReturn = g
		}
		g = PaymentGroup{}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("report: stray payments: %w", err)
	}
	return out, nil
}

// SaveRun stores the run. With lines, the run becomes the one the next
// report is checked against, and the stored lines follow it: rebuilt from the
// view, or, when only some invoices moved since the previous run, changed
// for those.
func (v *ReportView) SaveRun(ctx context.Context, r *ReportRun, lines *LinesUpdate) error {
	var prevID, prevTotal *int64
	if r.PreviousID != 0 {
		prevID, prevTotal = &r.PreviousID, &r.PreviousTotalCents
	}
	err := v.tx.QueryRow(ctx, `
		INSERT INTO report_runs (as_of, cutoff_at, total_cents, open_count, previous_id, previous_total_cents,
			new_returns_cents, payments_cents, difference_cents, status, note, file)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id, created_at`,
		v.asOf.Format(time.DateOnly), v.cutoff, r.TotalCents, r.OpenCount, prevID, prevTotal,
		r.NewReturnsCents, r.PaymentsCents, r.DifferenceCents, r.Status, r.Note, r.File).Scan(&r.ID, &r.CreatedAt)
	if err != nil {
		return fmt.Errorf("report: save run: %w", err)
	}
	r.AsOf, r.CutoffAt = v.asOf, v.cutoff
	switch {
	case lines == nil:
		return nil
	case lines.Rebuild:
		if _, err := v.tx.Exec(ctx, `DELETE FROM report_lines`); err != nil {
			return fmt.Errorf("report: save lines: %w", err)
		}
		if _, err := v.tx.Exec(ctx, `
			INSERT INTO report_lines (invoice, pending_cents)
			SELECT invoice, pending_cents FROM (`+snapshotSQL+`) s WHERE pending_cents > 0`, v.cutoff); err != nil {
			return fmt.Errorf("report: save lines: %w", err)
		}
		return nil
	case len(lines.Changes) == 0:
		return nil
	}
	invoices := make([]string, len(lines.Changes))
	cents := make([]int64, len(lines.Changes))
	for i, c := range lines.Changes {
		invoices[i], cents[i] = c.Invoice, c.PendingCents
	}
	if _, err := v.tx.Exec(ctx, `
		WITH c AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS c (invoice, pending_cents)),
		gone AS (DELETE FROM report_lines l USING c WHERE l.invoice = c.invoice AND c.pending_cents = 0)
		INSERT INTO report_lines (invoice, pending_cents)
		SELECT invoice, pending_cents FROM c WHERE pending_cents > 0
		ON CONFLICT (invoice) DO UPDATE SET pending_cents = excluded.pending_cents`, invoices, cents); err != nil {
		return fmt.Errorf("report: save lines: %w", err)
	}
	return nil
}

// LinesUpdate says how the stored lines follow a run.
type LinesUpdate struct {
	Rebuild bool         // replace them all with what the view's invoices owe
	Changes []LineChange // else change these
}

// madridDay is midnight in Madrid of t's calendar day there.
func madridDay(t time.Time) time.Time {
	y, m, d := t.In(calendar.Madrid).Date()
	return calendar.Date(y, m, d)
}
