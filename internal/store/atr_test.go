package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cups"
)

// atrCups is a supply point of distributor 0021 with valid control letters.
var atrCups = cups.Make(21, 4455)

// atrCut asks, with ATR, for the cut of a business case ready to be cut.
func atrCut(t *testing.T, s *Store, invoice string) (activities.CaseRef, activities.CutInput, activities.CutResult) {
	t.Helper()
	clockAt(s, cutDay)
	nationalCalendar(s)
	c := readyCase(t, s, invoice, business(atrCups), day(2025, 10, 3, 0))
	in := checkedCut(c)
	in.ATR, in.From = true, "0999"
	res, err := s.RequestCut(context.Background(), in)
	require.NoError(t, err)
	require.NotNil(t, res.Request)
	return c, in, res
}

// answerFile is an answer of distributor 0021 to a request of ours.
func answerFile(t *testing.T, code, step string, kind atr.Kind, date time.Time, codes ...string) []byte {
	t.Helper()
	m := atr.Message{
		Header: atr.Header{From: "0021", To: "0999", Process: atr.ProcessB1, Step: step, Code: code, Seq: "01",
			RequestedAt: date.Add(10 * time.Hour), CUPS: atrCups},
		Kind: kind, Date: date,
	}
	switch kind {
	case atr.Accepted:
		m.PlannedActivation, m.FieldWork = &date, true
		m.LastFirmReading, m.PlannedActivationType = date, "C0"
	case atr.Activated:
		m.Contract = code
		m.Points = []atr.MeasurePoint{{Code: atrCups + "0F", Movement: "M", Type: "05", ReadMode: "4", Function: "P",
			ValidFrom: date, Registered: date}}
	}
	if kind == atr.CancelAccepted {
		m.Time = "10:15:00"
	}
	for i, c := range codes {
		m.Rejections = append(m.Rejections, atr.Rejection{Seq: string(rune('1' + i)), Code: c, Comment: "motivo " + c})
	}
	body, err := atr.Marshal(m)
	require.NoError(t, err)
	return body
}

func requireFileRefused(t *testing.T, err error, element string) {
	t.Helper()
	var fe *ATRFileError
	require.True(t, errors.As(err, &fe), "want the file refused, got %v", err)
	require.Equal(t, element, fe.Element, fe.Error())
	require.NotEmpty(t, fe.Reason)
}

// The B1 step 01 is committed with the cut, in its transaction: the request
// code is the ledger's own, the planned day is the day checked, and the
// message waits in the ledger until it is sent. A retry neither doubles it nor
// changes it.
func TestATR_TheCutRequestCommitsItsMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	_, in, res := atrCut(t, s, "F-1")

	require.Len(t, res.Request.Code, 12)
	require.Equal(t, activities.RequestSent, res.Request.Status)
	require.Equal(t, "2026-02-10", res.Request.PlannedOn.Format(time.DateOnly))
	msgs, err := s.UnsentATR(ctx, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m, err := atr.Parse(msgs[0].Body)
	require.NoError(t, err)
	require.Equal(t, atr.CutRequested, m.Kind)
	require.Equal(t, "01", m.Step)
	require.Equal(t, res.Request.Code, m.Code)
	require.Equal(t, "0999", m.From)
	require.Equal(t, "0021", m.To, "the distributor is the one of the CUPS")
	require.Equal(t, atrCups, m.CUPS)
	require.NotNil(t, m.Request)
	require.Equal(t, atr.MotiveNonPayment, m.Request.Motive)
	require.Equal(t, "F", m.Request.Activation)
	require.Equal(t, "2026-02-10", m.Request.PlannedDate.Format(time.DateOnly))
	require.Equal(t, "J", m.Request.Customer.PersonType)
	require.Equal(t, "Ferretería Ruiz SL", m.Request.Customer.BusinessName)
	require.Equal(t, atr.FileName(m.Header), msgs[0].FileName)

	again, err := s.RequestCut(ctx, in)
	require.NoError(t, err)
	require.Equal(t, res.CutID, again.CutID)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM atr_messages`))

	require.NoError(t, s.MarkATRSent(ctx, msgs[0].ID))
	left, err := s.UnsentATR(ctx, res.Request.RequestID)
	require.NoError(t, err)
	require.Empty(t, left)
}

// A request the distributor could not read is never written: the cut is
// refused with the reason, and nothing is left behind.
func TestATR_AMessageThatCannotBeWrittenRefusesTheCut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	clockAt(s, cutDay)
	nationalCalendar(s)
	c := readyCase(t, s, "F-1", business(atrCups), day(2025, 10, 3, 0))
	in := checkedCut(c)
	in.ATR, in.From = true, "" // no REE code of ours configured
	_, err := s.RequestCut(context.Background(), in)
	requireRefused(t, s, err, RefusedInvalidRequest, "")
	require.Zero(t, count(t, s, `SELECT count(*) FROM atr_messages`))

	// A contract without the customer's NIF/CIF: the request names no one.
	k := business(atrCups)
	k.TaxID = ""
	require.NoError(t, s.UpsertContract(context.Background(), k))
	in.From = "0999"
	_, err = s.RequestCut(context.Background(), in)
	r := requireRefused(t, s, err, RefusedInvalidRequest, "")
	require.Contains(t, r.Detail, "NIF/CIF")
}

// The distributor's answers move the request forward only, once per file;
// a file that answers nothing of ours, or not the way the request stands, is
// refused naming the element.
func TestATR_AnswersMoveTheRequestForwardOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c, _, res := atrCut(t, s, "F-1")
	code := res.Request.Code

	accepted := answerFile(t, code, "02", atr.Accepted, day(2026, 2, 10, 0))
	d, err := s.RecordATRAnswer(ctx, "a.xml", accepted)
	require.NoError(t, err)
	require.False(t, d.Duplicate)
	require.Equal(t, activities.RequestAccepted, d.Answer.Request.Status)
	require.Equal(t, []string{c.WorkflowID}, d.WorkflowIDs)
	require.NotZero(t, d.Answer.MessageID)
	require.Equal(t, d.Answer.MessageID, d.Answer.Request.Answer)

	again, err := s.RecordATRAnswer(ctx, "a-again.xml", accepted)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, d.Answer.MessageID, again.Answer.MessageID)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM atr_messages WHERE direction = 'in'`))

	executed := answerFile(t, code, "05", atr.Activated, day(2026, 2, 11, 0))
	d, err = s.RecordATRAnswer(ctx, "b.xml", executed)
	require.NoError(t, err)
	require.Equal(t, activities.RequestExecuted, d.Answer.Request.Status)
	require.Equal(t, "2026-02-11", d.Answer.Request.ExecutedOn.Format(time.DateOnly))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM cuts WHERE executed_on = '2026-02-11'`))

	_, err = s.RecordATRAnswer(ctx, "c.xml", answerFile(t, code, "02", atr.Rejected, day(2026, 2, 12, 0), "64"))
	requireFileRefused(t, err, "SecuencialDeSolicitud") // a second, different 02
	_, err = s.RecordATRAnswer(ctx, "c7.xml", answerFile(t, code, "07", atr.Rejected, day(2026, 2, 12, 0), "64"))
	requireFileRefused(t, err, "CodigoDePaso") // refused after the field work, but the cut was carried out
	_, err = s.RecordATRAnswer(ctx, "d.xml", answerFile(t, "000000009999", "02", atr.Accepted, day(2026, 2, 12, 0)))
	requireFileRefused(t, err, "CodigoDeSolicitud")
	_, err = s.RecordATRAnswer(ctx, "e.xml", []byte("<MensajeAceptacionBajaSuspension>"))
	var fe *ATRFileError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe.Error(), "e.xml")

	st, err := s.RequestState(ctx, res.Request.RequestID)
	require.NoError(t, err)
	require.Equal(t, activities.RequestExecuted, st.Status, "refused files changed nothing")

	undelivered, err := s.UndeliveredATR(ctx)
	require.NoError(t, err)
	require.Len(t, undelivered, 2)
	for _, u := range undelivered {
		require.NoError(t, s.MarkATRDelivered(ctx, u.Answer.MessageID))
	}
	undelivered, err = s.UndeliveredATR(ctx)
	require.NoError(t, err)
	require.Empty(t, undelivered)
}

// Paid before the distributor cut: the settlement cancels the request (B1 03)
// instead of asking for a reconnection, and the acceptance of the 03 reaches
// the case with the cut request's state.
func TestATR_SettledBeforeTheCutCancelsTheRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c, _, res := atrCut(t, s, "F-1")
	_, err := s.RecordATRAnswer(ctx, "a.xml", answerFile(t, res.Request.Code, "02", atr.Accepted, day(2026, 2, 10, 0)))
	require.NoError(t, err)

	settled, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 2, 10, 12), DueBy: day(2026, 2, 11, 12), From: "0999"})
	require.NoError(t, err)
	require.Equal(t, activities.RequestCancel, settled.Release)
	require.False(t, settled.Reconnection)
	require.NotNil(t, settled.Request)
	require.Equal(t, res.Request.Code, settled.Request.Code, "the 03 carries the request's code")
	msgs, err := s.UnsentATR(ctx, settled.Request.RequestID)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m, err := atr.Parse(msgs[0].Body)
	require.NoError(t, err)
	require.Equal(t, atr.CancelRequested, m.Kind)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM cuts WHERE ended_at IS NOT NULL AND outcome = 'cancel'`))

	retried, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 2, 10, 12), From: "0999"})
	require.NoError(t, err)
	require.Equal(t, settled.Request.RequestID, retried.Request.RequestID, "a retry reads as the settlement")

	d, err := s.RecordATRAnswer(ctx, "b.xml", answerFile(t, res.Request.Code, "04", atr.CancelAccepted, day(2026, 2, 10, 0)))
	require.NoError(t, err)
	require.Equal(t, activities.RequestCancel, d.Answer.Request.Kind)
	require.Equal(t, activities.RequestAccepted, d.Answer.Request.Status)
	require.NotNil(t, d.Answer.Cut)
	require.Equal(t, activities.RequestAccepted, d.Answer.Cut.Status, "never executed")
	require.Contains(t, d.WorkflowIDs, c.WorkflowID)
}

// Paid after the distributor cut: the settlement asks for the reconnection.
func TestATR_SettledAfterTheCutAsksForTheReconnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c, _, res := atrCut(t, s, "F-1")
	_, err := s.RecordATRAnswer(ctx, "b.xml", answerFile(t, res.Request.Code, "05", atr.Activated, day(2026, 2, 10, 0)))
	require.NoError(t, err, "a 05 without its 02 is taken")
	settled, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 2, 12, 12), DueBy: day(2026, 2, 13, 12), From: "0999"})
	require.NoError(t, err)
	require.Equal(t, activities.RequestReconnect, settled.Release)
	require.True(t, settled.Reconnection)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM distributor_requests WHERE kind = 'reconnect' AND due_by IS NOT NULL`))
}

// A rejection for a protected supply (32 essential) ends the cut and flags
// the supply point: its contract reads as never cut and no new cut passes the
// ledger until a person clears it. A rejection because it is already cut
// keeps the cut, as executed on the day of the rejection.
func TestATR_RejectionsTakeTheirPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	s := newStore(t)
	c, in, res := atrCut(t, s, "F-1")
	_, err := s.RecordATRAnswer(ctx, "r.xml", answerFile(t, res.Request.Code, "02", atr.Rejected, day(2026, 2, 10, 0), "32"))
	require.NoError(t, err)
	st, err := s.RequestState(ctx, res.Request.RequestID)
	require.NoError(t, err)
	require.Equal(t, activities.RequestRejected, st.Status)
	require.Len(t, st.Rejections, 1)
	require.Equal(t, "32", st.Rejections[0].Code)
	require.Equal(t, string(atr.ClassNeverCut), st.Rejections[0].Class)
	k, err := s.Contract(ctx, c)
	require.NoError(t, err)
	require.Contains(t, k.Protection, "32")
	require.True(t, k.NeverCut())
	_, err = s.RequestCut(ctx, in)
	r, ok := activities.AsCutRefusal(err)
	require.True(t, ok, "want a refusal, got %v", err)
	require.Equal(t, activities.RefusedNeverCut, r.Reason)

	s2 := newStore(t)
	_, _, res2 := atrCut(t, s2, "F-2")
	_, err = s2.RecordATRAnswer(ctx, "r.xml", answerFile(t, res2.Request.Code, "02", atr.Rejected, day(2026, 2, 10, 0), "12"))
	require.NoError(t, err)
	require.Equal(t, 1, count(t, s2, `SELECT count(*) FROM cuts WHERE ended_at IS NULL AND executed_on = '2026-02-10'`))
}

// Two invoices of one supply point share one request; its answers reach both
// cases.
func TestATR_OneRequestPerSupplyPoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c1, _, res := atrCut(t, s, "F-1")
	c2 := readyCase(t, s, "F-2", business(atrCups), day(2025, 10, 3, 0))
	in2 := checkedCut(c2)
	in2.ATR, in2.From = true, "0999"
	joined, err := s.RequestCut(ctx, in2)
	require.NoError(t, err)
	require.True(t, joined.Joined)
	require.Equal(t, res.Request.RequestID, joined.Request.RequestID)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM atr_messages`))
	d, err := s.RecordATRAnswer(ctx, "a.xml", answerFile(t, res.Request.Code, "02", atr.Accepted, day(2026, 2, 10, 0)))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{c1.WorkflowID, c2.WorkflowID}, d.WorkflowIDs)
}

// The distributor's breach is recorded once per request.
func TestATR_BreachRecordedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c, _, res := atrCut(t, s, "F-1")
	for range 2 {
		require.NoError(t, s.RecordBreach(ctx, activities.BreachInput{Case: c, RequestID: res.Request.RequestID,
			What: "cortó en viernes", At: day(2026, 2, 13, 9)}))
	}
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'distributor_breach'`))
	st, err := s.RequestState(ctx, res.Request.RequestID)
	require.NoError(t, err)
	require.Equal(t, "cortó en viernes", st.Breach)
	require.Equal(t, calendar.Madrid, st.PlannedOn.Location())
}

// The cuts desk's e-mail hears of the distributor's breaches and of the
// reconnections it has not accepted by their due time.
func TestATR_DistributorAlertsForTheCutsDesk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	c, _, res := atrCut(t, s, "F-1")
	alerts, err := s.DistributorAlerts(ctx)
	require.NoError(t, err)
	require.Empty(t, alerts)

	require.NoError(t, s.RecordBreach(ctx, activities.BreachInput{Case: c, RequestID: res.Request.RequestID,
		What: "cortó el viernes 13/02/2026", At: day(2026, 2, 13, 9)}))
	_, err = s.RecordATRAnswer(ctx, "b.xml", answerFile(t, res.Request.Code, "05", atr.Activated, day(2026, 2, 10, 0)))
	require.NoError(t, err)
	// Paid, and the reconnection due by a moment already past.
	_, err = s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: time.Now().Add(-72 * time.Hour),
		DueBy: time.Now().Add(-time.Hour), From: "0999"})
	require.NoError(t, err)

	alerts, err = s.DistributorAlerts(ctx)
	require.NoError(t, err)
	require.Len(t, alerts, 2)
	kinds := []string{alerts[0].Kind, alerts[1].Kind}
	require.ElementsMatch(t, []string{activities.AlertBreach, activities.AlertReconnectOverdue}, kinds)
	text := activities.DistributorAlertsText(alerts)
	require.Contains(t, text, "incumplimiento")
	require.Contains(t, text, "reconexión fuera de plazo")
	require.Contains(t, text, res.Request.Code)
}
