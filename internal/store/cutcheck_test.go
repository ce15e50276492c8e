package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

const testCups = "ES0021000000000001JN"

// cutDay is the Tuesday the cuts of these tests are asked for; the Wednesday
// after it is a working day in every calendar.
var cutDay = day(2026, 2, 10, 10)

// cutRules are the default policy's rules.
var cutRules = activities.CutRules{RegulatoryWaitMonths: 2, BonoSocialWaitMonths: 4, MinimumSupplyMonths: 6}

// business is a contract of a business in Madrid that may be cut.
func business(cups string) activities.Contract {
	return activities.Contract{Customer: "Ferretería Ruiz SL", TaxID: "B12345678", Cups: cups,
		Segment: activities.SegmentBusiness, Phone: "+34600111222", Province: "Madrid"}
}

// domestic is a contract of a household in Madrid that may be cut.
func domestic(cups string) activities.Contract {
	k := business(cups)
	k.Customer, k.TaxID, k.Segment = "Ana García", "12345678Z", activities.SegmentDomestic
	return k
}

// clockAt sets the ledger's clock.
func clockAt(s *Store, t time.Time) { s.Clock = func() time.Time { return t } }

// nationalCalendar gives every province the national holidays alone, so that
// a test does not hang on the holiday data of one.
func nationalCalendar(s *Store) {
	s.calendarOf = func(_ string, extra calendar.Extra) (calendar.Calendar, int) { return calendar.New(extra.All...), 0 }
}

// formalNotice puts the case's formal notice in the outbox, sent at.
func formalNotice(t *testing.T, s *Store, c activities.CaseRef, segment string, at time.Time) {
	t.Helper()
	kind := activities.KindCutLetter
	if segment == activities.SegmentDomestic {
		kind = activities.KindRequerimiento
	}
	_, err := s.PutOutbox(context.Background(), c, []activities.OutboxMessage{{
		Key: c.WorkflowID + "/" + c.RunID + "/" + kind + "/certified", Kind: kind, Channel: activities.ChannelCertified,
		Recipient: "cliente@example.com", Subject: "Requerimiento", Body: "...", At: at,
	}})
	require.NoError(t, err)
}

// prove records a clerk's burofax of the case's formal notice.
func prove(t *testing.T, s *Store, invoice string, received time.Time, file string) Proof {
	t.Helper()
	p, err := s.RecordProof(context.Background(), Proof{Invoice: invoice, Kind: activities.ProofBurofax, ReceivedOn: received,
		FileName: file + ".pdf", FileSHA256: sha(file), RecordedBy: "ana"})
	require.NoError(t, err)
	return p
}

func sha(s string) string { return auditKey(s) }

// readyCase opens a case with contract k, its formal notice sent on
// 11/03/2025 (the day after the return) and, unless received is zero, proven received that day.
func readyCase(t *testing.T, s *Store, invoice string, k activities.Contract, received time.Time) activities.CaseRef {
	t.Helper()
	c := ref(invoice, k.Cups)
	open(t, s, c)
	require.NoError(t, s.UpsertContract(context.Background(), k))
	formalNotice(t, s, c, k.Segment, day(2025, 3, 11, 9))
	if !received.IsZero() {
		prove(t, s, invoice, received, "burofax-"+invoice)
	}
	return c
}

func checkedCut(c activities.CaseRef) activities.CutInput {
	return activities.CutInput{Case: c, ApprovedBy: "rocio", At: cutDay, Rules: cutRules, Checked: true}
}

// requireRefused checks that the cut was refused for reason, until the day
// given (YYYY-MM-DD, or "" for none), and left nothing but its audit entry.
func requireRefused(t *testing.T, s *Store, err error, reason, until string) *activities.CutRefusal {
	t.Helper()
	r, ok := activities.AsCutRefusal(err)
	require.True(t, ok, "want a refusal (%s), got %v", reason, err)
	require.Equal(t, reason, r.Reason, r.Detail)
	require.NotEmpty(t, r.Detail)
	if until == "" {
		require.Nil(t, r.Until, r.Detail)
	} else {
		require.NotNil(t, r.Until, r.Detail)
		require.Equal(t, until, r.Until.In(calendar.Madrid).Format(time.DateOnly), r.Detail)
	}
	for _, table := range []string{"cuts", "cut_invoices", "distributor_requests"} {
		require.Zero(t, count(t, s, "SELECT count(*) FROM "+table), "a refused cut writes no %s", table)
	}
	return r
}

func TestRequestCut_RefusesWhatTheLedgerForbids(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	proven := day(2025, 10, 3, 0)
	tests := []struct {
		name     string
		contract func(cups string) activities.Contract
		received time.Time
		// prepare changes the ledger or the request before the cut is asked for.
		prepare func(t *testing.T, s *Store, in *activities.CutInput)
		reason  string
		until   string
	}{
		{name: "an invoice the ledger holds as paid is not cut", reason: activities.RefusedNotOpen,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				_, err := s.Settle(ctx, activities.SettleInput{Case: in.Case, PaidAt: day(2026, 2, 9, 12)})
				require.NoError(t, err)
			}},
		{name: "an invoice the ledger does not know is not cut", reason: activities.RefusedNotOpen,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) { in.Case.Invoice = "F-unknown" }},
		{name: "an invoice the payments ledger covers is not cut", reason: activities.RefusedNothingDue,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				pay(t, s, in.Case, "TRF-1", 12345, day(2026, 2, 9, 0))
			}},
		{name: "a held invoice is not cut", reason: activities.RefusedOnHold,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				res, err := s.RecordHold(ctx, activities.HoldInput{Case: in.Case, On: true, Reason: "cliente llama", By: "ana", At: cutDay})
				require.NoError(t, err)
				require.True(t, res.Applied)
			}},
		{name: "an essential supply is never cut", reason: activities.RefusedNeverCut,
			contract: func(cups string) activities.Contract { k := business(cups); k.Essential = true; return k }},
		{name: "a protected household is never cut", reason: activities.RefusedNeverCut,
			contract: func(cups string) activities.Contract { k := domestic(cups); k.Protected = true; return k }},
		{name: "a supply without contract is not cut", reason: activities.RefusedNeverCut,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				_, err := s.Pool().Exec(ctx, `DELETE FROM contracts`)
				require.NoError(t, err)
			}},
		{name: "a formal notice without proof does not allow the cut", reason: activities.RefusedNotProven},
		{name: "a domestic supply waits two months from the proven day", reason: activities.RefusedWaitNotOver,
			until: "2026-03-05", contract: domestic, received: day(2026, 1, 5, 0)},
		{name: "a Bono Social household waits four months from the proven day", reason: activities.RefusedWaitNotOver,
			until: "2026-03-05", received: day(2025, 11, 5, 0),
			contract: func(cups string) activities.Contract { k := domestic(cups); k.BonoSocial = true; return k }},
		{name: "a Bono Social household has its Suministro Mínimo Vital before the cut", reason: activities.RefusedMinimumSupply,
			until: "2026-08-03", received: proven,
			contract: func(cups string) activities.Contract { k := domestic(cups); k.BonoSocial = true; return k }},
		{name: "a Bono Social household is not cut without its power limited", reason: activities.RefusedMinimumSupply,
			received: day(2025, 3, 12, 0),
			contract: func(cups string) activities.Contract { k := domestic(cups); k.BonoSocial = true; return k }},
		{name: "the Suministro Mínimo Vital runs from the limitation when the proof came late", reason: activities.RefusedMinimumSupply,
			until: "2026-06-01", received: day(2025, 3, 12, 0),
			contract: func(cups string) activities.Contract { k := domestic(cups); k.BonoSocial = true; return k },
			prepare:  func(t *testing.T, s *Store, in *activities.CutInput) { limitPower(t, s, in.Case, day(2025, 12, 1, 10)) }},
		{name: "the regulation's waits hold when a case's rules are shorter", reason: activities.RefusedWaitNotOver,
			until: "2026-03-05", contract: domestic, received: day(2026, 1, 5, 0),
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) { in.Rules.RegulatoryWaitMonths = 0 }},
		{name: "no cut before a date a notice told the customer", reason: activities.RefusedWaitNotOver, until: "2026-02-16",
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				nb := time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC) // a day, as the workflow keeps cut dates
				in.Rules.NotBefore = &nb
			}},
		{name: "a decreed ban covers domestic supplies", reason: activities.RefusedCutBan, until: "2026-04-01", contract: domestic,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				in.Rules.Bans = []activities.CutBan{
					{Name: "RDL 8/2023", From: day(2025, 1, 1, 0), To: day(2025, 12, 31, 0), Classes: []string{activities.ClassDomestic}},
					{Name: "RDL 1/2026", From: day(2026, 1, 1, 0), To: day(2026, 3, 31, 0), Classes: []string{activities.ClassDomestic}},
				}
			}},
		{name: "a decreed ban covers the Bono Social households", reason: activities.RefusedCutBan, until: "2026-07-01",
			contract: func(cups string) activities.Contract { k := domestic(cups); k.BonoSocial = true; return k },
			received: day(2025, 4, 1, 0),
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				limitPower(t, s, in.Case, day(2025, 8, 1, 10))
				in.Rules.Bans = []activities.CutBan{{Name: "RDL 1/2026", From: day(2026, 1, 1, 0), To: day(2026, 6, 30, 0),
					Classes: []string{activities.ClassBonoSocial, activities.ClassProtected}}}
			}},
		{name: "no cut in a year the holiday data does not cover", reason: activities.RefusedNoCalendar,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				s.calendarOf = func(string, calendar.Extra) (calendar.Calendar, int) { return calendar.New(), 2025 }
			}},
		{name: "no cut with a holiday of the rules that cannot be read", reason: activities.RefusedNoCalendar,
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) { in.Rules.Holidays = []string{"11/02/2026"} }},
		{name: "no cut on a Friday", reason: activities.RefusedNotCutDay, until: "2026-02-16",
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) { clockAt(s, day(2026, 2, 13, 10)) }},
		{name: "no cut on the eve of a holiday of the rules", reason: activities.RefusedNotCutDay, until: "2026-02-12",
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) { in.Rules.Holidays = []string{"2026-02-11"} }},
		{name: "the case's clock is the day of the request when its rules say so", reason: activities.RefusedNotCutDay, until: "2026-02-16",
			prepare: func(t *testing.T, s *Store, in *activities.CutInput) {
				in.Rules.CaseClock, in.At = true, day(2026, 2, 13, 9)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			clockAt(s, cutDay)
			nationalCalendar(s)
			contract, received := business, proven
			if tt.contract != nil {
				contract = tt.contract
			}
			if !tt.received.IsZero() {
				received = tt.received
			}
			if tt.reason == activities.RefusedNotProven {
				received = time.Time{}
			}
			in := checkedCut(readyCase(t, s, "F-1", contract(testCups), received))
			if tt.prepare != nil {
				tt.prepare(t, s, &in)
			}
			_, err := s.RequestCut(ctx, in)
			requireRefused(t, s, err, tt.reason, tt.until)

			// Asked again the same day: refused again, one entry on the trail.
			_, err = s.RequestCut(ctx, in)
			requireRefused(t, s, err, tt.reason, tt.until)
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'cut_refused'`))
		})
	}
}

// limitPower records the Suministro Mínimo Vital's limitation of the case's
// supply as asked of the distributor at the moment given.
func limitPower(t *testing.T, s *Store, c activities.CaseRef, at time.Time) {
	t.Helper()
	_, err := s.RequestPowerLimit(context.Background(), activities.LimitInput{Case: c, KW: 3.5, At: at})
	require.NoError(t, err)
}

func pay(t *testing.T, s *Store, c activities.CaseRef, reference string, cents int64, at time.Time) {
	t.Helper()
	_, err := s.RecordPayment(context.Background(), activities.PaymentInput{Case: c,
		Key: fmt.Sprintf("ref:%s|%s|%s|%d", reference, c.Invoice, at.Format(time.DateOnly), cents), AmountCents: cents,
		PaidAt: at, Reference: reference})
	require.NoError(t, err)
}

func TestRequestCut_WritesTheCutWhenEverythingHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, k := range []activities.Contract{business(testCups), domestic(testCups)} {
		t.Run(k.Segment, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			clockAt(s, cutDay)
			nationalCalendar(s)
			c := readyCase(t, s, "F-1", k, day(2025, 10, 3, 0))
			in := checkedCut(c)
			nb := day(2026, 2, 10, 0) // told the customer: not before today
			in.Rules.NotBefore = &nb
			in.Rules.Bans = []activities.CutBan{{Name: "Bono Social", From: day(2026, 1, 1, 0), To: day(2026, 12, 31, 0),
				Classes: []string{activities.ClassBonoSocial}}}
			res, err := s.RequestCut(ctx, in)
			require.NoError(t, err)
			require.False(t, res.Joined)
			require.NotZero(t, res.CutID)
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM distributor_requests WHERE kind = 'cut'`))
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'cut_requested'`))

			// A payment after the request does not undo it: a retry of the
			// request reads as the request.
			pay(t, s, c, "TRF-9", 12345, day(2026, 2, 10, 0))
			again, err := s.RequestCut(ctx, in)
			require.NoError(t, err)
			require.Equal(t, res, again)
			require.Equal(t, 1, count(t, s, `SELECT count(*) FROM distributor_requests`))
		})
	}
}

func TestRequestCut_AmountDueComesFromThePaymentsLedger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, cutDay)
	nationalCalendar(s)

	// The workflow still counts 1,00 € due; the ledger holds payments of the
	// whole invoice.
	c := readyCase(t, s, "F-1", business(testCups), day(2025, 10, 3, 0))
	pay(t, s, c, "TRF-1", 12245, day(2026, 1, 20, 0))
	pay(t, s, c, "TRF-2", 100, day(2026, 2, 9, 0))
	c.AmountDueCents = 100
	_, err := s.RequestCut(ctx, checkedCut(c))
	r := requireRefused(t, s, err, activities.RefusedNothingDue, "")
	require.Contains(t, r.Detail, "123,45")

	// The direct debit that came back, dated before the return, is no payment.
	const other = "ES0021000000000002XX"
	d := readyCase(t, s, "F-2", business(other), day(2025, 10, 3, 0))
	_, err = s.Pool().Exec(ctx, `INSERT INTO payments (key, invoice, paid_at, amount_cents, source) VALUES ('import:debit', 'F-2', $1, 12345, 'import')`,
		day(2025, 3, 1, 0))
	require.NoError(t, err)
	d.AmountDueCents = 0
	res, err := s.RequestCut(ctx, checkedCut(d))
	require.NoError(t, err)
	require.NotZero(t, res.CutID)
}

func TestRequestCut_JoiningACutChecksTheInvoiceOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, cutDay)
	nationalCalendar(s)
	a := readyCase(t, s, "F-A", business(testCups), day(2025, 10, 3, 0))
	cut, err := s.RequestCut(ctx, checkedCut(a))
	require.NoError(t, err)

	// No notice and no proof of its own: it adds no request to the distributor.
	b := ref("F-B", testCups)
	open(t, s, b)
	in := checkedCut(b)
	clockAt(s, day(2026, 2, 13, 10)) // a Friday: the day was the cut's
	joined, err := s.RequestCut(ctx, in)
	require.NoError(t, err)
	require.True(t, joined.Joined)
	require.Equal(t, cut.CutID, joined.CutID)

	paid, held := ref("F-P", testCups), ref("F-H", testCups)
	open(t, s, paid)
	open(t, s, held)
	pay(t, s, paid, "TRF-P", 12345, day(2026, 2, 12, 0))
	_, err = s.RecordHold(ctx, activities.HoldInput{Case: held, On: true, Reason: "en concurso", By: "ana"})
	require.NoError(t, err)
	_, err = s.RequestCut(ctx, checkedCut(paid))
	r, ok := activities.AsCutRefusal(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, activities.RefusedNothingDue, r.Reason)
	_, err = s.RequestCut(ctx, checkedCut(held))
	r, ok = activities.AsCutRefusal(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, activities.RefusedOnHold, r.Reason)
	require.Equal(t, 2, count(t, s, `SELECT count(*) FROM cut_invoices`))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM distributor_requests`))
}

// The supply's own calendar, as internal/calendar builds it for its province.
func TestRequestCut_OnlyOnAnAllowedCutDayOfTheSupply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"the eve of New Year's Day", day(2026, 12, 31, 10), false},
		{"a Friday", day(2026, 2, 13, 10), false},
		{"a Saturday", day(2026, 2, 14, 10), false},
		{"a Tuesday in February", cutDay, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			clockAt(s, tt.at)
			c := readyCase(t, s, "F-1", business(testCups), day(2025, 10, 3, 0))
			_, err := s.RequestCut(ctx, checkedCut(c))
			if tt.ok {
				require.NoError(t, err)
				return
			}
			r, ok := activities.AsCutRefusal(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, activities.RefusedNotCutDay, r.Reason, r.Detail)
			require.NotNil(t, r.Until)
			require.True(t, r.Until.After(tt.at), "the next allowed day is ahead: %v", r.Until)
			require.Zero(t, count(t, s, `SELECT count(*) FROM cuts`))
		})
	}
}

// A payment in full, a hold and a cut request of one invoice, in every order
// and at once: the cut is written only when neither the payment nor the hold
// committed before it, and a hold is applied exactly when the cut is not.
func TestRequestCut_RacesWithPaymentsAndHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	clockAt(s, cutDay)
	nationalCalendar(s)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("IMPAGOS_RACE_SEED"); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("seed %d (IMPAGOS_RACE_SEED=%d repeats this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	const rounds = 40
	outcomes := map[string]int{}
	for round := range rounds {
		cups := fmt.Sprintf("ES00210000%08dXX", round)
		c := readyCase(t, s, fmt.Sprintf("F-R%d", round), business(cups), day(2025, 10, 3, 0))
		var (
			cutErr  error
			paid    bool
			payErr  error
			hold    activities.HoldResult
			holdErr error
		)
		steps := []func(){
			func() { _, cutErr = s.RequestCut(ctx, checkedCut(c)) },
			func() {
				paid, payErr = s.RecordPayment(ctx, activities.PaymentInput{Case: c, Key: "ref:TRF|" + c.Invoice,
					AmountCents: 12345, PaidAt: day(2026, 2, 10, 0), Reference: "TRF"})
			},
			func() {
				hold, holdErr = s.RecordHold(ctx, activities.HoldInput{Case: c, On: true, Reason: "llama el cliente", By: "ana", At: cutDay})
			},
		}
		rng.Shuffle(len(steps), func(i, j int) { steps[i], steps[j] = steps[j], steps[i] })
		if together := rng.IntN(3) > 0; together {
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, step := range steps {
				wg.Go(func() { <-start; step() })
			}
			close(start)
			wg.Wait()
		} else {
			for _, step := range steps {
				step()
			}
		}
		require.NoError(t, errors.Join(payErr, holdErr), "round %d", round)
		require.True(t, paid, "round %d: a payment is always recorded", round)

		cut := count(t, s, `SELECT count(*) FROM cuts WHERE cups = $1`, cups) == 1
		var cutAudit, payAudit int
		require.NoError(t, s.Pool().QueryRow(ctx, `
			SELECT COALESCE(max(id) FILTER (WHERE action = 'cut_requested'), 0),
			       COALESCE(max(id) FILTER (WHERE action = 'payment'), 0)
			FROM audit WHERE invoice = $1`, c.Invoice).Scan(&cutAudit, &payAudit))
		if cut {
			require.NoError(t, cutErr, "round %d", round)
			require.False(t, hold.Applied, "round %d: a hold after the cut is not applied", round)
			require.Greater(t, payAudit, cutAudit, "round %d: the payment came after the cut", round)
			outcomes["cut"]++
			continue
		}
		r, ok := activities.AsCutRefusal(cutErr)
		require.True(t, ok, "round %d: %v", round, cutErr)
		require.True(t, hold.Applied, "round %d: no cut, so the hold applies", round)
		switch r.Reason {
		case activities.RefusedNothingDue, activities.RefusedOnHold:
		default:
			t.Fatalf("round %d: refused for %s: %s", round, r.Reason, r.Detail)
		}
		outcomes[r.Reason]++
	}
	t.Logf("outcomes of %d rounds: %v", rounds, outcomes)
	require.Equal(t, rounds, count(t, s, `SELECT count(*) FROM payments`))
	require.Equal(t, outcomes["cut"], count(t, s, `SELECT count(*) FROM distributor_requests`))
}
