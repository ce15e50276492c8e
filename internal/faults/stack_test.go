package faults

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/elega/impagos/internal/mailevents"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// The services of one fault test. Each runs as a child process of the test
// with a parent-death signal, so a test that panics or times out leaves
// nothing running behind it.

const (
	namespace = "default"
	taskQueue = "impagos-faults"
	pgRole    = "impagos"
	pgDB      = "impagos"
	// mailKey is the API key the worker sends and the stub expects.
	mailKey = "fault-suite-key"
)

// requireFaults skips the test unless the fault suite was asked for.
func requireFaults(t *testing.T) {
	t.Helper()
	if os.Getenv("IMPAGOS_FAULTS") != "1" {
		t.Skip("fault suite: run through make test-faults (needs IMPAGOS_FAULTS=1; starts its own Temporal, Postgres and worker)")
	}
	if _, err := os.Stat(temporalBin()); err != nil {
		t.Skipf("fault suite: no Temporal CLI at bin/temporal (make up builds it): %v", err)
	}
	bin := pgBinDir()
	for _, p := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
			t.Skipf("fault suite: no PostgreSQL server binaries in %s (install postgresql or set PG_BIN): %v", bin, err)
		}
	}
}

// repoRoot is the module's root: tests run in internal/faults.
func repoRoot() string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return root
}

func temporalBin() string { return filepath.Join(repoRoot(), "bin", "temporal") }

// pgBinDir finds the PostgreSQL server binaries as .ci/stack does.
func pgBinDir() string {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return "/usr/lib/postgresql/15/bin"
}

// baseDir holds the data and logs of every fault test. A relative
// IMPAGOS_FAULTS_DIR is taken from the repository's root, as .ci/faults
// takes it: the tests run in internal/faults, the Temporal server in the
// root.
func baseDir() string {
	d := os.Getenv("IMPAGOS_FAULTS_DIR")
	switch {
	case d == "":
		return filepath.Join(repoRoot(), ".data", "faults")
	case !filepath.IsAbs(d):
		return filepath.Join(repoRoot(), d)
	}
	return d
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cleanEnv is the test's environment without the variables that configure
// the system, so that nothing of the shared stack leaks into a service: not
// its database or server, nor its distributor's folders (IMPAGOS_ATR_*, which
// .ci/stack env exports), whose stand-in would answer the test's messages.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "TEMPORAL_"), strings.HasPrefix(k, "IMPAGOS_"), strings.HasPrefix(k, "SENDGRID_"),
			strings.HasPrefix(k, "MAIL_"), k == "DATABASE_URL", k == "CUTS_DESK_EMAIL":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// ---------------------------------------------------------------- processes

// proc is a service run as a child process, started and stopped at will.
type proc struct {
	name string
	path string
	args []string
	env  []string
	dir  string
	log  string
	cred *syscall.Credential // run as this user (PostgreSQL refuses root)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s already runs (pid %d)", p.name, p.cmd.Process.Pid)
		}
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "\n==== %s start %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.env, p.dir, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "==== %s exit %s: %v\n", p.name, time.Now().Format(time.RFC3339Nano), err)
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// exited is closed when the current process ends; nil before the first start.
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *proc) running() bool {
	done := p.exited()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// stop sends sig and waits up to grace for the process to end, then kills it.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("%s did not stop within %s of %v; killed", p.name, grace, sig)
}

// ---------------------------------------------------------------- postgres

// postgres is a cluster of the test's own, run in the foreground so that it
// can be stopped and started again on the same data directory.
type postgres struct {
	port int
	data string
	proc *proc
}

// pgUser is who runs PostgreSQL's programs: nil (ourselves) unless we are
// root, which PostgreSQL refuses; then the postgres user.
func pgUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("fault suite: running as root needs a postgres user to run PostgreSQL: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// runAs runs a command as cred and returns its combined output.
func runAs(cred *syscall.Credential, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd.CombinedOutput()
}

func newPostgres(t *testing.T, dir string) *postgres {
	t.Helper()
	bin := pgBinDir()
	cred := pgUser(t)
	base := dir
	if cred != nil {
		// The postgres user must be able to walk down to its data directory.
		if _, err := runAs(cred, "test", "-x", dir); err != nil {
			tmp, err := os.MkdirTemp("", "impagos-faults-pg-")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tmp, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if !t.Failed() {
					_ = os.RemoveAll(tmp)
				}
			})
			base = tmp
		}
	}
	pg := &postgres{port: freePort(t), data: filepath.Join(base, "pg")}
	if err := os.MkdirAll(pg.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(pg.data, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runAs(cred, filepath.Join(bin, "initdb"), "-D", pg.data, "-U", "postgres", "-A", "trust",
		"--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.proc = &proc{
		name: "postgres",
		path: filepath.Join(bin, "postgres"),
		args: []string{"-D", pg.data, "-c", "port=" + strconv.Itoa(pg.port), "-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=", "-c", "max_connections=100"},
		env:  cleanEnv(),
		dir:  "/",
		log:  filepath.Join(dir, "postgres.log"),
		cred: cred,
	}
	return pg
}

// url is the DATABASE_URL of the application's database.
func (pg *postgres) url() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pgRole, pg.port, pgDB)
}

// start starts the server and waits until it accepts connections.
func (pg *postgres) start(ctx context.Context) error {
	if err := pg.proc.start(); err != nil {
		return err
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", pg.port)
	deadline := time.Now().Add(90 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if !pg.proc.running() {
			return fmt.Errorf("postgres exited at start; see %s", pg.proc.log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 90s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createDatabase creates the application's role and database.
func (pg *postgres) createDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"CREATE ROLE " + pgRole + " LOGIN CREATEDB",
		"CREATE DATABASE " + pgDB + " OWNER " + pgRole,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// stop shuts the server down the way pg_ctl stop -m fast does: open connections
// are ended and their transactions rolled back.
func (pg *postgres) stop() error { return pg.proc.stop(syscall.SIGINT, 60*time.Second) }

// ---------------------------------------------------------------- temporal

// temporalServer is a Temporal dev server of the test's own on a SQLite file.
type temporalServer struct {
	port int
	proc *proc
}

func newTemporal(t *testing.T, dir string) *temporalServer {
	t.Helper()
	s := &temporalServer{port: freePort(t)}
	args := []string{"server", "start-dev", "--headless",
		"--db-filename", filepath.Join(dir, "temporal.db"),
		"--ip", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--namespace", namespace, "--log-level", "warn",
		// Write-ahead log: as safe as the default journal when a process dies
		// (what the suite does to it), and fast enough for 200 cases on two cores.
		"--sqlite-pragma", "journal_mode=WAL", "--sqlite-pragma", "synchronous=NORMAL"}
	// Registered at every start; the dev server keeps those it already has.
	for _, a := range workflows.SearchAttributeTypes {
		args = append(args, "--search-attribute", a.Name+"="+a.Type)
	}
	s.proc = &proc{name: "temporal", path: temporalBin(), args: args, env: cleanEnv(), dir: dir,
		log: filepath.Join(dir, "temporal.log")}
	return s
}

func (s *temporalServer) address() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// start starts the server and waits until the namespace answers with the
// custom search attributes registered.
func (s *temporalServer) start(ctx context.Context, logger tlog.Logger) error {
	if err := s.proc.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if !s.proc.running() {
			return fmt.Errorf("temporal dev server exited at start; see %s", s.proc.log)
		}
		if last = s.ready(ctx, logger); last == nil {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("temporal dev server not ready within 2m: %w", last)
}

func (s *temporalServer) ready(ctx context.Context, logger tlog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: s.address(), Namespace: namespace, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err != nil {
		return err
	}
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return err
	}
	for _, a := range workflows.SearchAttributeTypes {
		if _, ok := resp.GetCustomAttributes()[a.Name]; !ok {
			return fmt.Errorf("search attribute %s not registered yet", a.Name)
		}
	}
	return nil
}

// ---------------------------------------------------------------- worker

var (
	buildOnce sync.Once
	workerBin string
	buildErr  error
)

// buildWorker builds ./worker once for the whole suite.
func buildWorker(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir := filepath.Join(baseDir(), "bin")
		if buildErr = os.MkdirAll(dir, 0o755); buildErr != nil {
			return
		}
		workerBin = filepath.Join(dir, "impagos-worker")
		cmd := exec.Command("go", "build", "-o", workerBin, "./worker")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build worker: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return workerBin
}

// ---------------------------------------------------------------- e-mail

// mailStub answers SendGrid's /v3/mail/send as SendGrid does (202 and an
// X-Message-Id), or with 500 while failing, and counts the messages it
// accepted per outbox key. It answers after a delay, as a real provider does
// (IMPAGOS_FAULTS_MAIL_LATENCY, default 100ms); a message counts as accepted
// once it has arrived whole, even if the sender is gone by the time the answer
// leaves, as it would at the provider.
//
// Like SendGrid's Event Webhook, it reports a processed and a delivered event
// of every message it accepted, with the message's custom arguments, in
// batches signed with its key, posted to the worker's receiver every
// eventEvery; a batch the receiver does not take (the worker is down, its
// database away) is posted again at the next round, as SendGrid retries.
type mailStub struct {
	srv     *httptest.Server
	latency time.Duration
	log     *os.File // one line per request: when, outbox key, answer

	mu       sync.Mutex
	failing  bool
	accepted map[string]int // outbox key → messages accepted
	refused  int            // answered 500
	invalid  []string       // requests that were not a well-formed send
	sent     int

	// The events still to post, and how the posting went.
	eventKey    *ecdsa.PrivateKey
	events      []map[string]any
	eventSeq    int
	posted      int // events the receiver took
	postFailed  int // posts the receiver refused or missed
	lastPostErr string
	stopEvents  context.CancelFunc
	eventsDone  chan struct{}

	// While holding, requests are held on the way, unread, until dropped:
	// requests that never reach the provider.
	holding bool
	held    []net.Conn
	dropped int
}

// eventEvery is how often the stub posts its events: SendGrid batches them
// for about 30 s; the suite's cases live in seconds.
const eventEvery = time.Second

func newMailStub(t *testing.T, dir string) *mailStub {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "mail.log"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m := &mailStub{accepted: map[string]int{}, latency: 100 * time.Millisecond, log: f, eventKey: key}
	if v := os.Getenv("IMPAGOS_FAULTS_MAIL_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("IMPAGOS_FAULTS_MAIL_LATENCY=%q: %v", v, err)
		}
		m.latency = d
	}
	m.srv = httptest.NewServer(m)
	return m
}

func (m *mailStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.hold(w) {
		return
	}
	body, err := io.ReadAll(r.Body)
	var msg struct {
		CustomArgs       map[string]string `json:"custom_args"`
		Personalizations []struct {
			To []struct {
				Email string `json:"email"`
			} `json:"to"`
		} `json:"personalizations"`
	}
	if err == nil {
		err = json.Unmarshal(body, &msg)
	}
	status, id := m.receive(r, msg.CustomArgs["outbox_key"], err)
	if status == http.StatusAccepted {
		to := ""
		if len(msg.Personalizations) > 0 && len(msg.Personalizations[0].To) > 0 {
			to = msg.Personalizations[0].To[0].Email
		}
		m.report(id, to, msg.CustomArgs)
	}
	time.Sleep(m.latency)
	switch status {
	case http.StatusAccepted:
		w.Header().Set("X-Message-Id", id)
		w.WriteHeader(status)
	case http.StatusInternalServerError:
		http.Error(w, `{"errors":[{"message":"stub outage"}]}`, status)
	default:
		http.Error(w, `{"errors":[{"message":"bad request"}]}`, status)
	}
}

// receive decides the answer to one request and counts it.
func (m *mailStub) receive(r *http.Request, key string, err error) (status int, messageID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send":
		m.invalid = append(m.invalid, r.Method+" "+r.URL.Path)
		return http.StatusNotFound, ""
	case r.Header.Get("Authorization") != "Bearer "+mailKey:
		m.invalid = append(m.invalid, "bad authorization")
		return http.StatusUnauthorized, ""
	case err != nil || key == "":
		m.invalid = append(m.invalid, fmt.Sprintf("body without outbox_key (%v)", err))
		return http.StatusBadRequest, ""
	case m.failing:
		m.refused++
		fmt.Fprintf(m.log, "%s refused %s with 500\n", time.Now().Format("15:04:05.000"), key)
		return http.StatusInternalServerError, ""
	}
	m.accepted[key]++
	m.sent++
	id := fmt.Sprintf("stub-%d", m.sent)
	fmt.Fprintf(m.log, "%s accepted %s as %s (time %d for this key)\n",
		time.Now().Format("15:04:05.000"), key, id, m.accepted[key])
	return http.StatusAccepted, id
}

// hold keeps the request's connection, unread, while the stub is holding, and
// says whether it did.
func (m *mailStub) hold(w http.ResponseWriter) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.holding {
		return false
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	m.held = append(m.held, conn)
	return true
}

// droppedCount says how many held requests were dropped in all.
func (m *mailStub) droppedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// startHolding holds every request from now on, as a network that stalls.
func (m *mailStub) startHolding() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.holding = true
}

// heldNow says how many requests are held.
func (m *mailStub) heldNow() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// drop closes the held requests' connections unread, stops holding, and says
// how many were dropped: their messages never reached the provider.
func (m *mailStub) drop() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.held)
	for _, c := range m.held {
		_ = c.Close()
	}
	m.held, m.holding = nil, false
	m.dropped += n
	fmt.Fprintf(m.log, "%s dropped %d held request(s) unread\n", time.Now().Format("15:04:05.000"), n)
	return n
}

// report queues the events SendGrid reports of a message it accepted.
func (m *mailStub) report(messageID, to string, args map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for i, kind := range []string{"processed", "delivered"} {
		m.eventSeq++
		e := map[string]any{
			"email":         to,
			"timestamp":     now.Unix() + int64(i),
			"event":         kind,
			"sg_event_id":   fmt.Sprintf("stub-event-%d", m.eventSeq),
			"sg_message_id": messageID + ".filter0001.1." + strconv.Itoa(m.eventSeq),
			"category":      []string{"impagos"},
		}
		for k, v := range args {
			e[k] = v
		}
		m.events = append(m.events, e)
	}
}

// postEvents posts the queued events to url, signed, every eventEvery until
// stopped; a batch not taken stays queued for the next round.
func (m *mailStub) postEvents(url string) {
	ctx, cancel := context.WithCancel(context.Background())
	m.stopEvents, m.eventsDone = cancel, make(chan struct{})
	go func() {
		defer close(m.eventsDone)
		client := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(eventEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			m.mu.Lock()
			batch := slices.Clone(m.events)
			m.mu.Unlock()
			if len(batch) == 0 {
				continue
			}
			err := m.post(ctx, client, url, batch)
			m.mu.Lock()
			if err == nil {
				m.events = m.events[len(batch):]
				m.posted += len(batch)
			} else {
				m.postFailed++
				m.lastPostErr = err.Error()
			}
			m.mu.Unlock()
		}
	}()
}

func (m *mailStub) post(ctx context.Context, client *http.Client, url string, batch []map[string]any) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if req.Header, err = mailevents.Sign(m.eventKey, body, time.Now()); err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// publicKey is the stub's verification key as SendGrid shows one.
func (m *mailStub) publicKey() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&m.eventKey.PublicKey)
	return base64.StdEncoding.EncodeToString(der), err
}

// eventStats says how the posting of events went.
func (m *mailStub) eventStats() (posted, queued, failedPosts int, lastErr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.posted, len(m.events), m.postFailed, m.lastPostErr
}

func (m *mailStub) close() {
	if m.stopEvents != nil {
		m.stopEvents()
		<-m.eventsDone
	}
	m.drop()
	m.srv.Close()
	m.log.Close()
}

func (m *mailStub) setFailing(v bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failing = v
}

// snapshot returns a copy of the counts.
func (m *mailStub) snapshot() (accepted map[string]int, refused int, invalid []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	accepted = make(map[string]int, len(m.accepted))
	for k, v := range m.accepted {
		accepted[k] = v
	}
	return accepted, m.refused, slices.Clone(m.invalid)
}

// ---------------------------------------------------------------- the stack

// stack is everything one fault test runs: its own Postgres, Temporal dev
// server, worker and e-mail stub, plus the test's own clients of them.
type stack struct {
	t        *testing.T
	dir      string
	pg       *postgres
	temporal *temporalServer
	worker   *proc
	mail     *mailStub
	atr      *atrFolders
	logger   tlog.Logger
	db       *store.Store
	client   client.Client

	// unsentAtKill counts, at each kill of the worker, the B1 messages the
	// ledger held unsent.
	unsentAtKill []int
}

func newStack(t *testing.T, ctx context.Context, name string) *stack {
	t.Helper()
	bin := buildWorker(t)
	dir := filepath.Join(baseDir(), name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The SDK's own messages (retries while a service is down) go to a file.
	clientLog, err := os.OpenFile(filepath.Join(dir, "client.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{
		t:      t,
		dir:    dir,
		mail:   newMailStub(t, dir),
		logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(clientLog, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}
	t.Cleanup(func() {
		s.shutdown()
		clientLog.Close()
		if t.Failed() || os.Getenv("IMPAGOS_FAULTS_KEEP") == "1" {
			t.Logf("data and logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})

	s.pg = newPostgres(t, dir)
	if err := s.pg.start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.pg.createDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	if s.db, err = store.Open(ctx, s.pg.url()); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	s.temporal = newTemporal(t, dir)
	if err := s.temporal.start(ctx, s.logger); err != nil {
		t.Fatal(err)
	}
	if s.client, err = client.DialContext(ctx, client.Options{HostPort: s.temporal.address(), Namespace: namespace, Logger: s.logger}); err != nil {
		t.Fatal(err)
	}

	// The distributor: folders of the test's own and a stand-in answering.
	if s.atr, err = newATRFolders(dir); err != nil {
		t.Fatal(err)
	}
	s.atr.runStandin()

	// The worker receives the stub's events as it would SendGrid's, signed.
	eventsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	publicKey, err := s.mail.publicKey()
	if err != nil {
		t.Fatal(err)
	}
	s.worker = &proc{
		name: "worker",
		path: bin,
		env: cleanEnv(append(s.atr.workerEnv(),
			"DATABASE_URL="+s.pg.url(),
			"TEMPORAL_ADDRESS="+s.temporal.address(),
			"TEMPORAL_NAMESPACE="+namespace,
			"IMPAGOS_TASK_QUEUE="+taskQueue,
			"SENDGRID_API_KEY="+mailKey,
			"SENDGRID_HOST="+s.mail.srv.URL,
			mailevents.EnvAddr+"="+eventsAddr,
			mailevents.EnvKey+"="+publicKey,
			mailevents.EnvGrace+"="+confirmGrace.String(),
		)...),
		dir: dir,
		log: filepath.Join(dir, "worker.log"),
	}
	if err := s.startWorker(); err != nil {
		t.Fatal(err)
	}
	s.mail.postEvents("http://" + eventsAddr + mailevents.Path)
	return s
}

// confirmGrace is the workers' IMPAGOS_MAIL_CONFIRM_GRACE: a killed worker's
// attempt only times out after the delivery's start-to-close timeout (2
// minutes), so its retry finds the claim older than this anyway, and the
// stub's events arrive within seconds of the worker's restart.
const confirmGrace = 20 * time.Second

// startWorker starts the worker and makes sure it did not die at once (a
// worker that cannot reach Temporal or Postgres exits at start).
func (s *stack) startWorker() error {
	if err := s.worker.start(); err != nil {
		return err
	}
	select {
	case <-s.worker.exited():
		return fmt.Errorf("worker exited at start; see %s", s.worker.log)
	case <-time.After(2 * time.Second):
		return nil
	}
}

// shutdown stops every service, the worker first.
func (s *stack) shutdown() {
	if s.worker != nil {
		if err := s.worker.stop(syscall.SIGTERM, 20*time.Second); err != nil {
			s.t.Log(err)
		}
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.temporal != nil {
		if err := s.temporal.proc.stop(syscall.SIGTERM, 30*time.Second); err != nil {
			s.t.Log(err)
		}
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.pg != nil {
		if err := s.pg.stop(); err != nil {
			s.t.Log(err)
		}
	}
	if s.atr != nil {
		if err := s.atr.close(); err != nil {
			s.t.Log(err)
		}
	}
	s.mail.close()
}

// errStopped is returned by a fault's wait when the run is over.
var errStopped = errors.New("run stopped")

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return errStopped
	case <-time.After(d):
		return nil
	}
}
