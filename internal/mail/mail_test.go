package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const testKey = "SG.test-key-never-printed"

// v3Payload is the part of SendGrid's v3 mail/send body the tests check.
type v3Payload struct {
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
	} `json:"personalizations"`
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	ReplyTo *struct {
		Email string `json:"email"`
	} `json:"reply_to"`
	Subject string `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	Attachments []struct {
		Content     string `json:"content"`
		Type        string `json:"type"`
		Filename    string `json:"filename"`
		Disposition string `json:"disposition"`
	} `json:"attachments"`
	CustomArgs map[string]string `json:"custom_args"`
	Categories []string          `json:"categories"`
}

// reply is one canned answer of the stub.
type reply struct {
	status int
	body   string
	id     string
}

// stub is a local SendGrid v3 API that checks each request and answers the
// replies in turn.
type stub struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	got     []v3Payload
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := s.t
	if r.Method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.Method)
	}
	if r.URL.Path != "/v3/mail/send" {
		t.Errorf("path = %s, want /v3/mail/send", r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q, want the Bearer key", got)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	var p v3Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Errorf("body is not JSON: %v\n%s", err, raw)
	}

	s.mu.Lock()
	s.got = append(s.got, p)
	var rep reply
	if len(s.replies) == 0 {
		t.Errorf("unexpected request %d", len(s.got))
		rep = reply{status: http.StatusInternalServerError}
	} else {
		rep, s.replies = s.replies[0], s.replies[1:]
	}
	s.mu.Unlock()

	if rep.id != "" {
		w.Header().Set("X-Message-Id", rep.id)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (s *stub) requests() []v3Payload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]v3Payload(nil), s.got...)
}

func newStub(t *testing.T, replies ...reply) (*stub, *httptest.Server) {
	t.Helper()
	s := &stub{t: t, replies: replies}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

func testConfig(host string) Config {
	return Config{
		APIKey:   testKey,
		Host:     host,
		From:     "cobros@elega.example",
		FromName: "Elega Energía — Cobros",
		ReplyTo:  "atencion@elega.example",
	}
}

// pdfBytes is not valid UTF-8 on purpose: the attachment must travel byte for byte.
var pdfBytes = []byte("%PDF-1.3\n\x00\x80\xff\xfe binary € tail\n%%EOF\n")

func testMessage() Message {
	return Message{
		To:      "compras@talleres-nunez.example",
		ToName:  "Talleres Núñez, S.L.",
		Subject: "Aviso de suspensión del suministro eléctrico",
		Text:    "Estimado/a cliente:\n\nLe adjuntamos la carta.\n\n  Factura: F2026-0007\n  Importe: 1.234,56 €\n",
		Attachments: []Attachment{
			{Filename: "carta-corte-F2026-0007.pdf", ContentType: "application/pdf", Content: pdfBytes},
			{Filename: "detalle.txt", Content: []byte("línea 1\n")},
		},
		CustomArgs: map[string]string{"outbox_id": "42", "case": "impago-F2026-0007"},
		Categories: []string{"carta_corte"},
	}
}

func checkPayload(t *testing.T, p v3Payload, m Message) {
	t.Helper()
	if len(p.Personalizations) != 1 || len(p.Personalizations[0].To) != 1 {
		t.Fatalf("personalizations = %+v, want one with one recipient", p.Personalizations)
	}
	to := p.Personalizations[0].To[0]
	if to.Email != m.To || to.Name != m.ToName {
		t.Errorf("to = %+v, want %s <%s>", to, m.ToName, m.To)
	}
	if p.From.Email != "cobros@elega.example" || p.From.Name != "Elega Energía — Cobros" {
		t.Errorf("from = %+v", p.From)
	}
	if p.ReplyTo == nil || p.ReplyTo.Email != "atencion@elega.example" {
		t.Errorf("reply_to = %+v, want atencion@elega.example", p.ReplyTo)
	}
	if p.Subject != m.Subject {
		t.Errorf("subject = %q, want %q", p.Subject, m.Subject)
	}
	if len(p.Content) != 2 {
		t.Fatalf("content has %d parts, want text/plain and text/html", len(p.Content))
	}
	if p.Content[0].Type != "text/plain" || p.Content[0].Value != m.Text {
		t.Errorf("content[0] = %+v, want text/plain with the text", p.Content[0])
	}
	if p.Content[1].Type != "text/html" || !strings.Contains(p.Content[1].Value, "<table") ||
		!strings.Contains(p.Content[1].Value, "F2026-0007") {
		t.Errorf("content[1] = %q, want text/html derived from the text", p.Content[1])
	}
	if len(p.Attachments) != len(m.Attachments) {
		t.Fatalf("attachments = %d, want %d", len(p.Attachments), len(m.Attachments))
	}
	// The second type is guessed from ".txt"; the system's MIME table may add a charset.
	wantTypes := []string{"application/pdf", "text/plain"}
	for i, a := range p.Attachments {
		got, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			t.Errorf("attachment %d content is not base64: %v", i, err)
		}
		if !bytes.Equal(got, m.Attachments[i].Content) {
			t.Errorf("attachment %d bytes = %q, want %q", i, got, m.Attachments[i].Content)
		}
		if a.Filename != m.Attachments[i].Filename || !strings.HasPrefix(a.Type, wantTypes[i]) || a.Disposition != "attachment" {
			t.Errorf("attachment %d = %s %s %s", i, a.Filename, a.Type, a.Disposition)
		}
	}
	if len(p.CustomArgs) != 2 || p.CustomArgs["outbox_id"] != "42" || p.CustomArgs["case"] != "impago-F2026-0007" {
		t.Errorf("custom_args = %v", p.CustomArgs)
	}
	if len(p.Categories) != 1 || p.Categories[0] != "carta_corte" {
		t.Errorf("categories = %v", p.Categories)
	}
}

func TestSendAnswersInTurn(t *testing.T) {
	const badRequest = `{"errors":[{"message":"The from email does not contain a valid address.","field":"from.email","help":null}]}`
	st, srv := newStub(t,
		reply{status: http.StatusAccepted, id: "msg-abc123"},
		reply{status: http.StatusTooManyRequests, body: `{"errors":[{"message":"too many requests"}]}`},
		reply{status: http.StatusInternalServerError, body: "upstream failure"},
		reply{status: http.StatusBadRequest, body: badRequest},
	)
	s := NewSender(testConfig(srv.URL))
	if !s.Enabled() {
		t.Fatal("sender with a key is disabled")
	}
	if s.Endpoint() != srv.URL+"/v3/mail/send" {
		t.Errorf("Endpoint() = %s", s.Endpoint())
	}
	m := testMessage()
	ctx := context.Background()

	id, err := s.Send(ctx, m)
	if err != nil || id != "msg-abc123" {
		t.Fatalf("202: Send = %q, %v; want msg-abc123, nil", id, err)
	}

	for _, status := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		id, err := s.Send(ctx, m)
		var se *SendError
		if !errors.As(err, &se) {
			t.Fatalf("%d: Send = %q, %v; want a *SendError", status, id, err)
		}
		if se.Status != status || !se.Retryable || IsPermanent(err) || id != "" {
			t.Errorf("%d: got status %d retryable %v permanent %v id %q", status, se.Status, se.Retryable, IsPermanent(err), id)
		}
	}

	_, err = s.Send(ctx, m)
	var se *SendError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.Retryable || !IsPermanent(err) {
		t.Fatalf("400: err = %#v, want a permanent *SendError", err)
	}
	if !strings.Contains(err.Error(), "The from email does not contain a valid address.") ||
		!strings.Contains(err.Error(), "from.email") {
		t.Errorf("400: error %q does not carry SendGrid's message", err)
	}
	if se.Body != badRequest {
		t.Errorf("400: Body = %q, want the response body", se.Body)
	}

	got := st.requests()
	if len(got) != 4 {
		t.Fatalf("stub saw %d requests, want 4 (one per Send, no hidden retries)", len(got))
	}
	for _, p := range got {
		checkPayload(t, p, m)
	}
}

func TestErrorsNeverCarryTheKey(t *testing.T) {
	// A hostile or buggy server echoing the Authorization header.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"message":"bad key `+r.Header.Get("Authorization")+`"}]}`)
	}))
	defer echo.Close()
	// A server that is gone: a transport error.
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	for _, host := range []string{echo.URL, goneURL} {
		_, err := NewSender(testConfig(host)).Send(context.Background(), testMessage())
		if err == nil {
			t.Fatalf("%s: Send succeeded", host)
		}
		var se *SendError
		if !errors.As(err, &se) {
			t.Fatalf("%s: err = %v, want a *SendError", host, err)
		}
		for _, text := range []string{err.Error(), se.Body, strings.ReplaceAll(err.Error(), "\n", "")} {
			if strings.Contains(text, testKey) {
				t.Errorf("%s: error text carries the API key: %s", host, text)
			}
		}
	}
}

func TestTransportErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewSender(testConfig(url)).Send(context.Background(), testMessage())
	var se *SendError
	if !errors.As(err, &se) || se.Status != 0 || !se.Retryable || IsPermanent(err) {
		t.Fatalf("err = %#v, want a retryable *SendError without status", err)
	}
}

func TestDisabledWithoutKey(t *testing.T) {
	s := NewSender(Config{From: "cobros@elega.example"})
	if s.Enabled() {
		t.Fatal("Enabled() = true without an API key")
	}
	_, err := s.Send(context.Background(), testMessage())
	if !errors.Is(err, ErrDisabled) || !IsPermanent(err) {
		t.Fatalf("Send = %v, want ErrDisabled (permanent)", err)
	}
}

func TestInvalidMessagesArePermanent(t *testing.T) {
	_, srv := newStub(t) // any request is an error
	s := NewSender(testConfig(srv.URL))
	tests := []struct {
		name string
		edit func(*Message)
	}{
		{"no recipient", func(m *Message) { m.To = "" }},
		{"bad recipient", func(m *Message) { m.To = "not an address" }},
		{"no subject", func(m *Message) { m.Subject = " " }},
		{"no text", func(m *Message) { m.Text = "" }},
		{"attachment without name", func(m *Message) { m.Attachments[0].Filename = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage()
			tt.edit(&m)
			_, err := s.Send(context.Background(), m)
			if !errors.Is(err, ErrInvalidMessage) || !IsPermanent(err) {
				t.Fatalf("Send = %v, want a permanent ErrInvalidMessage", err)
			}
		})
	}
}

func TestBadHostIsPermanent(t *testing.T) {
	for _, host := range []string{"127.0.0.1:8089", "ftp://example", "http://"} {
		_, err := NewSender(testConfig(host)).Send(context.Background(), testMessage())
		if err == nil || !IsPermanent(err) {
			t.Errorf("host %q: Send = %v, want a permanent error", host, err)
		}
	}
}

// recorder answers 202 to anything and remembers the URLs it was asked for,
// so host selection can be checked without leaving the machine.
type recorder struct{ urls []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{
		StatusCode: http.StatusAccepted,
		Header:     http.Header{"X-Message-Id": {"rec-1"}},
		Body:       io.NopCloser(strings.NewReader("")),
		Request:    req,
	}, nil
}

func TestHostSelection(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"global by default", Config{APIKey: testKey}, "https://api.sendgrid.com/v3/mail/send"},
		{"EU data residency", Config{APIKey: testKey, EU: true}, "https://api.eu.sendgrid.com/v3/mail/send"},
		{"host override", Config{APIKey: testKey, Host: "http://127.0.0.1:8089/"}, "http://127.0.0.1:8089/v3/mail/send"},
		{"override wins over EU", Config{APIKey: testKey, Host: "http://127.0.0.1:8089", EU: true}, "http://127.0.0.1:8089/v3/mail/send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSender(tt.cfg)
			if s.Endpoint() != tt.want {
				t.Errorf("Endpoint() = %s, want %s", s.Endpoint(), tt.want)
			}
			rec := &recorder{}
			s.client.HTTPClient.Transport = rec
			id, err := s.Send(context.Background(), testMessage())
			if err != nil || id != "rec-1" {
				t.Fatalf("Send = %q, %v", id, err)
			}
			if len(rec.urls) != 1 || rec.urls[0] != tt.want {
				t.Errorf("posted to %v, want %s", rec.urls, tt.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, v := range []string{"SENDGRID_API_KEY", "SENDGRID_HOST", "SENDGRID_EU", "MAIL_FROM", "MAIL_FROM_NAME", "MAIL_REPLY_TO"} {
		t.Setenv(v, "")
	}
	got := ConfigFromEnv()
	want := Config{From: "cobros@elega.example", FromName: "Elega Energía — Cobros"}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if NewSender(got).Enabled() {
		t.Error("Enabled() = true with no SENDGRID_API_KEY")
	}

	t.Setenv("SENDGRID_API_KEY", " "+testKey+"\n")
	t.Setenv("SENDGRID_HOST", "http://127.0.0.1:8089")
	t.Setenv("SENDGRID_EU", "1")
	t.Setenv("MAIL_FROM", "avisos@elega.example")
	t.Setenv("MAIL_FROM_NAME", "Elega Avisos")
	t.Setenv("MAIL_REPLY_TO", "atencion@elega.example")
	got = ConfigFromEnv()
	want = Config{
		APIKey: testKey, Host: "http://127.0.0.1:8089", EU: true,
		From: "avisos@elega.example", FromName: "Elega Avisos", ReplyTo: "atencion@elega.example",
	}
	if got != want {
		t.Errorf("from env = %+v, want %+v", got, want)
	}

	for value, eu := range map[string]bool{"true": true, "0": false, "no": false, "": false} {
		t.Setenv("SENDGRID_EU", value)
		if got := ConfigFromEnv().EU; got != eu {
			t.Errorf("SENDGRID_EU=%q: EU = %v, want %v", value, got, eu)
		}
	}
}

func TestHTMLFromText(t *testing.T) {
	text := "Estimado/a <script>alert('x')</script> & Cía:\n" +
		"segunda línea\n" +
		"\n" +
		"  Factura: F2026-0001\n" +
		"  Importe pendiente: 1.234,56 €\n" +
		"\n" +
		"    total    84,37\n" +
		"      nota\n" +
		"\n\n" +
		"Atentamente,\r\nElega Energía\n"
	got := HTMLFromText(text)

	if strings.Contains(got, "<script>") || !strings.Contains(got, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Cía") {
		t.Errorf("script not escaped:\n%s", got)
	}
	if n := strings.Count(got, "<p "); n != 2 {
		t.Errorf("%d paragraphs, want 2:\n%s", n, got)
	}
	if !strings.Contains(got, "Cía:<br>\nsegunda línea</p>") {
		t.Errorf("line break inside a paragraph lost:\n%s", got)
	}
	if !strings.Contains(got, "Atentamente,<br>\nElega Energía</p>") {
		t.Errorf("CRLF paragraph not kept:\n%s", got)
	}
	for _, cell := range []string{">Factura</td>", ">F2026-0001</td>", ">Importe pendiente</td>", ">1.234,56 €</td>"} {
		if !strings.Contains(got, cell) {
			t.Errorf("table cell %q missing:\n%s", cell, got)
		}
	}
	if !strings.Contains(got, ">total    84,37\n  nota</pre>") {
		t.Errorf("indented block without labels should be <pre> less the shared indent:\n%s", got)
	}
	if !strings.HasPrefix(got, "<!DOCTYPE html>") || !strings.Contains(got, `<meta charset="utf-8">`) || !strings.HasSuffix(got, "</html>\n") {
		t.Errorf("layout missing:\n%s", got)
	}
}
