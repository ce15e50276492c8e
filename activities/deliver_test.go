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
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/mailevents"
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

// withSendGrid returns the activities on db with a mailer that talks to a
// SendGrid stub answering answers in turn (202 once they run out).
func withSendGrid(t *testing.T, db *store.Store, grace time.Duration, answers ...int) (*activities.Activities, *sendgridStub) {
	t.Helper()
	stub := &sendgridStub{answers: answers}
	srv := httptest.NewServer(stub)
	t.Cleanup(srv.Close)
	return &activities.Activities{Store: db, Retailer: notice.DefaultRetailer, ConfirmGrace: grace,
		Mailer: mail.NewSender(mail.Config{APIKey: "SG.test-key", Host: srv.URL})}, stub
}

func TestDeliverNoticeSendsEachEmailExactlyOnce(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 0, 429, 500)
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
	acts, stub := withSendGrid(t, db, 0, 400)
	c, row := domesticNotice(t, db, acts, "F-2")
	id := row.ID
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
	acts, stub := withSendGrid(t, db, 0)
	c, row := domesticNotice(t, db, acts, "F-4")
	id := row.ID
	// A worker that claimed the e-mail and died before recording the outcome.
	_, err := db.Pool().Exec(ctx, `UPDATE outbox SET status = 'sending', attempts = 1 WHERE id = $1`, id)
	require.NoError(t, err)
	dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{id}})
	require.NoError(t, err)
	require.Equal(t, activities.StatusSending, dr.Delivered[0].Status)
	require.Contains(t, dr.Delivered[0].Detail, "not sent again")
	require.Zero(t, stub.requests, "the customer may already have it: no second send")
}

// cutShort leaves an outbox row as a worker killed in the middle of its send
// leaves it: claimed (claim 1) claimedAgo, by an attempt whose deadline passed
// (or not) deadlineAgo.
func cutShort(t *testing.T, db *store.Store, id int64, claimedAgo, deadlineAgo time.Duration) {
	t.Helper()
	_, err := db.Pool().Exec(context.Background(), `
		UPDATE outbox SET status = 'sending', attempts = 1,
			claimed_at = now() - make_interval(secs => $2), claim_until = now() - make_interval(secs => $3)
		WHERE id = $1`, id, claimedAgo.Seconds(), deadlineAgo.Seconds())
	require.NoError(t, err)
}

// event stores an event SendGrid reported.
func event(t *testing.T, db *store.Store, id, kind, key, messageID string, at time.Time) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"event": kind, "sg_event_id": id, "sg_message_id": messageID,
		"timestamp": at.Unix(), "outbox_key": key})
	require.NoError(t, err)
	_, err = db.RecordMailEvents(context.Background(), []mailevents.Event{{ID: id, Event: kind, OutboxKey: key,
		MessageID: messageID, At: at.Truncate(time.Second), Raw: raw}})
	require.NoError(t, err)
}

// domesticNotice stores aviso 1 of a domestic case, e-mail only, and returns
// its outbox row.
func domesticNotice(t *testing.T, db *store.Store, acts *activities.Activities, invoice string) (activities.CaseRef, store.OutboxRow) {
	t.Helper()
	c := activities.CaseRef{WorkflowID: "impago-" + invoice, RunID: "run-1", Invoice: invoice, Cups: "ES0021000000000001JN",
		Stage: "notice_1", AmountDueCents: 5000}
	_, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "aviso_1", Kind: activities.KindAviso1,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentDomestic, Email: "ana@example.com"}, At: time.Now()})
	require.NoError(t, err)
	rows, err := db.Outbox(context.Background(), store.OutboxFilter{Invoice: invoice})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	return c, rows[0]
}

func outboxRow(t *testing.T, db *store.Store, invoice string, id int64) store.OutboxRow {
	t.Helper()
	rows, err := db.Outbox(context.Background(), store.OutboxFilter{Invoice: invoice})
	require.NoError(t, err)
	for _, r := range rows {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("outbox #%d of %s not found", id, invoice)
	return store.OutboxRow{}
}

func TestDeliverNoticeSettlesACutShortSendFromTheProvidersEvent(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 0)
	c := activities.CaseRef{WorkflowID: "impago-F-5", RunID: "run-1", Invoice: "F-5", Customer: "Talleres Ruiz S.L.",
		Cups: "ES0021000000000001JN", Stage: "cut_scheduled", AmountDueCents: 123456}
	cut := time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)
	res, err := call[activities.NoticeResult](t, acts.SendNotice, activities.NoticeInput{Case: c, Step: "carta_corte", Kind: activities.KindCutLetter,
		Contract: activities.Contract{Found: true, Segment: activities.SegmentBusiness, Email: "admin@talleres.example"},
		CutDate:  &cut, At: time.Now()})
	require.NoError(t, err)
	ids := []int64{res.Messages[0].OutboxID, res.Messages[1].OutboxID}
	certified := outboxRow(t, db, "F-5", ids[1])
	require.Equal(t, activities.ChannelCertified, certified.Channel)
	// The worker died right after SendGrid took the e-mail; SendGrid reported it.
	cutShort(t, db, certified.ID, 40*time.Second, -80*time.Second)
	at := time.Now().Add(-30 * time.Second)
	event(t, db, "ev-1", "processed", certified.IdempotencyKey, "sg-abc.filter0001.1", at)
	event(t, db, "ev-2", "delivered", certified.IdempotencyKey, "sg-abc.filter0001.1", at.Add(time.Second))

	dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
	require.NoError(t, err, "the event settles it even before the grace or the attempt's deadline")
	require.Equal(t, activities.StatusSent, dr.Delivered[1].Status)
	require.Equal(t, "sg-abc", dr.Delivered[1].MessageID)
	require.Contains(t, dr.Delivered[1].Detail, "processed event")
	require.Zero(t, stub.requests, "SendGrid has it: no second request")

	row := outboxRow(t, db, "F-5", certified.ID)
	require.Equal(t, activities.StatusSent, row.Status)
	require.Equal(t, int32(1), row.Attempts)
	ev, err := db.Evidence(ctx, certified.ID)
	require.NoError(t, err, "a certified e-mail settled by an event keeps its evidence")
	require.Equal(t, "sg-abc", ev.MessageID)
	require.Len(t, ev.ContentSHA256, 64)
	require.Contains(t, string(ev.AttachmentsSHA256), activities.LetterFilename("F-5"))

	_, err = call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: ids})
	require.NoError(t, err)
	require.Zero(t, stub.requests)
}

func TestDeliverNoticeAwaitsTheEventWithinTheGrace(t *testing.T) {
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 10*time.Minute)
	c, row := domesticNotice(t, db, acts, "F-6")
	// Events come through (others' e-mails, after the claim), none of this one yet.
	event(t, db, "ev-other", "processed", "impago-X/run-1/aviso_1/email", "sg-x", time.Now())

	for _, tc := range []struct {
		name  string
		grace time.Duration
		until time.Duration // the claiming attempt's deadline, from now
		want  time.Duration // NextRetryDelay at most
	}{
		{"claim younger than the grace", 10 * time.Minute, -time.Minute, time.Minute},
		{"grace over but the claiming attempt may still run", time.Minute, 20 * time.Second, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acts.ConfirmGrace = tc.grace
			cutShort(t, db, row.ID, 3*time.Minute, -tc.until)
			_, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.Equal(t, "DeliveryUnconfirmed", appErr.Type())
			require.False(t, appErr.NonRetryable())
			require.Positive(t, appErr.NextRetryDelay())
			require.LessOrEqual(t, appErr.NextRetryDelay(), tc.want)
			require.Zero(t, stub.requests, "SendGrid may still report it: nothing sent")
			require.Equal(t, activities.StatusSending, outboxRow(t, db, "F-6", row.ID).Status)
		})
	}
}

func TestDeliverNoticeSendsAgainAnEmailTheProviderNeverGot(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 10*time.Minute)
	c, row := domesticNotice(t, db, acts, "F-7")
	// Claimed an hour ago by an attempt long timed out; SendGrid has reported
	// e-mails it got since, never this one: the worker died before the request left.
	cutShort(t, db, row.ID, time.Hour, 58*time.Minute)
	event(t, db, "ev-later", "processed", "impago-X/run-1/aviso_1/email", "sg-x", time.Now().Add(-10*time.Minute))

	for range 3 {
		dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
		require.NoError(t, err)
		require.Equal(t, activities.StatusSent, dr.Delivered[0].Status)
		require.Equal(t, "msg-A", dr.Delivered[0].MessageID)
	}
	require.Equal(t, 1, stub.requests, "exactly one new request, whatever the retries")
	args := stub.accepted[0]["custom_args"].(map[string]any)
	require.Equal(t, row.IdempotencyKey, args["outbox_key"])
	require.Equal(t, "2", args["outbox_attempt"], "the second claim")
	got := outboxRow(t, db, "F-7", row.ID)
	require.Equal(t, activities.StatusSent, got.Status)
	require.Equal(t, int32(2), got.Attempts)

	var audit int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit WHERE invoice = 'F-7' AND detail ? 'released_claim'`).Scan(&audit))
	require.Equal(t, 1, audit, "the release is in the audit trail")
}

func TestDeliverNoticeNeverResendsWhileTheProvidersEventsDoNotComeThrough(t *testing.T) {
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, time.Minute)
	c, row := domesticNotice(t, db, acts, "F-8")
	cutShort(t, db, row.ID, time.Hour, 58*time.Minute)
	// The webhook worked until shortly before the claim and has reported nothing since.
	_, err := db.RecordMailEvents(context.Background(), []mailevents.Event{{ID: "ev-old", Event: "processed",
		OutboxKey: "impago-Y/run-1/aviso_1/email", At: time.Now().Add(-2 * time.Hour).Truncate(time.Second), Raw: []byte(`{}`)}})
	require.NoError(t, err)
	_, err = db.Pool().Exec(context.Background(), `UPDATE mail_events SET received_at = now() - interval '2 hours'`)
	require.NoError(t, err)

	_, err = call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, "DeliveryUnconfirmed", appErr.Type())
	require.Contains(t, appErr.Error(), "not sent again until its events come through")
	require.Zero(t, stub.requests)
	require.Equal(t, activities.StatusSending, outboxRow(t, db, "F-8", row.ID).Status)
}

// racingStore is the delivery's store with something happening around the
// release of a cut-short claim: before it, or between it and the new claim.
type racingStore struct {
	*store.Store
	before, after func()
}

func (s racingStore) Release(ctx context.Context, id int64, attempt int32, grace time.Duration, detail string) (bool, error) {
	if s.before != nil {
		s.before()
	}
	ok, err := s.Store.Release(ctx, id, attempt, grace, detail)
	if s.after != nil {
		s.after()
	}
	return ok, err
}

func TestDeliverNoticeSettlesWhatHappensBetweenReleaseAndNewClaim(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)

	t.Run("the provider's event arrives just before the release", func(t *testing.T) {
		acts, stub := withSendGrid(t, db, 10*time.Minute)
		c, row := domesticNotice(t, db, acts, "F-9")
		cutShort(t, db, row.ID, time.Hour, 58*time.Minute)
		event(t, db, "ev-9-later", "processed", "impago-X/run-1/aviso_1/email", "sg-x", time.Now().Add(-10*time.Minute))
		acts.Store = racingStore{Store: db, before: func() {
			event(t, db, "ev-9", "processed", row.IdempotencyKey, "sg-late.filter0001.1", time.Now().Add(-55*time.Minute))
		}}

		dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
		require.NoError(t, err)
		require.Equal(t, activities.StatusSent, dr.Delivered[0].Status, "the late event settles it")
		require.Equal(t, "sg-late", dr.Delivered[0].MessageID)
		require.Zero(t, stub.requests, "SendGrid had it after all: not sent again")
		got := outboxRow(t, db, "F-9", row.ID)
		require.Equal(t, int32(1), got.Attempts, "never claimed again")
		var released int
		require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit WHERE invoice = 'F-9' AND detail ? 'released_claim'`).Scan(&released))
		require.Zero(t, released, "the release saw the event and did nothing")
	})

	t.Run("another attempt claims and sends it right after the release", func(t *testing.T) {
		acts, stub := withSendGrid(t, db, 10*time.Minute)
		c, row := domesticNotice(t, db, acts, "F-10")
		cutShort(t, db, row.ID, time.Hour, 58*time.Minute)
		event(t, db, "ev-10-later", "processed", "impago-X/run-1/aviso_1/email", "sg-x", time.Now().Add(-10*time.Minute))
		other := *acts
		acts.Store = racingStore{Store: db, after: func() {
			dr, err := call[activities.DeliverResult](t, other.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
			require.NoError(t, err)
			require.Equal(t, activities.StatusSent, dr.Delivered[0].Status)
		}}

		dr, err := call[activities.DeliverResult](t, acts.DeliverNotice, activities.DeliverInput{Case: c, OutboxIDs: []int64{row.ID}})
		require.NoError(t, err)
		require.Equal(t, activities.StatusSent, dr.Delivered[0].Status, "it finds the other attempt's outcome")
		require.Equal(t, "msg-A", dr.Delivered[0].MessageID)
		require.Equal(t, 1, stub.requests, "sent again once, by the attempt that claimed it")
		got := outboxRow(t, db, "F-10", row.ID)
		require.Equal(t, activities.StatusSent, got.Status)
		require.Equal(t, int32(2), got.Attempts)
	})
}
