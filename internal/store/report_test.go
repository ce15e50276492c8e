package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

func exec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	_, err := s.Pool().Exec(context.Background(), q, args...)
	require.NoError(t, err)
}

// reportRows reads every row of a view.
func reportRows(t *testing.T, v *ReportView, prev *ReportRun) map[string]ReportRow {
	t.Helper()
	out := map[string]ReportRow{}
	require.NoError(t, v.Rows(context.Background(), prev, func(r *ReportRow) error {
		out[r.Invoice] = *r
		return nil
	}))
	return out
}

func TestReportViewCutoff(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()

	v, err := s.OpenReportView(ctx, time.Time{}, false)
	require.NoError(t, err)
	now := time.Now()
	require.WithinDuration(t, now, v.Cutoff(), time.Minute, "today: the ledger as it stands")
	y, m, d := now.In(calendar.Madrid).Date()
	require.Equal(t, calendar.Date(y, m, d), v.AsOf())
	v.Close()

	// An earlier day ends at midnight in Madrid, whatever the location of the
	// day given: only its year, month and day count.
	v, err = s.OpenReportView(ctx, time.Date(2025, time.March, 29, 0, 0, 0, 0, time.UTC), false)
	require.NoError(t, err)
	require.Equal(t, calendar.Date(2025, time.March, 29), v.AsOf())
	require.True(t, v.Cutoff().Equal(time.Date(2025, time.March, 29, 23, 0, 0, 0, time.UTC)), "%v", v.Cutoff())
	v.Close()

	_, err = s.OpenReportView(ctx, now.AddDate(0, 0, 2), false)
	require.ErrorContains(t, err, "has not ended yet")
}

// TestReportRowsAsOfAnEarlierDay: at the end of an earlier day an invoice
// owes what it owes now plus the payments recorded after that day, not more
// than the invoice; its cut, reconnection, settlement and notices count only
// when dated before the cutoff; notices of an earlier run of the invoice
// (returned again) do not count.
func TestReportRowsAsOfAnEarlierDay(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	exec(t, s, `INSERT INTO invoices (invoice, customer, cups, amount_cents, amount_due_cents, returned_at,
			status, stage, run_id, opened_at, paid_at, updated_at) VALUES
		('F-1', 'Ana', 'ES1', 10000, 0, '2025-03-01', 'paid', 'reconnected', 'run-2', '2025-03-01', '2025-03-20 10:00+01', '2025-03-20 10:00+01'),
		('F-2', 'Bea', 'ES2', 5000, 5000, '2025-03-02', 'open', 'notice_1', 'run-1', '2025-03-02', NULL, now()),
		('F-3', 'Carlos', 'ES3', 3000, 3000, '2025-03-25', 'open', 'notice_1', 'run-1', '2025-03-25', NULL, now())`)
	exec(t, s, `INSERT INTO payments (key, invoice, paid_at, amount_cents, source, created_at) VALUES
		('p1', 'F-1', '2025-03-05', 4000, 'import', '2025-03-05 12:00+01'),
		('p2', 'F-1', '2025-03-20', 9000, 'import', '2025-03-20 12:00+01')`) // 3.000 beyond the invoice
	exec(t, s, `INSERT INTO supply_points (cups) VALUES ('ES1')`)
	exec(t, s, `INSERT INTO cuts (id, cups, requested_by_invoice, cut_at, reconnection_requested_at, created_at)
		VALUES (1, 'ES1', 'F-1', '2025-03-10 09:00+01', '2025-03-20 10:00+01', '2025-03-10 09:00+01')`)
	exec(t, s, `INSERT INTO cut_invoices (cut_id, invoice) VALUES (1, 'F-1')`)
	// Notices count by when they were recorded, not by the date they carry.
	exec(t, s, `INSERT INTO outbox (idempotency_key, run_id, invoice, kind, channel, recipient, notice_at, status, created_at) VALUES
		('a', 'run-2', 'F-1', 'aviso_1', 'email', 'x', '2025-06-02', 'sent', '2025-03-02'),
		('b', 'run-2', 'F-1', 'aviso_1', 'whatsapp', 'x', '2025-06-02', 'pending', '2025-03-02'),
		('c', 'run-2', 'F-1', 'aviso_2', 'email', 'x', '2025-03-01', 'sent', '2025-03-12'),
		('d', 'run-2', 'F-1', 'requerimiento', 'certified', 'x', '2025-03-02', 'failed', '2025-03-02'),
		('e', 'run-1', 'F-1', 'carta_corte', 'letter', 'x', '2025-03-02', 'pending', '2025-03-02'),
		('f', 'run-2', 'F-1', 'pago', 'email', 'x', '2025-03-02', 'sent', '2025-03-02')`)

	at := func(day time.Time) map[string]ReportRow {
		v, err := s.OpenReportView(ctx, day, false)
		require.NoError(t, err)
		defer v.Close()
		n, err := v.Count(ctx)
		require.NoError(t, err)
		rows := reportRows(t, v, nil)
		require.Len(t, rows, n)
		return rows
	}

	r := at(calendar.Date(2025, time.March, 11))["F-1"]
	require.Equal(t, int64(6000), r.PendingCents, "owes the invoice less what was paid by then; the later overpayment is no debt")
	require.Equal(t, 1, r.Notices, "aviso 1 by two channels; aviso 2 was recorded later; the failed demand, the earlier run's letter and the payment e-mail do not count")
	require.True(t, r.CutAt.Equal(time.Date(2025, 3, 10, 9, 0, 0, 0, calendar.Madrid)))
	require.False(t, r.Reconnected)
	require.True(t, r.PaidAt.IsZero())

	rows := at(calendar.Date(2025, time.March, 21))
	r = rows["F-1"]
	require.Equal(t, int64(0), r.PendingCents)
	require.Equal(t, 2, r.Notices)
	require.True(t, r.Reconnected)
	require.True(t, r.PaidAt.Equal(time.Date(2025, 3, 20, 10, 0, 0, 0, calendar.Madrid)))
	require.NotContains(t, rows, "F-3", "opened after the day")
	require.Equal(t, "notice_1", rows["F-2"].Stage)
	require.True(t, rows["F-2"].ReturnedAt.Equal(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)))
}

// TestReportRunsAndLines: the previous total is the latest run that is not
// unbalanced; the lines follow the runs that become previous totals, rebuilt
// or changed invoice by invoice.
func TestReportRunsAndLines(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES1")
	_, err := s.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 12345, ReturnedAt: day(2025, 3, 10, 11)})
	require.NoError(t, err)
	c2 := ref("F-2", "ES2")
	c2.AmountDueCents = 500
	_, err = s.OpenCase(ctx, activities.OpenCaseInput{Case: c2, AmountCents: 500, ReturnedAt: day(2025, 3, 10, 11)})
	require.NoError(t, err)

	save := func(status string, total int64, lines *LinesUpdate) *ReportRun {
		t.Helper()
		v, err := s.OpenReportView(ctx, time.Time{}, true)
		require.NoError(t, err)
		defer v.Close()
		r := &ReportRun{TotalCents: total, Status: status}
		require.NoError(t, v.SaveRun(ctx, r, lines))
		require.NoError(t, v.Commit(ctx))
		return r
	}
	last := func() *ReportRun {
		t.Helper()
		v, err := s.OpenReportView(ctx, time.Time{}, false)
		require.NoError(t, err)
		defer v.Close()
		r, err := v.LastRun(ctx)
		require.NoError(t, err)
		return r
	}
	require.Nil(t, last())

	first := save(RunFirst, 12845, &LinesUpdate{Rebuild: true})
	require.Equal(t, first.ID, last().ID)
	require.Equal(t, int64(12845), last().LinesCents)

	save(RunUnbalanced, 1, nil)
	require.Equal(t, first.ID, last().ID, "an unbalanced run is never the previous total")
	require.Equal(t, int64(12845), last().LinesCents)

	balanced := save(RunBalanced, 10000, &LinesUpdate{Changes: []LineChange{{"F-1", 10000}, {"F-2", 0}}})
	got := last()
	require.Equal(t, balanced.ID, got.ID)
	require.Equal(t, RunBalanced, got.Status)
	require.Equal(t, int64(10000), got.LinesCents)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM report_lines`))

	// The rows carry what moved against the lines.
	require.NoError(t, s.UpsertContract(ctx, activities.Contract{Cups: "ES1", Segment: activities.SegmentDomestic}))
	v, err := s.OpenReportView(ctx, time.Time{}, false)
	require.NoError(t, err)
	defer v.Close()
	rows := reportRows(t, v, got)
	require.Equal(t, int64(10000), rows["F-1"].PreviousCents)
	require.Equal(t, int64(12345), rows["F-1"].PendingCents)
	f1, f2 := rows["F-1"], rows["F-2"]
	require.True(t, f1.Moved())
	require.False(t, rows["F-1"].Opened, "opened before the previous run")
	require.Equal(t, "domestico", rows["F-1"].Segment)
	require.Equal(t, int64(0), rows["F-2"].PreviousCents)
	require.True(t, f2.Moved(), "owes 5,00 € and has no line")
}

// TestReportRecordingViewsTakeTurns: a second report that records its run
// waits for the first, so both never check against the same previous total.
func TestReportRecordingViewsTakeTurns(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	first, err := s.OpenReportView(ctx, time.Time{}, true)
	require.NoError(t, err)
	opened := make(chan *ReportView)
	go func() {
		v, err := s.OpenReportView(ctx, time.Time{}, true)
		if err != nil {
			t.Error(err)
		}
		opened <- v
	}()
	require.Eventually(t, func() bool {
		return count(t, s, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid = $1::bigint::oid AND objsubid = 2
			  AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid`, reportLockKey) == 1
	}, 10*time.Second, 10*time.Millisecond, "the second view waits for the lock")
	select {
	case <-opened:
		t.Fatal("the second view opened while the first held the lock")
	default:
	}
	first.Close()
	second := <-opened
	require.NotNil(t, second)
	second.Close()
}

// TestReportRowsOfACaseOnItsOwnClock: a case on the demo policy dates its cut
// and payment on a clock weeks ahead; today's report still shows them.
func TestReportRowsOfACaseOnItsOwnClock(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	ahead := time.Now().AddDate(0, 2, 0).Truncate(time.Microsecond)
	exec(t, s, `INSERT INTO invoices (invoice, cups, amount_cents, amount_due_cents, returned_at, status, stage, paid_at)
		VALUES ('F-1', 'ES1', 1000, 0, now(), 'paid', 'reconnected', $1), ('F-2', 'ES2', 2000, 2000, now(), 'open', 'cut', NULL)`, ahead)
	exec(t, s, `INSERT INTO supply_points (cups) VALUES ('ES1'), ('ES2')`)
	exec(t, s, `INSERT INTO cuts (id, cups, requested_by_invoice, cut_at, reconnection_requested_at) VALUES
		(1, 'ES1', 'F-1', $1, now()), (2, 'ES2', 'F-2', $1, NULL)`, ahead)
	exec(t, s, `INSERT INTO cut_invoices (cut_id, invoice) VALUES (1, 'F-1'), (2, 'F-2')`)
	exec(t, s, `INSERT INTO outbox (idempotency_key, invoice, kind, channel, recipient, notice_at) VALUES
		('a', 'F-2', 'carta_corte', 'letter', 'x', $1)`, ahead)

	v, err := s.OpenReportView(ctx, time.Time{}, false)
	require.NoError(t, err)
	defer v.Close()
	rows := reportRows(t, v, nil)
	require.True(t, rows["F-1"].PaidAt.Equal(ahead), "settled, on its own clock")
	require.True(t, rows["F-1"].Reconnected)
	require.True(t, rows["F-2"].CutAt.Equal(ahead), "cut, on its own clock")
	require.False(t, rows["F-2"].Reconnected)
	require.Equal(t, 1, rows["F-2"].Notices)
}
