package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/store"
)

// certifier is a qualified provider that certifies every delivery at
// deliveredAt.
type certifier struct{ deliveredAt time.Time }

func (f certifier) Certify(_ context.Context, m mail.Message) (activities.Evidence, error) {
	return activities.Evidence{Provider: "logalty", ContentSHA256: activities.ContentHash(m), MessageID: "lgt-1",
		SentAt: f.deliveredAt.Add(-time.Hour), Certificate: &activities.Certificate{ID: "CERT-77", DeliveredAt: f.deliveredAt}}, nil
}

// cutLetter opens a business case and puts its cut letter (the PDF letter and
// the certified e-mail) in the outbox.
func cutLetter(t *testing.T, db *store.Store, acts *activities.Activities, invoice string) (activities.CaseRef, []int64) {
	t.Helper()
	ctx := context.Background()
	c := activities.CaseRef{WorkflowID: "impago-" + invoice, RunID: "run-1", Invoice: invoice, Customer: "Talleres Ruiz S.L.",
		Cups: "ES0021000000000001JN", Stage: "cut_scheduled", AmountDueCents: 123456}
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 123456, ReturnedAt: time.Now().AddDate(0, -1, 0)})
	require.NoError(t, err)
	cut := time.Now().AddDate(0, 0, 20)
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "carta_corte",
		Kind: activities.KindCutLetter, CutDate: &cut, At: time.Now().Add(-48 * time.Hour),
		Contract: activities.Contract{Found: true, Segment: activities.SegmentBusiness, Email: "admin@talleres.example"}})
	require.NoError(t, err)
	ids := make([]int64, 0, len(res.Messages))
	for _, m := range res.Messages {
		ids = append(ids, m.OutboxID)
	}
	return c, ids
}

func TestDeliverNotice_AProvidersCertificateProvesTheFormalNotice(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, _ := withSendGrid(t, db, 0)
	// Delivered at 23:30 UTC two days ago: the next day in Madrid.
	d := time.Now().UTC().AddDate(0, 0, -2)
	delivered := time.Date(d.Year(), d.Month(), d.Day(), 23, 30, 0, 0, time.UTC)
	acts.Certifier = certifier{deliveredAt: delivered}
	c, ids := cutLetter(t, db, acts, "F-1")

	for range 2 { // a retry records nothing twice
		_, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
		require.NoError(t, err)
	}
	st, err := db.NoticeProof(ctx, c)
	require.NoError(t, err)
	require.True(t, st.Proven)
	require.Equal(t, activities.ProofCertificate, st.Kind)
	require.Equal(t, calendar.Date(d.Year(), d.Month(), d.Day()+1), *st.ProvenOn)
	require.Contains(t, st.Summary, "certificado de entrega de logalty recibido el")
	proofs, err := db.Proofs(ctx, "F-1")
	require.NoError(t, err)
	require.Len(t, proofs, 1)
	require.Equal(t, "CERT-77", proofs[0].CertificateID)
	require.NotNil(t, proofs[0].OutboxID)
	require.Equal(t, ids[1], *proofs[0].OutboxID, "the certified e-mail, not the paper letter")
}

func TestDeliverNotice_SendGridsEvidenceIsNoProof(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 0)
	c, ids := cutLetter(t, db, acts, "F-2")
	dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
	require.NoError(t, err)
	require.Equal(t, activities.StatusSent, dr.Delivered[1].Status)
	require.Len(t, stub.accepted, 1)
	_, err = db.Evidence(ctx, ids[1])
	require.NoError(t, err, "the evidence is kept")
	st, err := db.NoticeProof(ctx, c)
	require.NoError(t, err)
	require.False(t, st.Proven, "SendGrid's evidence proves nothing in law")
}

func TestRequestCut_ARefusalIsFinalAndCarriesWhy(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts := &activities.Activities{Store: db}
	c := activities.CaseRef{WorkflowID: "impago-F-1", RunID: "run-1", Invoice: "F-1", Cups: "ES0021000000000001JN",
		Stage: "cut_review", AmountDueCents: 5000}
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 5000, ReturnedAt: time.Now().AddDate(0, -3, 0)})
	require.NoError(t, err)
	require.NoError(t, db.UpsertContract(ctx, activities.Contract{Cups: c.Cups, Segment: activities.SegmentBusiness, Essential: true}))

	_, err = call[activities.CutResult](t, acts.RequestCut, activities.CutInput{Case: c, ApprovedBy: "rocio", At: time.Now(),
		Checked: true, Rules: activities.CutRules{RegulatoryWaitMonths: 2, BonoSocialWaitMonths: 4, MinimumSupplyMonths: 6}})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrCutRefused, appErr.Type())
	require.True(t, appErr.NonRetryable())
	var r activities.CutRefusal
	require.NoError(t, appErr.Details(&r))
	require.Equal(t, activities.RefusedNeverCut, r.Reason)
	require.Equal(t, "suministro esencial", r.Detail)
}

func TestRecordPayment_AKeyOfAnotherPaymentIsRefusedForGood(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts := &activities.Activities{Store: db}
	c := activities.CaseRef{WorkflowID: "impago-F-1", RunID: "run-1", Invoice: "F-1", Cups: "ES0021000000000001JN", AmountDueCents: 5000}
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 5000, ReturnedAt: time.Now().AddDate(0, -1, 0)})
	require.NoError(t, err)
	in := activities.PaymentInput{Case: c, Key: "ref:TRF-1", AmountCents: 5000, PaidAt: time.Now(), Reference: "TRF-1"}
	inserted, err := call[bool](t, acts.RecordPayment, in)
	require.NoError(t, err)
	require.True(t, inserted)

	in.AmountCents = 4000
	_, err = call[bool](t, acts.RecordPayment, in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, activities.ErrPaymentRefused, appErr.Type())
	require.True(t, appErr.NonRetryable())
	var r activities.PaymentRefusal
	require.NoError(t, appErr.Details(&r))
	require.Equal(t, "ref:TRF-1", r.Key)
}

// distributorPort keeps what is handed to it, or refuses everything while
// down.
type distributorPort struct {
	down bool
	got  []string
}

func (d *distributorPort) Send(_ context.Context, m activities.DistributorMessage) error {
	if d.down {
		return errors.New("outbox folder not mounted")
	}
	d.got = append(d.got, m.FileName)
	return nil
}

// A request the ledger commits with Send leaves in the same activity; one the
// distributor did not take stays unsent in the ledger, says so (Sent false),
// and SendToDistributor hands it over later.
func TestRequestCutAndSettle_HandTheRequestOverWithTheirWrite(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	port := &distributorPort{}
	acts := &activities.Activities{Store: db, Distributor: port, REECode: "0999"}
	open := func(invoice, cups string) activities.CaseRef {
		c := activities.CaseRef{WorkflowID: "impago-" + invoice, RunID: "run-1", Invoice: invoice, Cups: cups,
			Stage: "cut_review", AmountDueCents: 5000}
		require.NoError(t, db.UpsertContract(ctx, activities.Contract{Customer: "Ana García López", TaxID: "12345678Z",
			Cups: cups, Segment: activities.SegmentDomestic, Phone: "+34600000000", Province: "Madrid"}))
		_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 5000, ReturnedAt: time.Now().AddDate(0, -3, 0)})
		require.NoError(t, err)
		return c
	}
	unsent := func(id int64) int {
		msgs, err := db.UnsentATR(ctx, id)
		require.NoError(t, err)
		return len(msgs)
	}

	c := open("F-1", cups.Make(21, 1))
	cut, err := call[activities.CutResult](t, acts.RequestCut, activities.CutInput{Case: c, ApprovedBy: "rocio", At: time.Now(), ATR: true, Send: true})
	require.NoError(t, err)
	require.NotNil(t, cut.Request)
	require.True(t, cut.Sent)
	require.Len(t, port.got, 1)
	require.Zero(t, unsent(cut.Request.RequestID))

	c.Stage = "cut_cancel_requested"
	settled, err := call[activities.SettleResult](t, acts.SettleInvoice, activities.SettleInput{Case: c, PaidAt: time.Now(), DueBy: time.Now().AddDate(0, 0, 1), Send: true})
	require.NoError(t, err)
	require.NotNil(t, settled.Request, "the cut's cancellation")
	require.True(t, settled.Sent)
	require.Len(t, port.got, 2)
	require.Zero(t, unsent(settled.Request.RequestID))

	port.down = true
	d := open("F-2", cups.Make(21, 2))
	cut, err = call[activities.CutResult](t, acts.RequestCut, activities.CutInput{Case: d, ApprovedBy: "rocio", At: time.Now(), ATR: true, Send: true})
	require.NoError(t, err, "the request stands in the ledger")
	require.False(t, cut.Sent)
	require.Equal(t, 1, unsent(cut.Request.RequestID))

	port.down = false
	sent, err := call[activities.SendResult](t, acts.SendToDistributor, activities.SendInput{Case: d, RequestID: cut.Request.RequestID})
	require.NoError(t, err)
	require.Equal(t, 1, sent.Sent)
	require.Len(t, port.got, 3)
	require.Zero(t, unsent(cut.Request.RequestID))

	// Without Send the request waits for SendToDistributor, as before.
	e := open("F-3", cups.Make(21, 3))
	cut, err = call[activities.CutResult](t, acts.RequestCut, activities.CutInput{Case: e, ApprovedBy: "rocio", At: time.Now(), ATR: true})
	require.NoError(t, err)
	require.False(t, cut.Sent)
	require.Len(t, port.got, 3)
	require.Equal(t, 1, unsent(cut.Request.RequestID))
}
