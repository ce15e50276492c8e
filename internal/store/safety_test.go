package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

func TestRecordHold_StopsTheCutAndComesTooLateAfterIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, cutDay)
	nationalCalendar(s)
	c := readyCase(t, s, "F-1", business(testCups), day(2025, 10, 3, 0))

	hold := activities.HoldInput{Case: c, On: true, Reason: "cliente en concurso", By: "ana", At: day(2026, 2, 9, 12)}
	for range 2 { // a retry holds once
		res, err := s.RecordHold(ctx, hold)
		require.NoError(t, err)
		require.Equal(t, activities.HoldResult{Applied: true}, res)
	}
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'hold'`))
	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, "cliente en concurso", inv.HoldReason)
	require.Equal(t, "ana", inv.HoldBy)
	require.NotNil(t, inv.HoldAt)
	_, err = s.RequestCut(ctx, checkedCut(c))
	r, ok := activities.AsCutRefusal(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, activities.RefusedOnHold, r.Reason)
	require.Contains(t, r.Detail, "ana")
	require.Contains(t, r.Detail, "cliente en concurso")

	release := activities.HoldInput{Case: c, By: "rocio", At: day(2026, 2, 10, 8)}
	for range 2 {
		res, err := s.RecordHold(ctx, release)
		require.NoError(t, err)
		require.True(t, res.Applied)
	}
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'release'`))
	inv, err = s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Empty(t, inv.HoldReason)
	require.Nil(t, inv.HoldAt)
	_, err = s.RequestCut(ctx, checkedCut(c))
	require.NoError(t, err)

	res, err := s.RecordHold(ctx, hold)
	require.NoError(t, err)
	require.False(t, res.Applied, "the cut was requested: the hold comes too late")
	require.Contains(t, res.Detail, "corte")

	_, err = s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2026, 2, 11, 9)})
	require.NoError(t, err)
	res, err = s.RecordHold(ctx, hold)
	require.NoError(t, err)
	require.False(t, res.Applied)
	require.Contains(t, res.Detail, "pagada")
}

func TestRecordProof_OnlyOfAFormalNoticeSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, day(2026, 4, 1, 10))
	c := ref("F-1", testCups)
	open(t, s, c)
	paid := ref("F-PAID", testCups)
	open(t, s, paid)
	_, err := s.Settle(ctx, activities.SettleInput{Case: paid, PaidAt: day(2026, 3, 1, 9)})
	require.NoError(t, err)

	burofax := func(invoice string, received time.Time) Proof {
		return Proof{Invoice: invoice, Kind: activities.ProofBurofax, ReceivedOn: received, FileName: "burofax.pdf",
			FileSHA256: sha("burofax " + invoice), RecordedBy: "ana"}
	}
	for _, tt := range []struct {
		name string
		p    Proof
		want error
	}{
		{"an unknown invoice", burofax("F-unknown", day(2026, 3, 12, 0)), ErrNotFound},
		{"an invoice no longer open", burofax("F-PAID", day(2026, 3, 12, 0)), ErrProofRefused},
		{"a case that sent no formal notice", burofax("F-1", day(2026, 3, 12, 0)), ErrProofRefused},
	} {
		_, err := s.RecordProof(ctx, tt.p)
		require.ErrorIs(t, err, tt.want, tt.name)
	}

	formalNotice(t, s, c, activities.SegmentDomestic, day(2026, 3, 10, 18))
	for _, tt := range []struct {
		name string
		p    Proof
	}{
		{"received before the notice was sent", burofax("F-1", day(2026, 3, 9, 0))},
		{"received in the future", burofax("F-1", day(2026, 4, 2, 0))},
		{"of a kind that proves nothing", func() Proof { p := burofax("F-1", day(2026, 3, 12, 0)); p.Kind = "whatsapp"; return p }()},
		{"without its file", func() Proof { p := burofax("F-1", day(2026, 3, 12, 0)); p.FileSHA256 = ""; return p }()},
		{"without who records it", func() Proof { p := burofax("F-1", day(2026, 3, 12, 0)); p.RecordedBy = " "; return p }()},
	} {
		_, err := s.RecordProof(ctx, tt.p)
		require.ErrorIs(t, err, ErrProofRefused, tt.name)
	}
	st, err := s.NoticeProof(ctx, c)
	require.NoError(t, err)
	require.Equal(t, activities.ProofStatus{}, st)

	first, err := s.RecordProof(ctx, burofax("F-1", day(2026, 3, 12, 0)))
	require.NoError(t, err)
	require.True(t, first.New)
	require.Equal(t, "run-1", first.RunID)
	again, err := s.RecordProof(ctx, burofax("F-1", day(2026, 3, 14, 0)))
	require.NoError(t, err)
	require.False(t, again.New, "the same file is the same proof")
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, "2026-03-12", again.ReceivedOn.Format(time.DateOnly))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'proof'`))

	// The earliest proof rules.
	later := burofax("F-1", day(2026, 3, 20, 0))
	later.Kind, later.FileSHA256, later.RecordedBy = activities.ProofAcknowledge, sha("acuse"), "luis"
	_, err = s.RecordProof(ctx, later)
	require.NoError(t, err)
	st, err = s.NoticeProof(ctx, c)
	require.NoError(t, err)
	require.True(t, st.Proven)
	require.Equal(t, activities.ProofBurofax, st.Kind)
	require.Equal(t, day(2026, 3, 12, 0), *st.ProvenOn)
	require.Equal(t, "burofax recibido el 12/03/2026 (registrado por ana)", st.Summary)

	// The invoice returned again: the proofs of the earlier case prove nothing.
	c.RunID = "run-2"
	_, err = s.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 5000, ReturnedAt: day(2026, 3, 25, 9)})
	require.NoError(t, err)
	st, err = s.NoticeProof(ctx, c)
	require.NoError(t, err)
	require.False(t, st.Proven)
}

func TestRequestPowerLimit_OncePerCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, cutDay)
	k := domestic(testCups)
	k.BonoSocial = true
	c := readyCase(t, s, "F-1", k, day(2025, 10, 3, 0))
	in := activities.LimitInput{Case: c, KW: 3.5, At: day(2026, 2, 3, 9), ApprovedBy: "rocio"}
	first, err := s.RequestPowerLimit(ctx, in)
	require.NoError(t, err)
	require.NotZero(t, first.RequestID)
	again, err := s.RequestPowerLimit(ctx, in)
	require.NoError(t, err)
	require.Equal(t, first, again)
	limits, err := s.PowerLimits(ctx, testCups)
	require.NoError(t, err)
	require.Len(t, limits, 1)
	require.InDelta(t, 3.5, limits[0].PowerKW, 0.0001)
	require.Equal(t, "F-1", limits[0].Invoice)
	require.Zero(t, count(t, s, `SELECT count(*) FROM distributor_requests`), "a limit is no cut")

	// A paid invoice or a protected household gets no limit.
	paid := readyCase(t, s, "F-2", k, day(2025, 10, 3, 0))
	pay(t, s, paid, "TRF-2", 12345, day(2026, 2, 1, 0))
	_, err = s.RequestPowerLimit(ctx, activities.LimitInput{Case: paid, KW: 3.5, At: day(2026, 2, 3, 9)})
	r, ok := activities.AsCutRefusal(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, activities.RefusedNothingDue, r.Reason)

	k.Cups, k.Protected = "ES0021000000000002XX", true
	protected := readyCase(t, s, "F-3", k, day(2025, 10, 3, 0))
	_, err = s.RequestPowerLimit(ctx, activities.LimitInput{Case: protected, KW: 3.5, At: day(2026, 2, 3, 9)})
	r, ok = activities.AsCutRefusal(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, activities.RefusedNeverCut, r.Reason)
	require.Equal(t, 2, count(t, s, `SELECT count(*) FROM audit WHERE action = 'power_limit_refused'`))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM power_limits`))
}
