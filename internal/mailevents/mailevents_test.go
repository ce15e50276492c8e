package mailevents_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/mailevents"
	"github.com/elega/impagos/internal/store"
)

// batch is two events of one e-mail as SendGrid posts them, custom arguments
// at the top level.
const batch = `[
 {"email":"ana@example.com","timestamp":1764234000,"event":"processed","sg_event_id":"ev-p","sg_message_id":"sg-1.filter0001.1",
  "outbox_key":"impago-F-1/run-1/aviso_1/email","outbox_attempt":"2","invoice":"F-1","category":["impagos","aviso_1"]},
 {"email":"ana@example.com","timestamp":1764234003,"event":"delivered","sg_event_id":"ev-d","sg_message_id":"sg-1.filter0001.1",
  "outbox_key":"impago-F-1/run-1/aviso_1/email","outbox_attempt":"2","response":"250 OK"}
]`

// memory keeps events in memory, once per id, or fails with err.
type memory struct {
	mu     sync.Mutex
	events map[string]mailevents.Event
	err    error
}

func (m *memory) RecordMailEvents(_ context.Context, events []mailevents.Event) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	n := 0
	for _, e := range events {
		if _, ok := m.events[e.ID]; !ok {
			m.events[e.ID] = e
			n++
		}
	}
	return n, nil
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	return key, base64.StdEncoding.EncodeToString(der)
}

func post(t *testing.T, h http.Handler, body string, header http.Header) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, mailevents.Path, bytes.NewBufferString(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func signed(t *testing.T, key *ecdsa.PrivateKey, body string) http.Header {
	t.Helper()
	h, err := mailevents.Sign(key, []byte(body), time.Now())
	require.NoError(t, err)
	return h
}

func TestHandlerTakesOnlyRequestsSignedBySendGrid(t *testing.T) {
	key, public := newKey(t)
	other, _ := newKey(t)
	pk, err := mailevents.ParsePublicKey(public)
	require.NoError(t, err)

	tampered := signed(t, key, batch)
	stale := signed(t, key, batch)
	stale.Set("X-Twilio-Email-Event-Webhook-Timestamp", "1")
	garbled := signed(t, key, batch)
	garbled.Set("X-Twilio-Email-Event-Webhook-Signature", "bm90IGEgc2lnbmF0dXJl")
	for _, tc := range []struct {
		name   string
		body   string
		header http.Header
		want   int
	}{
		{"signed by SendGrid's key", batch, signed(t, key, batch), http.StatusNoContent},
		{"no signature", batch, nil, http.StatusForbidden},
		{"signed by another key", batch, signed(t, other, batch), http.StatusForbidden},
		{"body changed after signing", batch[:len(batch)-1] + ",{}]", tampered, http.StatusForbidden},
		{"timestamp changed after signing", batch, stale, http.StatusForbidden},
		{"signature not ASN.1", batch, garbled, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &memory{events: map[string]mailevents.Event{}}
			require.Equal(t, tc.want, post(t, mailevents.Handler(rec, mailevents.Options{PublicKey: pk}), tc.body, tc.header))
			if tc.want != http.StatusNoContent {
				require.Empty(t, rec.events, "nothing of a refused request is stored")
			} else {
				require.Len(t, rec.events, 2)
			}
		})
	}
}

func TestHandlerAnswers(t *testing.T) {
	unsigned := mailevents.Options{Unsigned: true}
	rec := &memory{events: map[string]mailevents.Event{}}
	h := mailevents.Handler(rec, unsigned)
	require.Equal(t, http.StatusNoContent, post(t, h, batch, nil), "unsigned requests only when configured so")
	require.Equal(t, http.StatusBadRequest, post(t, h, `{"event":"processed"}`, nil), "a batch is an array")
	require.Equal(t, http.StatusBadRequest, post(t, h, `[{"timestamp":1}]`, nil), "an event has a name")
	require.Equal(t, http.StatusBadRequest, post(t, h, `[{"event":"open","timestamp":"yesterday"}]`, nil))

	r := httptest.NewRequest(http.MethodGet, mailevents.Path, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)

	// A store that fails gets SendGrid to post the batch again.
	down := &memory{err: errors.New("connection refused")}
	require.Equal(t, http.StatusServiceUnavailable, post(t, mailevents.Handler(down, unsigned), batch, nil))
}

func TestParseReadsCustomArguments(t *testing.T) {
	events, err := mailevents.Parse([]byte(batch))
	require.NoError(t, err)
	require.Len(t, events, 2)
	e := events[0]
	require.Equal(t, "ev-p", e.ID)
	require.Equal(t, "processed", e.Event)
	require.Equal(t, "impago-F-1/run-1/aviso_1/email", e.OutboxKey)
	require.NotNil(t, e.Attempt)
	require.Equal(t, int32(2), *e.Attempt)
	require.Equal(t, "sg-1.filter0001.1", e.MessageID)
	require.Equal(t, time.Unix(1764234000, 0).UTC(), e.At)

	// No sg_event_id: the event's own hash identifies it, the same every time.
	a, err := mailevents.Parse([]byte(`[{"event":"open","timestamp":1764234100,"outbox_attempt":3}]`))
	require.NoError(t, err)
	b, err := mailevents.Parse([]byte(`[{"event":"open","timestamp":1764234100,"outbox_attempt":3}]`))
	require.NoError(t, err)
	require.Equal(t, a[0].ID, b[0].ID)
	require.Equal(t, int32(3), *a[0].Attempt)
	require.Empty(t, a[0].OutboxKey, "mail sent by others has no outbox key")
}

func TestOptionsFromEnv(t *testing.T) {
	_, public := newKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsaDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "sendgrid.pub")
	require.NoError(t, os.WriteFile(file, []byte(public+"\n"), 0o600))

	for _, tc := range []struct {
		name                  string
		key, keyFile          string
		unsigned              string
		wantErr               string
		signed, takesUnsigned bool
	}{
		{name: "nothing configured", wantErr: "must be signed"},
		{name: "key", key: public, signed: true},
		{name: "key from a file", keyFile: file, signed: true},
		{name: "both key and file", key: public, keyFile: file, wantErr: "keep one"},
		{name: "not base64", key: "not base64!", wantErr: "base64"},
		{name: "an RSA key", key: base64.StdEncoding.EncodeToString(rsaDER), wantErr: "not an ECDSA key"},
		{name: "unsigned for a stub", unsigned: "1", takesUnsigned: true},
		{name: "unsigned unreadable", unsigned: "perhaps", wantErr: "want 1 or 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(mailevents.EnvKey, tc.key)
			t.Setenv(mailevents.EnvKey+"_FILE", tc.keyFile)
			t.Setenv(mailevents.EnvUnsigned, tc.unsigned)
			opts, err := mailevents.OptionsFromEnv()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.signed, opts.PublicKey != nil)
			require.Equal(t, tc.takesUnsigned, opts.Unsigned)
		})
	}
}

func TestGraceFromEnv(t *testing.T) {
	t.Setenv(mailevents.EnvGrace, "")
	d, err := mailevents.GraceFromEnv()
	require.NoError(t, err)
	require.Zero(t, d, "unset: the default")
	t.Setenv(mailevents.EnvGrace, "45s")
	d, err = mailevents.GraceFromEnv()
	require.NoError(t, err)
	require.Equal(t, 45*time.Second, d)
	for _, bad := range []string{"30", "-1m", "0s"} {
		t.Setenv(mailevents.EnvGrace, bad)
		_, err = mailevents.GraceFromEnv()
		require.Error(t, err, bad)
	}
}

func TestKeepFromEnv(t *testing.T) {
	t.Setenv(mailevents.EnvKeep, "")
	d, err := mailevents.KeepFromEnv()
	require.NoError(t, err)
	require.Equal(t, mailevents.DefaultKeep, d, "unset: the default")
	for v, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, " 2d ": 48 * time.Hour, "72h": 72 * time.Hour} {
		t.Setenv(mailevents.EnvKeep, v)
		d, err = mailevents.KeepFromEnv()
		require.NoError(t, err, v)
		require.Equal(t, want, d, v)
	}
	for _, bad := range []string{"1d", "47h", "0d", "-5d", "d", "90", "1e9d", "ninety days"} {
		t.Setenv(mailevents.EnvKeep, bad)
		_, err = mailevents.KeepFromEnv()
		require.ErrorContains(t, err, mailevents.EnvKeep, bad)
	}
}

// pruner counts its calls and fails the first one, as a database away does.
type pruner struct {
	mu    sync.Mutex
	calls int
	keep  time.Duration
	ran   chan int
}

func (p *pruner) PruneMailEvents(ctx context.Context, keep time.Duration) (int64, error) {
	p.mu.Lock()
	p.calls++
	n := p.calls
	p.keep = keep
	p.mu.Unlock()
	p.ran <- n
	if n == 1 {
		return 0, errors.New("connection refused")
	}
	return 3, nil
}

func TestPruneGoesOnAfterAFailureAndStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pruner{ran: make(chan int, 10)}
	done := make(chan struct{})
	go func() {
		mailevents.Prune(ctx, p, 7*24*time.Hour, 10*time.Millisecond)
		close(done)
	}()
	for want := 1; want <= 3; want++ {
		select {
		case n := <-p.ran:
			require.Equal(t, want, n, "right away, then at every interval, a failure or not")
		case <-time.After(10 * time.Second):
			t.Fatalf("prune %d never ran", want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Prune did not return once its context was done")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Equal(t, 7*24*time.Hour, p.keep)
}

func TestEventsAreStoredOnceWhateverTheRepeats(t *testing.T) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	ctx := context.Background()
	db, done, err := store.OpenIsolated(ctx, dsn, "mailevents_test")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, done()) })
	key, public := newKey(t)
	pk, err := mailevents.ParsePublicKey(public)
	require.NoError(t, err)
	srv := httptest.NewServer(mailevents.Handler(db, mailevents.Options{PublicKey: pk}))
	defer srv.Close()

	send := func(body string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+mailevents.Path, bytes.NewBufferString(body))
		require.NoError(t, err)
		req.Header = signed(t, key, body)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// SendGrid posts the batch again when it missed the answer; later batches
	// may repeat events too.
	require.Equal(t, http.StatusNoContent, send(batch))
	require.Equal(t, http.StatusNoContent, send(batch))
	require.Equal(t, http.StatusNoContent, send(`[{"event":"open","timestamp":1764234100,"outbox_key":"impago-F-1/run-1/aviso_1/email"},
		{"event":"open","timestamp":1764234100,"outbox_key":"impago-F-1/run-1/aviso_1/email"}]`))
	// A forged event (signed by someone else) is not stored.
	forged := `[{"event":"processed","timestamp":1764234200,"sg_event_id":"forged","outbox_key":"impago-F-2/run-1/aviso_1/email"}]`
	other, _ := newKey(t)
	req, err := http.NewRequest(http.MethodPost, srv.URL+mailevents.Path, bytes.NewBufferString(forged))
	require.NoError(t, err)
	req.Header = signed(t, other, forged)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	var n, attempt int
	var kinds []string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*), array_agg(event ORDER BY id), max(attempt) FROM mail_events`).Scan(&n, &kinds, &attempt))
	require.Equal(t, 3, n, "processed, delivered and one open")
	require.Equal(t, []string{"processed", "delivered", "open"}, kinds)
	require.Equal(t, 2, attempt)
	stored, err := db.RecordMailEvents(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, stored)
}
