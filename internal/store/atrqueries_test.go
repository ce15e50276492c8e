package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// bounds are the default policy's: five working days for an answer, two for
// the cut after the day announced, at nine.
var bounds = ATRBounds{AnswerWorkingDays: 5, ExecuteWorkingDays: 2, ActionHour: 9}

func at(y int, m time.Month, d, h, min, sec int) time.Time {
	return time.Date(y, m, d, h, min, sec, 0, calendar.Madrid)
}

// The requests without their answer are the cuts sent (02 awaited) or
// accepted (05 awaited) while the cut stands, and the cancellations and
// reconnections sent (04 awaited), each with the bound past which it is
// late; requests from before ATR, refused, executed or answered are not.
func TestPendingATR_ListsTheRequestsAwaitingAnAnswerWithTheirBound(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	nationalCalendar(s)
	ctx := context.Background()

	sent := b1Cut(t, s, b1Case(t, s, "F-A", 1), day(2026, 6, 8, 9)) // Monday

	accepted := b1Cut(t, s, b1Case(t, s, "F-B", 2), day(2026, 6, 8, 9))
	exec(t, s, `UPDATE distributor_requests SET status = 'accepted', planned_on = '2026-06-10' WHERE id = $1`, accepted.RequestID)

	c := b1Case(t, s, "F-C", 3)
	b1Cut(t, s, c, day(2026, 6, 8, 9))
	res, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 6, 9, 11), DueBy: day(2026, 6, 10, 11), From: b1Retailer})
	require.NoError(t, err)
	require.Equal(t, activities.RequestCancel, res.Release)
	cancel := res.Request.RequestID
	exec(t, s, `UPDATE distributor_requests SET requested_at = $2 WHERE id = $1`, cancel, day(2026, 6, 9, 11))

	d := b1Case(t, s, "F-D", 4)
	executed := b1Cut(t, s, d, day(2026, 6, 1, 9))
	exec(t, s, `UPDATE distributor_requests SET status = 'executed', executed_on = '2026-06-03' WHERE id = $1`, executed.RequestID)
	exec(t, s, `UPDATE cuts SET executed_on = '2026-06-03' WHERE cups = $1`, d.Cups)
	res, err = s.Settle(ctx, activities.SettleInput{Case: d, PaidAt: day(2026, 6, 10, 10), DueBy: day(2026, 6, 11, 10), From: b1Retailer})
	require.NoError(t, err)
	require.Equal(t, activities.RequestReconnect, res.Release)
	reconnect := res.Request.RequestID
	exec(t, s, `UPDATE distributor_requests SET requested_at = $2 WHERE id = $1`, reconnect, day(2026, 6, 10, 10))

	before := b1Case(t, s, "F-E", 5)
	_, err = s.RequestCut(ctx, activities.CutInput{Case: before, At: day(2026, 6, 1, 9)}) // before ATR: no message
	require.NoError(t, err)
	f := b1Case(t, s, "F-F", 6)
	refused := b1Cut(t, s, f, day(2026, 6, 8, 9))
	exec(t, s, `UPDATE distributor_requests SET status = 'rejected' WHERE id = $1`, refused.RequestID)
	exec(t, s, `UPDATE cuts SET ended_at = now(), outcome = 'rejected' WHERE cups = $1`, f.Cups)

	clockAt(s, at(2026, 6, 12, 10, 0, 0)) // Friday
	got, err := s.PendingATR(ctx, bounds, false)
	require.NoError(t, err)
	type row struct {
		ID                    int64
		Kind, Invoice, Status string
		Awaiting              string
		Due                   time.Time
		Overdue               bool
		AgeDays               int
	}
	var rows []row
	for _, p := range got.Requests {
		require.NotEmpty(t, p.Code)
		require.NotEmpty(t, p.Cups)
		rows = append(rows, row{p.ID, p.Kind, p.Invoice, p.Status, p.Awaiting, p.Due, p.Overdue, p.AgeDays})
	}
	require.Equal(t, []row{
		{sent.RequestID, "cut", "F-A", "sent", "02", at(2026, 6, 15, 9, 0, 0), false, 4},
		{accepted.RequestID, "cut", "F-B", "accepted", "05", at(2026, 6, 12, 9, 0, 0), true, 4},
		{cancel, "cancel", "F-C", "sent", "04", at(2026, 6, 16, 9, 0, 0), false, 3},
		{reconnect, "reconnect", "F-D", "sent", "04", at(2026, 6, 11, 23, 59, 59), true, 2},
	}, rows)
	require.Equal(t, day(2026, 6, 10, 0), *got.Requests[1].PlannedOn)

	overdue, err := s.PendingATR(ctx, bounds, true)
	require.NoError(t, err)
	require.Len(t, overdue.Requests, 2)
	require.Equal(t, accepted.RequestID, overdue.Requests[0].ID)
	require.Equal(t, reconnect, overdue.Requests[1].ID)
	require.Empty(t, overdue.PowerLimits)
	require.Empty(t, overdue.RejectedFiles)

	// Just before its bound, the acceptance is not late yet.
	clockAt(s, at(2026, 6, 12, 8, 59, 0))
	overdue, err = s.PendingATR(ctx, bounds, true)
	require.NoError(t, err)
	require.Len(t, overdue.Requests, 1)
	require.Equal(t, reconnect, overdue.Requests[0].ID)
}

// The working days are the supply's province's: a regional holiday moves
// the bound.
func TestPendingATR_CountsTheWorkingDaysOfTheSupplysProvince(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	s.calendarOf = func(province string, extra calendar.Extra) (calendar.Calendar, int) {
		if province == "Madrid" {
			return calendar.New(calendar.Date(2026, 6, 9)), 0
		}
		return calendar.New(), 0
	}
	sent := b1Cut(t, s, b1Case(t, s, "F-A", 1), day(2026, 6, 8, 9))
	clockAt(s, at(2026, 6, 15, 10, 0, 0))
	got, err := s.PendingATR(context.Background(), bounds, false)
	require.NoError(t, err)
	require.Len(t, got.Requests, 1)
	require.Equal(t, sent.RequestID, got.Requests[0].ID)
	require.Equal(t, at(2026, 6, 16, 9, 0, 0), got.Requests[0].Due, "the 9th is a holiday in Madrid")
	require.False(t, got.Requests[0].Overdue)
}

// The power limitations the clerks have not recorded done are their tasks;
// the answer files the inbox refused are listed with why.
func TestPendingATR_ListsThePowerLimitationsToDoAndTheRejectedFiles(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	todo := b1Case(t, s, "F-G", 7)
	limit, err := s.RequestPowerLimit(ctx, activities.LimitInput{Case: todo, KW: 3.5, ApprovedBy: "rocio", At: day(2026, 6, 5, 9)})
	require.NoError(t, err)
	done := b1Case(t, s, "F-H", 8)
	other, err := s.RequestPowerLimit(ctx, activities.LimitInput{Case: done, KW: 3.5, ApprovedBy: "rocio", At: day(2026, 6, 5, 9)})
	require.NoError(t, err)
	_, err = s.MarkPowerLimitDone(ctx, other.RequestID, "marta")
	require.NoError(t, err)
	require.NoError(t, s.RecordATRRejectedFile(ctx, "respuesta.xml", []byte("<no/>"), "respuesta.xml: B1 message: not XML"))

	clockAt(s, at(2026, 6, 12, 10, 0, 0))
	got, err := s.PendingATR(ctx, bounds, false)
	require.NoError(t, err)
	require.Empty(t, got.Requests)
	require.Len(t, got.PowerLimits, 1)
	p := got.PowerLimits[0]
	require.Equal(t, limit.RequestID, p.ID)
	require.Equal(t, "F-G", p.Invoice)
	require.Equal(t, todo.Cups, p.Cups)
	require.Equal(t, "open", p.InvoiceStatus)
	require.Equal(t, 3.5, p.KW)
	require.Equal(t, "rocio", p.ApprovedBy)
	require.Equal(t, 7, p.AgeDays)
	require.Equal(t, "limitar potencia a 3,5 kW", p.Task())
	require.Len(t, got.RejectedFiles, 1)
	require.Equal(t, "respuesta.xml", got.RejectedFiles[0].FileName)
	require.Equal(t, "respuesta.xml: B1 message: not XML", got.RejectedFiles[0].Reason)
	require.Len(t, got.RejectedFiles[0].SHA256, 64)
}

func TestMarkPowerLimitDone_RecordsWhoOnceAndAudits(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := b1Case(t, s, "F-L", 1)
	limit, err := s.RequestPowerLimit(ctx, activities.LimitInput{Case: c, KW: 3.5, ApprovedBy: "rocio", At: day(2026, 6, 5, 9)})
	require.NoError(t, err)

	_, err = s.MarkPowerLimitDone(ctx, limit.RequestID, "  ")
	require.ErrorContains(t, err, "no one records it")

	p, err := s.MarkPowerLimitDone(ctx, limit.RequestID, "marta")
	require.NoError(t, err)
	require.Equal(t, "marta", p.DoneBy)
	require.NotNil(t, p.DoneAt)
	require.Equal(t, c.Invoice, p.Invoice)

	_, err = s.MarkPowerLimitDone(ctx, limit.RequestID, "luis")
	require.ErrorIs(t, err, ErrLimitDone)
	require.ErrorContains(t, err, "by marta")
	_, err = s.MarkPowerLimitDone(ctx, limit.RequestID+100, "luis")
	require.ErrorIs(t, err, ErrNotFound)

	limits, err := s.PowerLimits(ctx, c.Cups)
	require.NoError(t, err)
	require.Len(t, limits, 1)
	require.Equal(t, "marta", limits[0].DoneBy)

	entries := auditOf(t, s, c.Invoice, "power_limit_done")
	require.Len(t, entries, 1)
	require.Equal(t, "marta", entries[0].Actor)
	require.Equal(t, c.WorkflowID, entries[0].WorkflowID)
	var detail map[string]any
	require.NoError(t, json.Unmarshal(entries[0].Detail, &detail))
	require.Equal(t, float64(limit.RequestID), detail["request_id"])
	require.Equal(t, 3.5, detail["kw"])
}

func TestClearProtection_LiftsItOnceWithWhoAndWhy(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := b1Case(t, s, "F-P1", 1)
	second := b1Case(t, s, "F-P2", 1)
	exec(t, s, `INSERT INTO supply_points (cups, protection, protection_at)
		VALUES ($1, 'la distribuidora rechaza el corte: suministro esencial', now())`, c.Cups)
	k, err := s.Contract(ctx, c)
	require.NoError(t, err)
	require.True(t, k.NeverCut())

	for _, tc := range []struct{ cups, by, reason, want string }{
		{"", "marta", "revisado", "no CUPS"},
		{c.Cups, " ", "revisado", "no one clears it"},
		{c.Cups, "marta", "", "no reason"},
	} {
		_, err := s.ClearProtection(ctx, tc.cups, tc.by, tc.reason)
		require.ErrorContains(t, err, tc.want)
	}

	open, err := s.ClearProtection(ctx, " "+c.Cups+" ", "marta", "la distribuidora confirma que no es esencial")
	require.NoError(t, err)
	require.Equal(t, []string{"F-P1", "F-P2"}, open)
	k, err = s.Contract(ctx, c)
	require.NoError(t, err)
	require.False(t, k.NeverCut())
	require.Empty(t, k.Protection)

	for _, invoice := range []string{c.Invoice, second.Invoice} {
		entries := auditOf(t, s, invoice, "protection_cleared")
		require.Len(t, entries, 1, invoice)
		require.Equal(t, "marta", entries[0].Actor)
		var detail map[string]any
		require.NoError(t, json.Unmarshal(entries[0].Detail, &detail))
		require.Equal(t, "la distribuidora confirma que no es esencial", detail["reason"])
		require.Equal(t, "la distribuidora rechaza el corte: suministro esencial", detail["protection"])
		require.Equal(t, c.Cups, detail["cups"])
	}

	_, err = s.ClearProtection(ctx, c.Cups, "marta", "otra vez")
	require.ErrorIs(t, err, ErrNotProtected)
	_, err = s.ClearProtection(ctx, "ES0021000000009999XX", "marta", "revisado")
	require.ErrorIs(t, err, ErrNotFound)
	require.False(t, errors.Is(err, ErrNotProtected))
}

// auditOf lists the audit entries of an invoice for one action.
func auditOf(t *testing.T, s *Store, invoice, action string) []AuditRow {
	t.Helper()
	all, err := s.Audit(context.Background(), invoice)
	require.NoError(t, err)
	var out []AuditRow
	for _, a := range all {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}
