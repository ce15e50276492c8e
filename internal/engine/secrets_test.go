package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/codec"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/mail"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// TestSecretsStayOutOfLogsAndTemporal runs a business case from start to
// reconnection with every secret set to a recognisable value, the payload
// codec on and e-mail going to a local stand-in for SendGrid (which fails the
// first message, echoing the credentials it got, so the retry path logs too).
// Everything logged is captured; no secret may appear in it. The history, read
// by a client without the key, must hold the case's input encrypted, and the
// codec server must decode it.
func TestSecretsStayOutOfLogsAndTemporal(t *testing.T) {
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: run through make test (needs IMPAGOS_INTEGRATION=1, Temporal and Postgres)")
	}
	secrets := map[string]string{}
	secret := func(name, value string) string { secrets[name] = value; return value }

	key := make([]byte, codec.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	t.Setenv(codec.EnvKey, secret(codec.EnvKey, base64.StdEncoding.EncodeToString(key)))
	secrets[codec.EnvKey+" (hex)"] = hex.EncodeToString(key)
	t.Setenv(codec.EnvPreviousKeys, "")
	t.Setenv(codec.EnvAuthToken, secret(codec.EnvAuthToken, "codec-token-"+token(12)))

	sendgridKey := secret("SENDGRID_API_KEY", "SG.fake-"+token(11)+"."+token(21))
	stub := newSendGridStub(t, sendgridKey)
	t.Setenv("SENDGRID_API_KEY", sendgridKey)
	t.Setenv("SENDGRID_HOST", stub.URL)

	// The local Postgres trusts its clients: a password in the URL is accepted
	// and ignored. A URL that already has one keeps it, as a secret too.
	dbURL, err := url.Parse(engine.FromEnv().DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := dbURL.User.Password(); ok {
		secret("database password", pw)
	} else if dbURL.User != nil {
		dbURL.User = url.UserPassword(dbURL.User.Username(), secret("database password", "pw-"+token(10)))
		t.Setenv("DATABASE_URL", dbURL.String())
	}

	// An API key rides on every call to Temporal; the dev server ignores it.
	if k := os.Getenv("TEMPORAL_API_KEY"); k != "" {
		secret("TEMPORAL_API_KEY", k)
	} else if host, _, _ := net.SplitHostPort(os.Getenv("TEMPORAL_ADDRESS")); host == "" || host == "127.0.0.1" || host == "localhost" {
		t.Setenv("TEMPORAL_API_KEY", secret("TEMPORAL_API_KEY", "tmprl-fake-"+token(16)))
		t.Setenv("TEMPORAL_TLS", "false")
	}

	logs := captureLogs(t)
	s := newStack(t) // dials Temporal and opens the database with the settings above
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(ctx, s.c, s.queue, &activities.Activities{
			Store: s.db, Retailer: notice.DefaultRetailer, Mailer: mail.NewSender(mail.ConfigFromEnv()),
			Distributor: s.dist.Folder, REECode: distributor.LocalREECode,
		})
	}()
	// The case is cut and reconnected: the test's distributor answers.
	s.runDistributor()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	invoice := "S-" + token(5)
	customer := "Zoraida Secreta " + token(3)
	email := "zoraida." + token(3) + "@example.com"
	supply := newCups(t)
	if err := s.db.UpsertContract(s.ctx, activities.Contract{
		Customer: customer, TaxID: "B12345674", Cups: supply, Segment: activities.SegmentBusiness, Phone: "+34600000000", Email: email,
	}); err != nil {
		t.Fatal(err)
	}
	in := workflows.Input{Invoice: invoice, Customer: customer, Cups: supply, AmountCents: 4321,
		ReturnedAt: time.Now(), Policy: fastPolicy()}
	if out, err := cases.Start(s.ctx, s.c, s.queue, in, false); err != nil || out != cases.Started {
		t.Fatalf("start %s: %v %v", invoice, out, err)
	}
	// The state query answers through the codec, as the starter's status does.
	if st := s.review(invoice); st.Customer != customer {
		t.Fatalf("state query answered customer %q", st.Customer)
	}
	s.approveUntilCut(invoice)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 4321, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StageReconnected {
		t.Fatalf("result %+v", r)
	}
	if sent, refused := stub.counts(); sent == 0 || refused == 0 {
		t.Fatalf("SendGrid stand-in: %d accepted, %d refused; want both", sent, refused)
	}

	// Nothing logged shows a secret; the e-mail failure was logged, scrubbed.
	text := logs.String()
	if !strings.Contains(text, "sendgrid: 500") {
		t.Errorf("the refused e-mail left no trace in the logs; the capture may be broken:\n%s", mask(tail(text, 4000), secrets))
	}
	for name, value := range secrets {
		if strings.Contains(text, value) {
			t.Errorf("%s appears in the logs:\n%s", name, mask(around(text, value), secrets))
		}
	}

	// What Temporal stores, read without the key.
	history := plainHistory(t, s.ctx, invoice)
	started := history[0].GetWorkflowExecutionStartedEventAttributes()
	if started == nil {
		t.Fatalf("first event %v", history[0].GetEventType())
	}
	input := started.GetInput().GetPayloads()
	if len(input) != 1 {
		t.Fatalf("started event input %v", input)
	}
	if enc := string(input[0].GetMetadata()[converter.MetadataEncoding]); enc != codec.Encoding {
		t.Fatalf("input stored with encoding %q, want %q", enc, codec.Encoding)
	}
	if id := string(input[0].GetMetadata()[codec.MetadataKeyID]); id != codec.KeyID(key) {
		t.Fatalf("input names key id %q, want %q", id, codec.KeyID(key))
	}
	if enc := string(history[0].GetUserMetadata().GetSummary().GetMetadata()[converter.MetadataEncoding]); enc != codec.Encoding {
		t.Fatalf("the case's summary is stored with encoding %q", enc)
	}
	// Search attributes are the documented exception: the supervisor filters on them.
	// The case sets them in its first workflow task.
	var customerSA *commonpb.Payload
	for _, e := range history {
		if sa := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["Customer"]; sa != nil {
			customerSA = sa
			break
		}
	}
	if !bytes.Contains(customerSA.GetData(), []byte(customer)) {
		t.Fatalf("Customer search attribute %v: expected in clear", customerSA)
	}
	for _, e := range history {
		clean := withoutSearchAttributes(e)
		data, err := protojson.Marshal(clean)
		if err != nil {
			t.Fatal(err)
		}
		wire, _ := proto.Marshal(clean)
		for _, personal := range []string{customer, email} {
			if bytes.Contains(data, []byte(personal)) || bytes.Contains(wire, []byte(personal)) {
				t.Errorf("event %d (%s) holds %q in clear: %s", e.GetEventId(), e.GetEventType(), personal, data)
			}
		}
		for name, value := range secrets {
			if bytes.Contains(data, []byte(value)) {
				t.Errorf("event %d (%s) holds %s", e.GetEventId(), e.GetEventType(), name)
			}
		}
	}

	// The codec server gives supervisors the clear text back, with the token only.
	pc, _, err := codec.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := codec.HandlerOptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.Handler(pc, opts))
	defer srv.Close()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: input})
	if err != nil {
		t.Fatal(err)
	}
	decode := func(auth string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Namespace", os.Getenv("TEMPORAL_NAMESPACE"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if code, _ := decode(""); code != http.StatusUnauthorized {
		t.Fatalf("decode without the token: status %d", code)
	}
	code, out := decode("Bearer " + secrets[codec.EnvAuthToken])
	if code != http.StatusOK {
		t.Fatalf("decode: status %d: %s", code, out)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal(out, &decoded); err != nil || len(decoded.Payloads) != 1 {
		t.Fatalf("decode answered %s: %v", out, err)
	}
	var back workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayload(decoded.Payloads[0], &back); err != nil {
		t.Fatal(err)
	}
	if back.Invoice != invoice || back.Customer != customer || back.AmountCents != 4321 {
		t.Fatalf("decoded input %+v", back)
	}
}

// TestSecretKeyMismatchLeavesCasesWaiting checks that a worker with another
// payload key, or with none, does not fail an encrypted case: its workflow
// tasks fail and are retried, and the case goes on once a worker with the key
// takes it.
func TestSecretKeyMismatchLeavesCasesWaiting(t *testing.T) {
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: run through make test (needs IMPAGOS_INTEGRATION=1, Temporal and Postgres)")
	}
	key := randomKey(t)
	t.Setenv(codec.EnvKey, key)
	t.Setenv(codec.EnvKey+"_FILE", "")
	t.Setenv(codec.EnvPreviousKeys, "")
	s := newStack(t)
	invoice := s.newCase(activities.SegmentBusiness, newCups(t), 1500) // no worker yet

	attempts := 0
	for _, other := range []string{randomKey(t), ""} {
		which := map[bool]string{true: "another key", false: "no key"}[other != ""]
		t.Setenv(codec.EnvKey, other)
		c, err := engine.Dial(s.ctx)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(s.ctx)
		done := make(chan error, 1)
		go func() {
			done <- engine.RunWorker(ctx, c, s.queue, &activities.Activities{Store: s.db, Retailer: notice.DefaultRetailer})
		}()
		deadline := time.Now().Add(time.Minute)
		for {
			desc, err := s.c.DescribeWorkflow(s.ctx, workflows.WorkflowID(invoice), "")
			if err != nil {
				t.Fatal(err)
			}
			d := desc.RawResponse
			if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Fatalf("a worker with %s left the case %s", which, st)
			}
			if a := int(d.GetPendingWorkflowTask().GetAttempt()); a > attempts+1 {
				attempts = a
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed workflow task after a minute with %s", which)
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	t.Setenv(codec.EnvKey, key)
	s.runWorker() // s.c has the key
	s.waitStage(invoice, workflows.StageCutScheduled)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 1500, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StagePaid {
		t.Fatalf("result %+v", r)
	}
}

func randomKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, codec.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// TestSecretDatabasePasswordNotInConnectionErrors checks what the worker and
// the starter print when the database cannot be reached or the URL is wrong.
func TestSecretDatabasePasswordNotInConnectionErrors(t *testing.T) {
	const pw = "pw-N0t-In-Logs"
	for _, u := range []string{
		"postgres://impagos:" + pw + "@127.0.0.1:1/impagos?sslmode=disable&connect_timeout=2",
		"postgres://impagos:" + pw + "@127.0.0.1:bad/impagos",
		"postgres://impagos:" + pw + "@127.0.0.1:1/impagos?sslmode=nonsense",
		"postgres://impagos:" + pw + "@[::1/impagos",
		"postgresql://impagos@127.0.0.1:1/impagos?password=" + pw + "&connect_timeout=abc",
		"host=127.0.0.1 port=1 user=impagos password=" + pw + " dbname=impagos sslmode=disable connect_timeout=2",
		"host=127.0.0.1 port=x user=impagos password='" + pw + "'",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := store.Open(ctx, u)
		cancel()
		if err == nil {
			t.Fatalf("opened %s", strings.ReplaceAll(u, pw, "***"))
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("error shows the password: %s", strings.ReplaceAll(err.Error(), pw, "<PASSWORD>"))
		}
	}
}

// captureLogs sends everything logged through slog (and the log package) to a
// buffer until the test ends. engine.Dial hands slog.Default to the SDK, so
// the SDK's own logs land there too.
func captureLogs(t *testing.T) *lockedBuffer {
	t.Helper()
	b := &lockedBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return b
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sendGridStub stands in for SendGrid's mail/send: it refuses the first message
// with a 500 whose body echoes the Authorization header it received, and
// accepts every later one that carries the expected key.
type sendGridStub struct {
	*httptest.Server
	mu            sync.Mutex
	sent, refused int
	wantAuth      string
}

func newSendGridStub(t *testing.T, apiKey string) *sendGridStub {
	t.Helper()
	s := &sendGridStub{wantAuth: "Bearer " + apiKey}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		auth := r.Header.Get("Authorization")
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case r.URL.Path != "/v3/mail/send" || auth != s.wantAuth:
			http.Error(w, `{"errors":[{"message":"bad credentials"}]}`, http.StatusUnauthorized)
		case s.refused == 0:
			s.refused++
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"errors":[{"message":"internal error handling `+auth+`"}]}`)
		default:
			s.sent++
			w.Header().Set("X-Message-Id", "stub-"+token(4))
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sendGridStub) counts() (sent, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.refused
}

// plainHistory reads the case's history with a client that has no payload
// key, as anyone with access to the Temporal database would see it.
func plainHistory(t *testing.T, ctx context.Context, invoice string) []*historypb.HistoryEvent {
	t.Helper()
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = tlog.NewStructuredLogger(slog.Default())
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, workflows.WorkflowID(invoice), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) == 0 {
		t.Fatalf("no history for %s", invoice)
	}
	return events
}

// withoutSearchAttributes returns a copy of the event with its search
// attributes removed: they stay in clear by design.
func withoutSearchAttributes(e *historypb.HistoryEvent) *historypb.HistoryEvent {
	c := proto.Clone(e).(*historypb.HistoryEvent)
	if a := c.GetWorkflowExecutionStartedEventAttributes(); a != nil {
		a.SearchAttributes = nil
	}
	if a := c.GetUpsertWorkflowSearchAttributesEventAttributes(); a != nil {
		a.SearchAttributes = nil
	}
	return c
}

// around shows a secret's surroundings in a text.
func around(text, secret string) string {
	i := strings.Index(text, secret)
	from, to := max(0, i-200), min(len(text), i+len(secret)+200)
	return text[from:to]
}

// mask hides the secrets in a text about to be shown in a failure.
func mask(text string, secrets map[string]string) string {
	for name, value := range secrets {
		text = strings.ReplaceAll(text, value, "<"+name+">")
	}
	return text
}

func tail(text string, n int) string {
	if len(text) <= n {
		return text
	}
	return text[len(text)-n:]
}
