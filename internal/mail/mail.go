// Package mail sends e-mail through SendGrid's v3 mail/send API.
//
// The sender is configured from the environment (ConfigFromEnv):
//
//	SENDGRID_API_KEY  API key; without it Enabled is false and nothing is sent,
//	                  so the local stack works offline
//	SENDGRID_HOST     overrides the API host, scheme included, e.g. a local stub
//	                  "http://127.0.0.1:8089"; it wins over SENDGRID_EU
//	SENDGRID_EU       "1" or "true": send through the EU data residency host
//	                  (https://api.eu.sendgrid.com)
//	MAIL_FROM         sender address (default "cobros@elega.example")
//	MAIL_FROM_NAME    sender name (default "Elega Energía — Cobros")
//	MAIL_REPLY_TO     reply-to address (optional)
//
// Send reports failures as a *SendError whose Retryable field says whether
// trying again may help: 429, 5xx and transport errors are retryable, any
// other 4xx is permanent (IsPermanent). The API key only ever travels in the
// Authorization header; it is scrubbed from every error text.
package mail

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"
)

// Defaults for the sender when the environment does not say otherwise.
const (
	DefaultFrom     = "cobros@elega.example"
	DefaultFromName = "Elega Energía — Cobros"
)

// sendEndpoint is the path of SendGrid's v3 mail/send API.
const sendEndpoint = "/v3/mail/send"

// timeout bounds one call to SendGrid when the caller's context has no
// earlier deadline, so a stalled connection cannot hold an activity forever.
const timeout = 30 * time.Second

// Config is how the sender reaches SendGrid and who the mail comes from.
type Config struct {
	APIKey   string
	Host     string // API host override, scheme included; empty: SendGrid's (or EU's) host
	EU       bool   // EU data residency; ignored when Host is set
	From     string
	FromName string
	ReplyTo  string
}

// ConfigFromEnv reads the configuration documented in the package comment.
func ConfigFromEnv() Config {
	c := Config{
		APIKey:   env("SENDGRID_API_KEY"),
		Host:     env("SENDGRID_HOST"),
		From:     env("MAIL_FROM"),
		FromName: env("MAIL_FROM_NAME"),
		ReplyTo:  env("MAIL_REPLY_TO"),
	}
	c.EU, _ = strconv.ParseBool(env("SENDGRID_EU")) // anything unreadable means no
	if c.From == "" {
		c.From = DefaultFrom
	}
	if c.FromName == "" {
		c.FromName = DefaultFromName
	}
	return c
}

func env(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// Attachment is a file sent with a message.
type Attachment struct {
	Filename    string
	ContentType string // empty: guessed from the file name's extension
	Content     []byte
}

// Message is one e-mail to one recipient.
type Message struct {
	To, ToName string
	Subject    string
	// Text is required. Both content types are sent, text/plain first and then
	// text/html as SendGrid requires; an empty HTML is derived from Text with
	// HTMLFromText.
	Text, HTML  string
	Attachments []Attachment
	// CustomArgs travel with the message (e.g. the outbox key) so events can be matched later.
	CustomArgs map[string]string
	Categories []string
}

// Sender posts messages to SendGrid. It is safe for concurrent use.
type Sender struct {
	cfg     Config
	request rest.Request // method, URL and headers; the body is set per message
	client  *rest.Client
	cfgErr  error // wraps errConfig: every Send fails permanently
}

// errConfig marks a configuration no retry can fix.
var errConfig = errors.New("mail configuration")

// NewSender prepares a sender. Without an API key it is disabled.
func NewSender(cfg Config) *Sender {
	s := &Sender{cfg: cfg, client: &rest.Client{HTTPClient: &http.Client{}}}
	if cfg.From == "" {
		s.cfg.From = DefaultFrom
	}
	// The library builds the request: the Bearer header, its User-Agent, the
	// default host and the regional hosts it knows.
	host := strings.TrimRight(cfg.Host, "/")
	s.request = sendgrid.GetRequest(cfg.APIKey, sendEndpoint, host)
	s.request.Method = rest.Post
	switch {
	case host != "":
		if u, err := url.Parse(host); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			s.cfgErr = fmt.Errorf("%w: SENDGRID_HOST %q is not an http(s) URL", errConfig, cfg.Host)
		}
	case cfg.EU:
		r, err := sendgrid.SetDataResidency(s.request, "eu")
		if err != nil {
			s.cfgErr = fmt.Errorf("%w: EU data residency: %v", errConfig, err)
		} else {
			s.request = r
		}
	}
	return s
}

// Enabled reports whether the sender can send: false without an API key.
func (s *Sender) Enabled() bool { return s.cfg.APIKey != "" }

// Endpoint is the URL messages are posted to, for the worker's start-up log.
func (s *Sender) Endpoint() string { return s.request.BaseURL }

// ErrDisabled is returned by Send when there is no API key.
var ErrDisabled = errors.New("mail: no SENDGRID_API_KEY, e-mail is disabled")

// ErrInvalidMessage is wrapped by the errors Send returns for a message that
// SendGrid would reject anyway (no recipient, no subject, no text).
var ErrInvalidMessage = errors.New("invalid message")

// SendError is a failed call to SendGrid.
type SendError struct {
	Status    int    // HTTP status; 0 when no response arrived
	Body      string // the response body, or the transport error text; never the API key
	Retryable bool   // 429, 5xx and transport errors: trying again may succeed
	Err       error  // the transport error, if any
}

func (e *SendError) Error() string {
	if e.Status == 0 {
		return "sendgrid: no response: " + e.Body
	}
	msg := fmt.Sprintf("sendgrid: %d %s", e.Status, http.StatusText(e.Status))
	if detail := errorDetail(e.Body); detail != "" {
		msg += ": " + detail
	}
	return msg
}

func (e *SendError) Unwrap() error { return e.Err }

// IsPermanent reports whether trying again cannot help: SendGrid refused the
// message with a 4xx other than 429, the message is invalid, or the sender is
// disabled or misconfigured. Transport errors, 429 and 5xx are not permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrDisabled) || errors.Is(err, ErrInvalidMessage) || errors.Is(err, errConfig) {
		return true
	}
	var se *SendError
	if errors.As(err, &se) {
		return !se.Retryable
	}
	return false
}

// Send posts one message to SendGrid and returns the X-Message-Id it assigns.
// SendGrid accepts with 202; the id may be empty if the response lacks it.
//
// A transport error is retryable, but the request may have reached SendGrid
// before the connection failed: a caller that must not send twice records
// its attempt before calling again.
func (s *Sender) Send(ctx context.Context, m Message) (messageID string, err error) {
	if !s.Enabled() {
		return "", ErrDisabled
	}
	if s.cfgErr != nil {
		return "", s.cfgErr
	}
	body, err := s.payload(m)
	if err != nil {
		return "", err
	}
	req := s.request
	req.Body = body
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := s.client.SendWithContext(ctx, req)
	if err != nil {
		return "", &SendError{Body: s.redact(err.Error()), Retryable: true, Err: err}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return http.Header(resp.Headers).Get("X-Message-Id"), nil
	}
	return "", &SendError{
		Status:    resp.StatusCode,
		Body:      s.redact(truncate(resp.Body, 4096)),
		Retryable: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}
}

// payload builds the v3 JSON body with the library's helpers.
func (s *Sender) payload(m Message) ([]byte, error) {
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return nil, fmt.Errorf("recipient %q: %w", m.To, ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Subject) == "" {
		return nil, fmt.Errorf("message to %s has no subject: %w", m.To, ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, fmt.Errorf("message to %s has no text: %w", m.To, ErrInvalidMessage)
	}
	html := m.HTML
	if html == "" {
		html = HTMLFromText(m.Text)
	}

	v3 := sgmail.NewV3Mail()
	v3.SetFrom(sgmail.NewEmail(s.cfg.FromName, s.cfg.From))
	if s.cfg.ReplyTo != "" {
		v3.SetReplyTo(sgmail.NewEmail("", s.cfg.ReplyTo))
	}
	v3.Subject = m.Subject
	p := sgmail.NewPersonalization()
	p.AddTos(sgmail.NewEmail(m.ToName, m.To))
	v3.AddPersonalizations(p)
	v3.AddContent(sgmail.NewContent("text/plain", m.Text), sgmail.NewContent("text/html", html))
	for i, a := range m.Attachments {
		if a.Filename == "" {
			return nil, fmt.Errorf("attachment %d has no file name: %w", i+1, ErrInvalidMessage)
		}
		ct := a.ContentType
		if ct == "" {
			ct = mime.TypeByExtension(path.Ext(a.Filename))
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		v3.AddAttachment(sgmail.NewAttachment().
			SetFilename(a.Filename).
			SetType(ct).
			SetDisposition("attachment").
			SetContent(base64.StdEncoding.EncodeToString(a.Content)))
	}
	for k, v := range m.CustomArgs {
		v3.SetCustomArg(k, v) // a map: the JSON encoder sorts the keys
	}
	if len(m.Categories) > 0 {
		v3.AddCategories(m.Categories...)
	}
	return sgmail.GetRequestBody(v3), nil
}

// redact removes the API key from a text that may end up in a log.
func (s *Sender) redact(text string) string {
	if s.cfg.APIKey == "" {
		return text
	}
	return strings.ReplaceAll(text, s.cfg.APIKey, "[redacted]")
}

// errorDetail summarises SendGrid's error body
// {"errors":[{"message":"...","field":"..."}]}, or returns the raw text.
func errorDetail(body string) string {
	var parsed struct {
		Errors []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &parsed); err == nil && len(parsed.Errors) > 0 {
		parts := make([]string, 0, len(parsed.Errors))
		for _, e := range parsed.Errors {
			if e.Field != "" {
				parts = append(parts, e.Field+": "+e.Message)
			} else {
				parts = append(parts, e.Message)
			}
		}
		return strings.Join(parts, "; ")
	}
	return truncate(strings.TrimSpace(body), 300)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
