// Package mailevents receives SendGrid's Event Webhook: the events SendGrid
// reports of each e-mail it was given (processed, delivered, dropped, bounce,
// open...), posted in batches, each carrying the custom arguments the e-mail
// was sent with (outbox_key, outbox_attempt). They are stored once each; the
// delivery of e-mails (activities.DeliverNotice) reads them to settle an e-mail
// whose sending attempt was cut short: SendGrid either got it, and says so, or
// never saw it, and it may be sent again.
//
// The worker serves the receiver when IMPAGOS_MAIL_EVENTS_ADDR is set
// (e.g. ":8090"); SendGrid is given the public URL that reaches that address
// with the path /sendgrid/events (Settings → Mail Settings → Event Webhook).
// Requests must be signed (Signed Event Webhook Requests): the verification
// key SendGrid shows there comes from IMPAGOS_SENDGRID_WEBHOOK_KEY, or from the
// file IMPAGOS_SENDGRID_WEBHOOK_KEY_FILE names. Only with
// IMPAGOS_MAIL_EVENTS_UNSIGNED=1 are unsigned requests taken, for a local stub.
//
// A batch is answered 2xx once every event of it is stored; a database that is
// away gets a 503, and SendGrid posts the batch again later.
//
// IMPAGOS_MAIL_CONFIRM_GRACE (a Go duration, default 30m: see
// activities.DefaultConfirmGrace) is how long an e-mail whose sending attempt
// was cut short waits for its event before it is taken as never sent. It is read
// by every worker, whether or not it serves the receiver.
//
// IMPAGOS_MAIL_EVENTS_KEEP (default 180d; days as "90d" or a Go duration, at
// least 2d) is how long events are kept: the worker that receives them deletes
// older ones every hour, except those of an e-mail still 'sending', which may
// yet settle it. A certified e-mail's evidence is kept with the e-mail, not here.
package mailevents

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/elega/impagos/internal/httpserve"
)

// Names of the variables that configure the receiver.
const (
	EnvAddr     = "IMPAGOS_MAIL_EVENTS_ADDR"
	EnvKey      = "IMPAGOS_SENDGRID_WEBHOOK_KEY"
	EnvUnsigned = "IMPAGOS_MAIL_EVENTS_UNSIGNED"
	EnvGrace    = "IMPAGOS_MAIL_CONFIRM_GRACE"
	EnvKeep     = "IMPAGOS_MAIL_EVENTS_KEEP"
)

// DefaultKeep is how long events are kept when IMPAGOS_MAIL_EVENTS_KEEP is not
// set; MinKeep is the least it may be: delivery looks at the day before a claim
// to tell whether events come through at all.
const (
	DefaultKeep = 180 * 24 * time.Hour
	MinKeep     = 2 * 24 * time.Hour
)

// KeepFromEnv reads IMPAGOS_MAIL_EVENTS_KEEP: whole days ("90d") or a Go
// duration ("2160h"); DefaultKeep when it is not set.
func KeepFromEnv() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(EnvKeep))
	if v == "" {
		return DefaultKeep, nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil && n > 0 && n <= 100*366 {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < MinKeep {
		return 0, fmt.Errorf("%s=%q: want days such as 180d (at least 2d) or a Go duration of at least 48h", EnvKeep, v)
	}
	return d, nil
}

// Pruner deletes events received longer than keep ago, except those of an
// e-mail still 'sending', and says how many it deleted; internal/store
// implements it.
type Pruner interface {
	PruneMailEvents(ctx context.Context, keep time.Duration) (int64, error)
}

// Prune deletes old events now and then every interval until ctx is done. A
// failure (the database away) is logged and tried again at the next interval:
// nothing depends on old events being gone.
func Prune(ctx context.Context, p Pruner, keep, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := p.PruneMailEvents(ctx, keep)
		switch {
		case err != nil && ctx.Err() == nil:
			slog.Warn("mail events not pruned; trying again later", "err", err, "next_in", every)
		case n > 0:
			slog.Info("mail events pruned", "deleted", n, "kept_for", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// GraceFromEnv reads IMPAGOS_MAIL_CONFIRM_GRACE; zero when it is not set.
func GraceFromEnv() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv(EnvGrace))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30m", EnvGrace, v)
	}
	return d, nil
}

// Path is where SendGrid posts the events.
const Path = "/sendgrid/events"

// maxBody bounds a batch; SendGrid's are well under a megabyte.
const maxBody = 8 << 20

// Event is one event SendGrid reported.
type Event struct {
	ID        string // sg_event_id; a hash of the event when it has none
	Event     string // processed, delivered, dropped, bounce...
	OutboxKey string // custom argument outbox_key; empty for mail sent by others
	Attempt   *int32 // custom argument outbox_attempt, when present
	MessageID string // sg_message_id
	Email     string
	At        time.Time // when it happened at SendGrid
	Raw       json.RawMessage
}

// Recorder stores events, once each whatever the repeats; internal/store
// implements it.
type Recorder interface {
	RecordMailEvents(ctx context.Context, events []Event) (stored int, err error)
}

// Options say which requests the receiver takes.
type Options struct {
	// PublicKey verifies SendGrid's signature of each request.
	PublicKey *ecdsa.PublicKey
	// Unsigned takes requests without a signature check; for a local stub only.
	Unsigned bool
}

// OptionsFromEnv reads IMPAGOS_SENDGRID_WEBHOOK_KEY (or _FILE) and
// IMPAGOS_MAIL_EVENTS_UNSIGNED. It fails when neither a key nor unsigned
// requests are configured.
func OptionsFromEnv() (Options, error) {
	key := strings.TrimSpace(os.Getenv(EnvKey))
	if file := os.Getenv(EnvKey + "_FILE"); file != "" {
		if key != "" {
			return Options{}, fmt.Errorf("both %s and %s_FILE are set: keep one", EnvKey, EnvKey)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return Options{}, fmt.Errorf("%s_FILE: %w", EnvKey, err)
		}
		key = strings.TrimSpace(string(data))
	}
	var opts Options
	if v := strings.TrimSpace(os.Getenv(EnvUnsigned)); v != "" {
		unsigned, err := strconv.ParseBool(v)
		if err != nil {
			return Options{}, fmt.Errorf("%s=%q: want 1 or 0", EnvUnsigned, v)
		}
		opts.Unsigned = unsigned
	}
	if key != "" {
		pk, err := ParsePublicKey(key)
		if err != nil {
			return Options{}, fmt.Errorf("%s: %w", EnvKey, err)
		}
		opts.PublicKey = pk
	}
	if opts.PublicKey == nil && !opts.Unsigned {
		return Options{}, fmt.Errorf("%s is set but %s is not: SendGrid's events must be signed (or set %s=1 for a local stub)",
			EnvAddr, EnvKey, EnvUnsigned)
	}
	return opts, nil
}

// ParsePublicKey reads the verification key as SendGrid shows it: base64 of
// an ECDSA public key in DER (PKIX) form.
func ParsePublicKey(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("verification key is not base64: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("verification key: %w", err)
	}
	pk, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("verification key is a %T, not an ECDSA key", pub)
	}
	return pk, nil
}

// Handler receives SendGrid's event batches on POST Path: it checks the
// signature (unless opts.Unsigned), parses the batch and stores its events.
// A bad signature gets 403, a body that is not a batch of events 400, a store
// that fails 503 (SendGrid posts it again), a stored batch 204.
func Handler(rec Recorder, opts Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Path, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or cut short", http.StatusRequestEntityTooLarge)
			return
		}
		if !opts.Unsigned {
			if err := Verify(opts.PublicKey, body, r.Header); err != nil {
				slog.Warn("mail events: request refused", "remote", r.RemoteAddr, "reason", err)
				http.Error(w, "signature not valid", http.StatusForbidden)
				return
			}
		}
		events, err := Parse(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		stored, err := rec.RecordMailEvents(r.Context(), events)
		if err != nil {
			slog.Warn("mail events: not stored; SendGrid will post them again", "events", len(events), "err", err)
			http.Error(w, "events not stored, try again", http.StatusServiceUnavailable)
			return
		}
		slog.Debug("mail events stored", "events", len(events), "new", stored)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// ErrSignature is wrapped by Verify's errors.
var ErrSignature = errors.New("SendGrid signature")

// Verify checks SendGrid's ECDSA signature of a request: its signature and
// timestamp headers over the exact body. A replayed request passes, but its
// events are stored once only, so it changes nothing.
func Verify(pk *ecdsa.PublicKey, body []byte, h http.Header) error {
	if pk == nil {
		return fmt.Errorf("%w: no verification key", ErrSignature)
	}
	sig := h.Get(eventwebhook.VerificationHTTPHeader)
	ts := h.Get(eventwebhook.TimestampHTTPHeader)
	if sig == "" || ts == "" {
		return fmt.Errorf("%w: missing %s or %s header", ErrSignature, eventwebhook.VerificationHTTPHeader, eventwebhook.TimestampHTTPHeader)
	}
	ok, err := eventwebhook.VerifySignature(pk, body, sig, ts)
	if err != nil {
		return fmt.Errorf("%w: malformed: %v", ErrSignature, err)
	}
	if !ok {
		return fmt.Errorf("%w: does not match", ErrSignature)
	}
	return nil
}

// Sign signs a batch as SendGrid does, for a stand-in of SendGrid: it returns
// the signature and timestamp headers to send with body.
func Sign(key *ecdsa.PrivateKey, body []byte, at time.Time) (http.Header, error) {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := sha256.New()
	h.Write([]byte(ts))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	out := http.Header{}
	out.Set(eventwebhook.VerificationHTTPHeader, base64.StdEncoding.EncodeToString(sig))
	out.Set(eventwebhook.TimestampHTTPHeader, ts)
	return out, nil
}

// Parse reads a batch: a JSON array of events, each an object with at least
// "event" and "timestamp" (Unix seconds); custom arguments are top-level
// fields of it.
func Parse(body []byte) ([]Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("not a batch of events: %w", err)
	}
	out := make([]Event, 0, len(raw))
	for i, r := range raw {
		var f struct {
			Event     string          `json:"event"`
			Timestamp json.Number     `json:"timestamp"`
			EventID   string          `json:"sg_event_id"`
			MessageID string          `json:"sg_message_id"`
			Email     string          `json:"email"`
			OutboxKey json.RawMessage `json:"outbox_key"`
			Attempt   json.RawMessage `json:"outbox_attempt"`
		}
		if err := json.Unmarshal(r, &f); err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		if f.Event == "" {
			return nil, fmt.Errorf("event %d: no event name", i+1)
		}
		secs, err := f.Timestamp.Int64()
		if err != nil {
			return nil, fmt.Errorf("event %d: timestamp %q: %w", i+1, f.Timestamp, err)
		}
		e := Event{ID: f.EventID, Event: f.Event, MessageID: f.MessageID, Email: f.Email,
			At: time.Unix(secs, 0).UTC(), Raw: r, OutboxKey: text(f.OutboxKey)}
		if e.ID == "" {
			sum := sha256.Sum256(r)
			e.ID = "sha256:" + hex.EncodeToString(sum[:])
		}
		if a := text(f.Attempt); a != "" {
			n, err := strconv.ParseInt(a, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("event %d: outbox_attempt %q: %w", i+1, a, err)
			}
			n32 := int32(n)
			e.Attempt = &n32
		}
		out = append(out, e)
	}
	return out, nil
}

// text reads a custom argument: SendGrid sends them as strings, but a number
// is taken too.
func text(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// Serve serves h on ln until ctx is done, then shuts down (see httpserve).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	return httpserve.Serve(ctx, "mail events receiver", ln, h)
}
