package activities_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
)

// sendgridStub answers the v3 mail/send API with the given statuses in turn
// (202 once they run out) and keeps every accepted message.
type sendgridStub struct {
	mu       sync.Mutex
	answers  []int
	requests int
	accepted []map[string]any
}

func (s *sendgridStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	status := http.StatusAccepted
	if len(s.answers) > 0 {
		status, s.answers = s.answers[0], s.answers[1:]
	}
	if status != http.StatusAccepted {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errors":[{"field":"personalizations.0.to","message":"stub answer"}]}`))
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.accepted = append(s.accepted, body)
	w.Header().Set("X-Message-Id", "msg-"+string(rune('A'+len(s.accepted)-1)))
	w.WriteHeader(status)
}

// call runs an activity the way a worker does, with its context.
func call[T any](t *testing.T, fn any, in any) (T, error) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(fn)
	var out T
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		return out, err
	}
	return out, v.Get(&out)
}

func newDeliveryStore(t *testing.T) *store.Store {
	t.Helper()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	db, done, err := store.OpenIsolated(context.Background(), dsn, "deliver_test")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, done()) })
	return db
}

func TestDeliverNoticeSendsEachEmailExactlyOnce(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	stub := &sendgridStub{answers: []int{429, 500}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	acts := &activities.Activities{
		Store:    db,
		Retailer: notice.DefaultRetailer,
		Mailer:   mail.NewSender(mail.Config{APIKey: "SG.test-key", Host: srv.URL}),
	}
	c := activities.CaseRef{WorkflowID: "impago-F-1", RunID: "run-1", Invoice: "F-1", Customer: "Talleres Ruiz S.L.",
		Cups: "ES0021000000000001JN", Stage: "cut_scheduled", AmountDueCents: 123456}
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 123456, ReturnedAt: time.Now()})
	require.NoError(t, err)
	cut := time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "carta_corte", Kind: activities.KindCutLetter,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentBusiness, Email: "admin@talleres.example", Phone: "+34910000333"},
		CutDate:  &cut, At: time.Now()})
	require.NoError(t, err)
	ids := make([]int64, 0, len(res.Messages))
	for _, m := range res.Messages {
		ids = append(ids, m.OutboxID)
	}
	require.Len(t, ids, 2, "letter and certified e-mail")

	// 429, then 500: each attempt fails and leaves the e-mail pending for Temporal's retry.
	for range 2 {
		_, err = call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
		require.Error(t, err)
		require.NotContains(t, err.Error(), "SG.test-key")
	}
	// The provider recovers: the e-mail goes once; retrying the activity sends nothing more.
	for range 3 {
		dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
		require.NoError(t, err)
		require.Equal(t, activities.StatusPending, dr.Delivered[0].Status, "the paper letter stays for the clerks")
		require.Equal(t, activities.StatusSent, dr.Delivered[1].Status)
		require.Equal(t, "msg-A", dr.Delivered[1].MessageID)
	}
	require.Equal(t, 3, stub.requests, "429, 500 and one accepted send")
	require.Len(t, stub.accepted, 1)

	// The certified e-mail carried the very PDF kept with the case, and its evidence was recorded.
	sent := stub.accepted[0]
	atts := sent["attachments"].([]any)
	require.Len(t, atts, 1)
	pdf, err := base64.StdEncoding.DecodeString(atts[0].(map[string]any)["content"].(string))
	require.NoError(t, err)
	kept, err := db.Attachments(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, kept[0].Content, pdf)
	require.True(t, strings.HasPrefix(string(pdf), "%PDF"))
	ev, err := db.Evidence(ctx, ids[1])
	require.NoError(t, err)
	require.Equal(t, "msg-A", ev.MessageID)
	require.Len(t, ev.ContentSHA256, 64)
	require.Contains(t, string(ev.AttachmentsSHA256), activities.LetterFilename("F-1"))
	rows, err := db.Outbox(ctx, store.OutboxFilter{Invoice: "F-1", Channel: activities.ChannelCertified})
	require.NoError(t, err)
	require.Equal(t, int32(3), rows[0].Attempts)
}

func TestDeliverNoticeRefusalIsPermanentAndVisible(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	stub := &sendgridStub{answers: []int{400}}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	acts := &activities.Activities{Store: db, Retailer: notice.DefaultRetailer,
		Mailer: mail.NewSender(mail.Config{APIKey: "SG.test-key", Host: srv.URL})}
	c := activities.CaseRef{WorkflowID: "impago-F-2", RunID: "run-1", Invoice: "F-2", Cups: "ES0021000000000001JN",
		Stage: "notice_1", AmountDueCents: 5000}
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "aviso_1", Kind: activities.KindAviso1,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentDomestic, Email: "ana@example.com"}, At: time.Now()})
	require.NoError(t, err)
	id := res.Messages[0].OutboxID
	for range 2 {
		dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{id}})
		require.NoError(t, err, "a refusal is not retried")
		require.Equal(t, activities.StatusFailed, dr.Delivered[0].Status)
		require.Contains(t, dr.Delivered[0].Detail, "400")
	}
	require.Equal(t, 1, stub.requests, "never an endless retry")
	rows, err := db.Outbox(ctx, store.OutboxFilter{Invoice: "F-2", Status: activities.StatusFailed})
	require.NoError(t, err)
	require.Len(t, rows, 1)
}

func TestDeliverNoticeWithoutKeyKeepsEmailsAndSaysWhy(t *testing.T) {
	db := newDeliveryStore(t)
	acts := &activities.Activities{Store: db, Retailer: notice.DefaultRetailer, Mailer: mail.NewSender(mail.Config{})}
	c := activities.CaseRef{WorkflowID: "impago-F-3", RunID: "run-1", Invoice: "F-3", Cups: "ES0021000000000001JN",
		Stage: "notice_1", AmountDueCents: 5000}
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "aviso_1", Kind: activities.KindAviso1,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentDomestic, Email: "ana@example.com", Phone: "600111222"},
		At:       time.Now()})
	require.NoError(t, err)
	var ids []int64
	for _, m := range res.Messages {
		ids = append(ids, m.OutboxID)
	}
	dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
	require.NoError(t, err)
	byChannel := map[string]activities.Delivered{}
	for _, d := range dr.Delivered {
		byChannel[d.Channel] = d
	}
	require.Equal(t, activities.StatusNotSent, byChannel[activities.ChannelEmail].Status)
	require.Contains(t, byChannel[activities.ChannelEmail].Detail, "SENDGRID_API_KEY")
	require.Equal(t, activities.StatusPending, byChannel[activities.ChannelWhatsApp].Status, "WhatsApp texts are for the clerks")
}

func TestDeliverNoticeNeverResendsAnEmailWhoseAttemptWasCutShort(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	stub := &sendgridStub{}
	srv := httptest.NewServer(stub)
	defer srv.Close()
	acts := &activities.Activities{Store: db, Retailer: notice.DefaultRetailer,
		Mailer: mail.NewSender(mail.Config{APIKey: "SG.test-key", Host: srv.URL})}
	c := activities.CaseRef{WorkflowID: "impago-F-4", RunID: "run-1", Invoice: "F-4", Cups: "ES0021000000000001JN",
		Stage: "notice_1", AmountDueCents: 5000}
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "aviso_1", Kind: activities.KindAviso1,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentDomestic, Email: "ana@example.com"}, At: time.Now()})
	require.NoError(t, err)
	id := res.Messages[0].OutboxID
	// A worker that claimed the e-mail and died before recording the outcome.
	_, err = db.Pool().Exec(ctx, `UPDATE outbox SET status = 'sending', attempts = 1 WHERE id = $1`, id)
	require.NoError(t, err)
	dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{id}})
	require.NoError(t, err)
	require.Equal(t, activities.StatusSending, dr.Delivered[0].Status)
	require.Contains(t, dr.Delivered[0].Detail, "not sent again")
	require.Zero(t, stub.requests, "the customer may already have it: no second send")
}
