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

// The retailer and the distributor of the supply points of these tests
// (cups.Make(21, n)).
const (
	b1Retailer    = "0999"
	b1Distributor = "0021"
)

// b1Case opens the case of invoice on supply point n, with a contract the
// B1 messages can name.
func b1Case(t *testing.T, s *Store, invoice string, n int64) activities.CaseRef {
	t.Helper()
	c := ref(invoice, cups.Make(21, n))
	require.NoError(t, s.UpsertContract(context.Background(), activities.Contract{Customer: "Ana García López",
		TaxID: "12345678Z", Cups: c.Cups, Segment: activities.SegmentDomestic, Phone: "+34600000000",
		Email: "ana@example.com", Province: "Madrid"}))
	open(t, s, c)
	return c
}

// b1Cut has the ledger ask the distributor to cut the case's supply point
// at at, with its B1 step 01.
func b1Cut(t *testing.T, s *Store, c activities.CaseRef, at time.Time) activities.DistributorState {
	t.Helper()
	res, err := s.RequestCut(context.Background(), activities.CutInput{Case: c, ApprovedBy: "rocio", At: at, ATR: true, From: b1Retailer})
	require.NoError(t, err)
	require.NotNil(t, res.Request)
	return *res.Request
}

// b1Answer is the distributor's answer m to the request of code on the
// case's supply point, as its file.
func b1Answer(t *testing.T, c activities.CaseRef, step, code string, m atr.Message) (string, []byte) {
	t.Helper()
	m.Header = atr.Header{From: b1Distributor, To: b1Retailer, Process: atr.ProcessB1, Step: step, Code: code, Seq: "01",
		RequestedAt: time.Date(2026, 6, 9, 12, 30, 0, 0, calendar.Madrid), CUPS: c.Cups}
	body, err := atr.Marshal(m)
	require.NoError(t, err)
	return atr.FileName(m.Header), body
}

// The ledger keeps one answer per step and sequence of a request: the same
// file read again is a duplicate, another file of the same step and sequence
// is refused for a person to read rather than taken for the first.
func TestRecordATRAnswer_RefusesAnotherAnswerToTheSameStep(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := b1Case(t, s, "F-ATR-1", 1)
	req := b1Cut(t, s, c, day(2026, 6, 8, 9))
	res, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 6, 9, 11), DueBy: day(2026, 6, 10, 11), From: b1Retailer})
	require.NoError(t, err)
	require.Equal(t, activities.RequestCancel, res.Release)

	accepted := func(clock string) (string, []byte) {
		return b1Answer(t, c, "04", req.Code, atr.Message{Kind: atr.CancelAccepted, Date: day(2026, 6, 9, 0), Time: clock})
	}
	name, body := accepted("10:00:00")
	first, err := s.RecordATRAnswer(ctx, name, body)
	require.NoError(t, err)
	require.Equal(t, activities.RequestAccepted, first.Answer.Request.Status)

	again, err := s.RecordATRAnswer(ctx, name, body)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, first.Answer.MessageID, again.Answer.MessageID)

	other, otherBody := accepted("10:05:00")
	require.Equal(t, name, other)
	_, err = s.RecordATRAnswer(ctx, other, otherBody)
	var refused *ATRFileError
	require.True(t, errors.As(err, &refused), "%v", err)
	require.Equal(t, "SecuencialDeSolicitud", refused.Element)
	require.Contains(t, refused.Reason, req.Code)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM atr_messages WHERE direction = 'in'`))
}
