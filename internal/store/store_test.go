package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
)

// newStore opens a Store on a schema of its own, migrated, and drops the
// schema when the test ends, so tests run in parallel without seeing each
// other's rows.
func newStore(t *testing.T) *Store {
	t.Helper()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	s, done, err := OpenIsolated(context.Background(), dsn, "store_test")
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := done(); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return s
}

func ref(invoice, cups string) activities.CaseRef {
	return activities.CaseRef{
		WorkflowID:     "impago-" + invoice,
		RunID:          "run-1",
		Invoice:        invoice,
		Customer:       "Ferretería Ruiz SL",
		Cups:           cups,
		Stage:          "started",
		AmountDueCents: 12345,
	}
}

var madrid = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		panic(err)
	}
	return loc
}()

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, madrid) }

func open(t *testing.T, s *Store, c activities.CaseRef) activities.OpenCaseResult {
	t.Helper()
	res, err := s.OpenCase(context.Background(), activities.OpenCaseInput{
		Case: c, AmountCents: 12345, ReturnedAt: day(2025, 3, 10, 11),
	})
	require.NoError(t, err)
	return res
}

func count(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.Pool().QueryRow(context.Background(), q, args...).Scan(&n))
	return n
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	s := newStore(t) // migrated once
	ctx := context.Background()
	require.NoError(t, s.Migrate(ctx))

	all, err := migrations()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	require.Equal(t, len(all), count(t, s, `SELECT count(*) FROM schema_migrations`))
	for _, table := range []string{"invoices", "contracts", "payments", "outbox", "supply_points",
		"cuts", "cut_invoices", "distributor_requests", "audit"} {
		require.Zero(t, count(t, s, "SELECT count(*) FROM "+table), table)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	// Drop what newStore applied, then let several workers start together.
	_, err := s.Pool().Exec(ctx, `DO $$ DECLARE r record; BEGIN
		FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
			EXECUTE 'DROP TABLE ' || quote_ident(r.tablename) || ' CASCADE';
		END LOOP;
		FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
			EXECUTE 'DROP SEQUENCE ' || quote_ident(r.sequencename);
		END LOOP; END $$`)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	all, err := migrations()
	require.NoError(t, err)
	require.Equal(t, len(all), count(t, s, `SELECT count(*) FROM schema_migrations`))
}

func TestOpenCaseCountsPaymentsSinceTheReturn(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	_, err := s.Pool().Exec(ctx, `INSERT INTO payments (key, invoice, paid_at, amount_cents, method, source) VALUES
		('import:debit', 'F-1', $1, 12345, 'domiciliación', 'import'),
		('import:1', 'F-1', $2, 2000, 'transferencia', 'import'),
		('import:2', 'F-1', $3, 345, 'tarjeta', 'import'),
		('import:other', 'F-2', $3, 999, 'tarjeta', 'import')`,
		day(2025, 3, 1, 0),  // the direct debit that came back: before the return
		day(2025, 3, 10, 0), // the day of the return, the workbook has no time
		day(2025, 3, 12, 0))
	require.NoError(t, err)

	c := ref("F-1", "ES0021000000000001JN")
	res := open(t, s, c)
	require.Equal(t, int64(2345), res.PaidCents)

	// A retry of the same run changes nothing and records nothing new.
	require.Equal(t, res, open(t, s, c))
	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, "open", inv.Status)
	require.Equal(t, int64(12345), inv.AmountCents)
	require.Equal(t, "run-1", inv.RunID)
	rows, err := s.Audit(ctx, "F-1")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "opened", rows[0].Action)

	// Without a return date every payment of the invoice counts.
	res, err = s.OpenCase(ctx, activities.OpenCaseInput{Case: ref("F-2", ""), AmountCents: 1000})
	require.NoError(t, err)
	require.Equal(t, int64(999), res.PaidCents)
}

func TestOpenCaseNewRunReopensPaidInvoice(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	_, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 20, 9)})
	require.NoError(t, err)

	c.RunID = "run-2"
	c.Stage = "started"
	_, err = s.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 5000, ReturnedAt: day(2025, 6, 10, 11)})
	require.NoError(t, err)
	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, "open", inv.Status)
	require.Nil(t, inv.PaidAt)
	require.Equal(t, "run-2", inv.RunID)
	require.Equal(t, int64(5000), inv.AmountCents)
}

func TestPutOutboxRetryReturnsTheSameRows(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	c.Stage = "aviso_1"
	at := day(2025, 3, 11, 9)
	msgs := []activities.OutboxMessage{
		{Key: "impago-F-1/run-1/aviso_1/sms", Kind: activities.KindAviso1, Channel: activities.ChannelSMS,
			Recipient: "+34600111222", Body: "Su factura F-1 ha sido devuelta", At: at},
		{Key: "impago-F-1/run-1/aviso_1/email", Kind: activities.KindAviso1, Channel: activities.ChannelEmail,
			Recipient: "cliente@example.com", Subject: "Factura devuelta", Body: "...", At: at},
	}
	first, err := s.PutOutbox(ctx, c, msgs)
	require.NoError(t, err)
	require.Len(t, first, 2)
	again, err := s.PutOutbox(ctx, c, msgs)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, activities.ChannelSMS, first[0].Channel)
	require.Equal(t, "+34600111222", first[0].Recipient)
	require.True(t, first[0].At.Equal(at))

	rows, err := s.Outbox(ctx, OutboxFilter{Invoice: "F-1"})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, first[0].OutboxID, rows[0].ID)
	require.Equal(t, "pending", rows[0].Status)
	rows, err = s.Outbox(ctx, OutboxFilter{Invoice: "F-1", Channel: activities.ChannelEmail, Status: "pending"})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "Factura devuelta", rows[0].Subject)

	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, "aviso_1", inv.Stage)
	require.Equal(t, 2, count(t, s, `SELECT count(*) FROM audit WHERE action = 'notice'`))
}

func TestRecordStageOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	cut := time.Date(2025, 6, 17, 0, 0, 0, 0, madrid)
	c.Stage, c.CutDate, c.AmountDueCents = "cut_scheduled", &cut, 10000
	in := activities.StageInput{Case: c, Detail: "carta de corte enviada", Actor: "system", At: day(2025, 6, 2, 9)}
	require.NoError(t, s.RecordStage(ctx, in))
	require.NoError(t, s.RecordStage(ctx, in))

	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, "cut_scheduled", inv.Stage)
	require.Equal(t, int64(10000), inv.AmountDueCents)
	require.NotNil(t, inv.CutDate)
	require.Equal(t, "2025-06-17", inv.CutDate.Format(time.DateOnly))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'stage'`))
}

// A workflow task the server lost is run again later: its stage carries the
// same number in the run and another time, and is one audit line. The same
// stage recorded again later in the case (another number) is another line.
func TestRecordStageOnceWhenItsTaskRunsAgain(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	c.Stage = "on_hold"
	in := activities.StageInput{Case: c, Detail: "retenida: reclamación", Actor: "ana", At: day(2025, 6, 2, 9), Seq: 4}
	require.NoError(t, s.RecordStage(ctx, in))
	again := in
	again.At = in.At.Add(3 * time.Second)
	require.NoError(t, s.RecordStage(ctx, again))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'stage'`))

	later := in
	later.At, later.Seq = day(2025, 6, 9, 9), 7
	require.NoError(t, s.RecordStage(ctx, later))
	require.Equal(t, 2, count(t, s, `SELECT count(*) FROM audit WHERE action = 'stage'`))

	// Inputs recorded before the number are keyed by their time, as they were.
	old := in
	old.Seq = 0
	require.NoError(t, s.RecordStage(ctx, old))
	require.NoError(t, s.RecordStage(ctx, old))
	old.At = old.At.Add(time.Second)
	require.NoError(t, s.RecordStage(ctx, old))
	require.Equal(t, 4, count(t, s, `SELECT count(*) FROM audit WHERE action = 'stage'`))
}

func TestRecordPaymentOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	c.AmountDueCents = 2345
	in := activities.PaymentInput{Case: c, Key: "impago-F-1/pay/1", AmountCents: 10000,
		PaidAt: day(2025, 3, 15, 10), Reference: "TRF-77"}
	inserted, err := s.RecordPayment(ctx, in)
	require.NoError(t, err)
	require.True(t, inserted)
	inserted, err = s.RecordPayment(ctx, in)
	require.NoError(t, err)
	require.False(t, inserted)

	pays, err := s.Payments(ctx, "F-1")
	require.NoError(t, err)
	require.Len(t, pays, 1)
	require.Equal(t, "signal", pays[0].Source)
	require.Equal(t, int64(10000), pays[0].AmountCents)
	inv, err := s.Invoice(ctx, "F-1")
	require.NoError(t, err)
	require.Equal(t, int64(2345), inv.AmountDueCents)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM audit WHERE action = 'payment'`))

	// The same key for another amount is a bug, not a retry.
	in.AmountCents = 1
	_, err = s.RecordPayment(ctx, in)
	require.Error(t, err)
}

func TestSharedSupplyPointIsCutOnceAndReconnectedWhenAllPaid(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const cups = "ES0021000000000001JN"
	a, b := ref("F-A", cups), ref("F-B", cups)
	open(t, s, a)
	open(t, s, b)

	st, err := s.SupplyStatus(ctx, a)
	require.NoError(t, err)
	require.False(t, st.Cut)

	a.Stage, b.Stage = "cut", "cut"
	cutA, err := s.RequestCut(ctx, activities.CutInput{Case: a, ApprovedBy: "rocio", At: day(2025, 6, 17, 8)})
	require.NoError(t, err)
	require.False(t, cutA.Joined)
	retry, err := s.RequestCut(ctx, activities.CutInput{Case: a, ApprovedBy: "rocio", At: day(2025, 6, 17, 8)})
	require.NoError(t, err)
	require.Equal(t, cutA, retry, "a retried cut request reads as the first")

	cutB, err := s.RequestCut(ctx, activities.CutInput{Case: b, ApprovedBy: "rocio", At: day(2025, 6, 18, 8)})
	require.NoError(t, err)
	require.True(t, cutB.Joined)
	require.Equal(t, cutA.CutID, cutB.CutID)

	st, err = s.SupplyStatus(ctx, b)
	require.NoError(t, err)
	require.Equal(t, activities.SupplyStatus{Cut: true, CutID: cutA.CutID}, st)
	reqs, err := s.DistributorRequests(ctx, cups)
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	require.Equal(t, "cut", reqs[0].Kind)
	require.Equal(t, "F-A", reqs[0].Invoice)

	a.Stage = "paid"
	settleA := activities.SettleInput{Case: a, PaidAt: day(2025, 6, 20, 12), DueBy: day(2025, 6, 21, 12)}
	resA, err := s.Settle(ctx, settleA)
	require.NoError(t, err)
	require.Equal(t, activities.SettleResult{SupplyCut: true, StillOpen: []string{"F-B"}}, resA)

	b.Stage = "paid"
	settleB := activities.SettleInput{Case: b, PaidAt: day(2025, 6, 22, 12), DueBy: day(2025, 6, 23, 12)}
	resB, err := s.Settle(ctx, settleB)
	require.NoError(t, err)
	require.Equal(t, activities.SettleResult{SupplyCut: true, Reconnection: true, Release: activities.RequestReconnect}, resB)

	again, err := s.Settle(ctx, settleB)
	require.NoError(t, err)
	require.Equal(t, resB, again, "a retried settlement reads as the first")
	againA, err := s.Settle(ctx, settleA)
	require.NoError(t, err)
	require.True(t, againA.SupplyCut)
	require.False(t, againA.Reconnection)

	reqs, err = s.DistributorRequests(ctx, "")
	require.NoError(t, err)
	require.Len(t, reqs, 2)
	require.Equal(t, "reconnect", reqs[1].Kind)
	require.Equal(t, "F-B", reqs[1].Invoice)
	require.NotNil(t, reqs[1].DueBy)
	require.True(t, reqs[1].DueBy.Equal(settleB.DueBy))

	st, err = s.SupplyStatus(ctx, a)
	require.NoError(t, err)
	require.False(t, st.Cut)
	inv, err := s.Invoice(ctx, "F-B")
	require.NoError(t, err)
	require.Equal(t, "paid", inv.Status)
	require.Zero(t, inv.AmountDueCents)

	// The supply point can be cut again for a later invoice: a new cut, a new request.
	c := ref("F-C", cups)
	open(t, s, c)
	cutC, err := s.RequestCut(ctx, activities.CutInput{Case: c, ApprovedBy: "rocio", At: day(2025, 9, 1, 8)})
	require.NoError(t, err)
	require.False(t, cutC.Joined)
	require.NotEqual(t, cutA.CutID, cutC.CutID)
}

func TestSettleWithoutCut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	res, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 20, 9)})
	require.NoError(t, err)
	require.Equal(t, activities.SettleResult{}, res)
	reqs, err := s.DistributorRequests(ctx, "")
	require.NoError(t, err)
	require.Empty(t, reqs)

	_, err = s.Settle(ctx, activities.SettleInput{Case: ref("F-unknown", "")})
	require.ErrorIs(t, err, ErrNotFound)
}

// A settlement says whether the outbox holds a notice of this run of the
// case, whatever the case knows of it: one sent by a workflow task the server
// lost counts. Another run's notices do not.
func TestSettleSaysWhetherTheRunSentANotice(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")
	open(t, s, c)
	before := c
	before.RunID = "run-0"
	_, err := s.PutOutbox(ctx, before, []activities.OutboxMessage{{Key: "impago-F-1/run-0/aviso_1/email", Kind: "aviso_1",
		Channel: activities.ChannelEmail, Recipient: "ana@example.com", At: day(2025, 3, 12, 9)}})
	require.NoError(t, err)
	res, err := s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 20, 9)})
	require.NoError(t, err)
	require.False(t, res.Notified, "a notice of another run")

	_, err = s.PutOutbox(ctx, c, []activities.OutboxMessage{{Key: "impago-F-1/run-1/aviso_1/email", Kind: "aviso_1",
		Channel: activities.ChannelEmail, Recipient: "ana@example.com", At: day(2025, 3, 13, 9)}})
	require.NoError(t, err)
	res, err = s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 20, 9)})
	require.NoError(t, err)
	require.True(t, res.Notified)
	require.Len(t, res.Unsent, 1, "the run's e-mail, still pending")

	_, err = s.PutOutbox(ctx, c, []activities.OutboxMessage{{Key: "impago-F-1/run-1/aviso_1/whatsapp", Kind: "aviso_1",
		Channel: activities.ChannelWhatsApp, Recipient: "+34600000000", At: day(2025, 3, 13, 9)}})
	require.NoError(t, err)
	res, err = s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 3, 20, 9)})
	require.NoError(t, err)
	require.Len(t, res.Unsent, 1, "a WhatsApp message is the collections team's to send, not the provider's")
}

// An invoice of the supply point that has not reached its own cut does not
// keep the supply cut once the invoices of the cut are paid.
func TestSettleKeepsTheCutWhileAnyInvoiceOfTheSupplyPointIsOpen(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const cups = "ES0021000000000001JN"
	a, later := ref("F-A", cups), ref("F-LATER", cups)
	open(t, s, a)
	open(t, s, later)
	_, err := s.RequestCut(ctx, activities.CutInput{Case: a, ApprovedBy: "rocio", At: day(2025, 6, 17, 8)})
	require.NoError(t, err)
	res, err := s.Settle(ctx, activities.SettleInput{Case: a, PaidAt: day(2025, 6, 20, 12)})
	require.NoError(t, err)
	require.Equal(t, activities.SettleResult{SupplyCut: true, StillOpen: []string{"F-LATER"}}, res)
	require.Equal(t, 0, count(t, s, `SELECT count(*) FROM distributor_requests WHERE kind = 'reconnect'`))

	// The invoice that never reached its own cut is the last one paid: it reconnects.
	res, err = s.Settle(ctx, activities.SettleInput{Case: later, PaidAt: day(2025, 6, 21, 12)})
	require.NoError(t, err)
	require.Equal(t, activities.SettleResult{SupplyCut: true, Reconnection: true, Release: activities.RequestReconnect}, res)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM distributor_requests WHERE kind = 'reconnect'`))
}

func TestConcurrentSettlementsRequestOneReconnection(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for i := range 20 {
		cups := fmt.Sprintf("ES00210000000000%02dXX", i)
		a, b := ref(fmt.Sprintf("F-%d-A", i), cups), ref(fmt.Sprintf("F-%d-B", i), cups)
		open(t, s, a)
		open(t, s, b)
		for _, c := range []activities.CaseRef{a, b} {
			_, err := s.RequestCut(ctx, activities.CutInput{Case: c, ApprovedBy: "rocio", At: day(2025, 6, 17, 8)})
			require.NoError(t, err)
		}

		start := make(chan struct{})
		results := make([]activities.SettleResult, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for j, c := range []activities.CaseRef{a, b} {
			wg.Go(func() {
				<-start
				results[j], errs[j] = s.Settle(ctx, activities.SettleInput{Case: c, PaidAt: day(2025, 6, 20, 12)})
			})
		}
		close(start)
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		require.True(t, results[0].SupplyCut && results[1].SupplyCut, "iteration %d: %+v", i, results)
		require.True(t, results[0].Reconnection != results[1].Reconnection,
			"iteration %d: exactly one settlement must reconnect: %+v", i, results)
		require.Equal(t, 1, count(t, s,
			`SELECT count(*) FROM distributor_requests WHERE cups = $1 AND kind = 'reconnect'`, cups), "iteration %d", i)
	}
}

func TestContract(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	c := ref("F-1", "ES0021000000000001JN")

	k, err := s.Contract(ctx, c)
	require.NoError(t, err)
	require.Equal(t, activities.Contract{}, k)

	want := activities.Contract{Found: true, Customer: "Ferretería Ruiz SL", TaxID: "B12345678", Cups: c.Cups,
		Segment: activities.SegmentBusiness, Phone: "+34600111222", Email: "admin@ruiz.example",
		Province: "Madrid", BonoSocial: true, Essential: true, Protected: true}
	require.NoError(t, s.UpsertContract(ctx, want))
	want.Phone = "+34600999888"
	require.NoError(t, s.UpsertContract(ctx, want))
	k, err = s.Contract(ctx, c)
	require.NoError(t, err)
	require.Equal(t, want, k)

	// One flag at a time, on the same supply point: a flag read into another's
	// field, or left out of the update, shows.
	for _, flags := range []struct{ bono, essential, protected bool }{
		{bono: true}, {essential: true}, {protected: true}, {},
	} {
		want.BonoSocial, want.Essential, want.Protected = flags.bono, flags.essential, flags.protected
		require.NoError(t, s.UpsertContract(ctx, want))
		k, err = s.Contract(ctx, c)
		require.NoError(t, err)
		require.Equal(t, want, k, "%+v", flags)
	}
}

func TestInvoiceNotFound(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, err := s.Invoice(context.Background(), "F-missing")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestCallListHasCustomersWithMoreThanOneOpenInvoice(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	for _, k := range []activities.Contract{
		{Cups: "ES0021000000000001JN", Customer: "Ana García", TaxID: "12345678Z", Segment: "domestico", Phone: "+34600111222"},
		{Cups: "ES0021000000000002XX", Customer: "Ana García", TaxID: "12345678Z", Segment: "domestico", Phone: "+34600111222"},
		{Cups: "ES0021000000000003XX", Customer: "Bar Pepe", TaxID: "B00000000", Segment: "empresa"},
	} {
		require.NoError(t, s.UpsertContract(ctx, k))
	}
	ana1, ana2 := ref("F-1", "ES0021000000000001JN"), ref("F-2", "ES0021000000000002XX")
	ana3, pepe := ref("F-3", "ES0021000000000002XX"), ref("F-4", "ES0021000000000003XX")
	for _, c := range []activities.CaseRef{ana1, ana2, ana3, pepe} {
		open(t, s, c)
	}
	// A paid invoice leaves the list's totals.
	_, err := s.Settle(ctx, activities.SettleInput{Case: ana3, PaidAt: day(2025, 6, 20, 12)})
	require.NoError(t, err)

	list, err := s.CallList(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1, "Bar Pepe owes one invoice: no call")
	require.Equal(t, "+34600111222", list[0].Phone)
	require.Equal(t, []string{"F-1", "F-2"}, list[0].Invoices)
	require.Equal(t, ana1.AmountDueCents+ana2.AmountDueCents, list[0].TotalCents)
}
