package metrics_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/metrics"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// The ledger the scrape reads: a schema of its own with these rows, the
// times relative to the database's clock.
const seed = `
INSERT INTO contracts (cups, segment) VALUES
	('ES0001', 'domestico'), ('ES0002', 'empresa'), ('ES0003', 'domestico'), ('ES0004', 'domestico'),
	('ES0005', 'empresa');
INSERT INTO supply_points (cups) VALUES ('ES0002'), ('ES0003'), ('ES0004'), ('ES0005');
INSERT INTO invoices (invoice, cups, amount_cents, amount_due_cents, status, stage, paid_at) VALUES
	('A', 'ES0001', 10000, 10000, 'open', 'cut_review', NULL),
	('B', 'ES0001', 2550, 2550, 'open', 'cut_review', NULL),
	('C', 'ES0002', 30000, 30000, 'open', 'cut_requested', NULL),
	-- paid in full two hours ago, the case has not settled: its supply stays cut
	('D', 'ES0003', 5000, 0, 'open', 'cut', NULL),
	('E', 'ES0004', 7000, 0, 'paid', 'reconnected', now() - interval '30 hours'),
	-- cut and still owing: rightly cut
	('F', 'ES0005', 4000, 4000, 'open', 'cut', NULL);
INSERT INTO payments (key, invoice, paid_at, amount_cents, source, created_at) VALUES
	('D/1', 'D', now() - interval '2 hours', 5000, 'signal', now() - interval '2 hours');
INSERT INTO cuts (id, cups, requested_by_invoice, cut_at, created_at, ended_at, outcome, executed_on) VALUES
	(1, 'ES0003', 'D', now() - interval '3 hours', now() - interval '3 hours', NULL, '',
		(now() AT TIME ZONE 'Europe/Madrid')::date),
	(2, 'ES0002', 'C', now() - interval '40 days', now() - interval '40 days', now() - interval '26 hours', 'reconnect', '2020-01-01'),
	(3, 'ES0004', 'E', now() - interval '40 days', now() - interval '40 days', now() - interval '30 hours', 'reconnect', NULL),
	(4, 'ES0005', 'F', now() - interval '5 days', now() - interval '5 days', NULL, '', NULL),
	(5, 'ES0004', 'E', now() - interval '9 days', now() - interval '9 days', now() - interval '1 hour', 'reconnect', NULL);
INSERT INTO distributor_requests (kind, cups, cut_id, invoice, requested_at, due_by, status, code, created_at) VALUES
	-- asked 26 hours ago, due an hour ago, unanswered
	('reconnect', 'ES0002', 2, 'C', now() - interval '26 hours', now() - interval '1 hour', 'sent', '000000000002',
		now() - interval '26 hours'),
	('reconnect', 'ES0004', 3, 'E', now() - interval '30 hours', now() + interval '1 day', 'accepted', '000000000003',
		now() - interval '30 hours'),
	-- asked an hour ago, due tomorrow
	('reconnect', 'ES0004', 5, 'E', now() - interval '1 hour', now() + interval '1 day', 'sent', '000000000005',
		now() - interval '1 hour');
INSERT INTO outbox (idempotency_key, invoice, kind, channel, recipient, status, notice_at, claimed_at) VALUES
	('k1', 'A', 'aviso_1', 'email', 'a@example.com', 'sent', now(), NULL),
	('k2', 'B', 'aviso_1', 'email', 'b@example.com', 'sending', now(), now() - interval '45 minutes'),
	('k3', 'B', 'aviso_1', 'sms', '+34600000000', 'sent', now(), NULL);
INSERT INTO audit (invoice, action, detail) VALUES
	('A', 'cut_refused', '{"reason": "not_proven"}'),
	('B', 'cut_refused', '{"reason": "not_proven"}'),
	('C', 'cut_refused', '{"reason": "on_hold"}'),
	('C', 'stage', '{"stage": "cut_review"}');
INSERT INTO bank_files (id, sha256, format) VALUES (1, 'f1', 'pain.002');
INSERT INTO bank_returns (file_id, end_to_end_id, amount_cents, returned_on, reason, path, status) VALUES
	(1, 'e1', 100, current_date, 'AM04', 'funds', 'pending'),
	(1, 'e2', 100, current_date, 'AM04', 'funds', 'unmatched'),
	(1, 'e3', 100, current_date, 'AM04', 'funds', 'unmatched'),
	(1, 'e4', 100, current_date, 'AM04', 'funds', 'started');
`

// TestMetricsEndpoint_ServesTheLedgerAndTheSDK starts the worker's metrics
// server on a ledger of its own and a worker of its own task queue, scrapes it
// as Prometheus does and reads the answer with Prometheus's text parser: the
// business figures are the rows', the SDK's metrics are there once the worker
// ran a workflow and an activity, and so is every metric docs/alerts.yml names.
func TestMetricsEndpoint_ServesTheLedgerAndTheSDK(t *testing.T) {
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: run through make test (needs IMPAGOS_INTEGRATION=1, Temporal and Postgres)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, drop, err := store.OpenIsolated(ctx, engine.FromEnv().DatabaseURL, "metrics_test")
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop the test's schema: %v", err)
		}
	})
	_, err = db.Pool().Exec(ctx, seed)
	require.NoError(t, err)

	reg := metrics.NewRegistry()
	sdk, err := metrics.SDKHandler(reg)
	require.NoError(t, err)
	c, err := engine.Dial(ctx, engine.WithMetricsHandler(sdk))
	require.NoError(t, err)
	defer c.Close()
	queue := "impagos-test-" + token()
	// MaxAge -1: every scrape reads, so the loop below sees the flag as soon
	// as Temporal's visibility does.
	reg.MustRegister(metrics.NewLedger(db, c, queue, metrics.LedgerOptions{MaxAge: -1, MailConfirmGrace: 30 * time.Minute}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srvCtx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(srvCtx, ln, metrics.Handler(reg)) }()
	defer func() {
		stopSrv()
		require.NoError(t, <-served)
	}()

	// A case of the task queue, flagged NeedsAttention after an activity.
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(flagged, workflow.RegisterOptions{Name: workflows.WorkflowType})
	w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: "Touch"})
	require.NoError(t, w.Start())
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "metrics-test-" + token(), TaskQueue: queue, WorkflowExecutionTimeout: 5 * time.Minute,
	}, workflows.WorkflowType)
	require.NoError(t, err)
	defer func() {
		require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), "done", nil))
		require.NoError(t, run.Get(ctx, nil))
	}()

	url := "http://" + ln.Addr().String() + metrics.Path
	var mfs map[string]*dto.MetricFamily
	sdkNames := []string{
		"temporal_request_total",
		"temporal_worker_task_slots_available",
		"temporal_activity_schedule_to_start_latency_seconds",
		"temporal_workflow_task_schedule_to_start_latency_seconds",
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mfs = scrape(t, url)
		missing := slices.DeleteFunc(slices.Clone(sdkNames), func(n string) bool { return mfs[n] != nil })
		attention := 0.0
		if mfs["impagos_cases_needing_attention"] != nil {
			attention = value(t, mfs, "impagos_cases_needing_attention")
		}
		if len(missing) == 0 && attention == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: SDK metrics missing %v, cases needing attention %v", missing, attention)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"impagos_cases_open", []string{"stage", "cut_review", "segment", "domestico"}, 2},
		{"impagos_amount_due_euros", []string{"stage", "cut_review", "segment", "domestico"}, 125.5},
		{"impagos_cases_open", []string{"stage", "cut_requested", "segment", "empresa"}, 1},
		{"impagos_amount_due_euros", []string{"stage", "cut_requested", "segment", "empresa"}, 300},
		{"impagos_cases_open", []string{"stage", "cut", "segment", "domestico"}, 1},
		{"impagos_cases_open", []string{"stage", "cut", "segment", "empresa"}, 1},
		{"impagos_amount_due_euros", []string{"stage", "cut", "segment", "domestico"}, 0},
		{"impagos_notices", []string{"channel", "email", "status", "sent"}, 1},
		{"impagos_notices", []string{"channel", "email", "status", "sending"}, 1},
		{"impagos_notices", []string{"channel", "sms", "status", "sent"}, 1},
		{"impagos_emails_sending", nil, 1},
		{"impagos_mail_confirm_grace_seconds", nil, 1800},
		{"impagos_cuts_requested_total", nil, 5},
		{"impagos_cuts_executed_total", nil, 2},
		{"impagos_cuts_executed_today", nil, 1},
		{"impagos_cut_refusals_total", []string{"reason", "not_proven"}, 2},
		{"impagos_cut_refusals_total", []string{"reason", "on_hold"}, 1},
		{"impagos_cut_refusals_total", []string{"reason", "cut_ban"}, 0},
		{"impagos_reconnections_unrequested", nil, 1},
		{"impagos_reconnections_pending", nil, 2},
		{"impagos_reconnections_overdue", nil, 1},
		{"impagos_bank_returns_pending", nil, 1},
		{"impagos_bank_returns_unmatched", nil, 2},
		{"impagos_cases_needing_attention", nil, 1},
		{"impagos_metrics_source_up", []string{"source", "ledger"}, 1},
		{"impagos_metrics_source_up", []string{"source", "temporal"}, 1},
	} {
		require.Equal(t, tc.want, value(t, mfs, tc.name, tc.labels...), "%s%v", tc.name, tc.labels)
	}
	require.Len(t, mfs["impagos_cases_open"].GetMetric(), 4, "the paid invoice is not open")
	// Ages, from rows written that long before the scrape.
	for _, tc := range []struct {
		name string
		age  time.Duration
	}{
		{"impagos_reconnection_unrequested_seconds", 2 * time.Hour},
		{"impagos_reconnection_pending_seconds", 26 * time.Hour},
		{"impagos_email_sending_seconds", 45 * time.Minute},
	} {
		got := value(t, mfs, tc.name)
		require.GreaterOrEqual(t, got, tc.age.Seconds(), tc.name)
		require.Less(t, got, (tc.age + 5*time.Minute).Seconds(), tc.name)
	}
	require.Equal(t, dto.MetricType_COUNTER, mfs["temporal_request_total"].GetType())
	require.Equal(t, dto.MetricType_HISTOGRAM, mfs["temporal_activity_schedule_to_start_latency_seconds"].GetType())
	require.True(t, hasLabel(mfs["temporal_activity_schedule_to_start_latency_seconds"], "task_queue", queue))

	// Every metric the alerts use is in the scrape.
	rules, err := os.ReadFile("../../docs/alerts.yml")
	require.NoError(t, err)
	names := ruleMetrics(string(rules))
	require.NotEmpty(t, names)
	for _, n := range names {
		require.True(t, scraped(mfs, n), "docs/alerts.yml uses %s, which the worker does not export", n)
	}
}

// flagged raises NeedsAttention after an activity and waits for "done".
func flagged(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteActivity(ctx, "Touch").Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.AttrNeedsAttention.ValueSet(true)); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return nil
}

// scrape fetches url as Prometheus would and parses the text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), resp.Header.Get("Content-Type"))
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// value is the gauge's or counter's value with the labels (name, value
// pairs); it fails when there is none.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf := mfs[name]
	require.NotNil(t, mf, "no metric %s", name)
	for _, m := range mf.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(lp *dto.LabelPair) bool {
			return lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}) {
			return false
		}
	}
	return true
}

func hasLabel(mf *dto.MetricFamily, name, value string) bool {
	return slices.ContainsFunc(mf.GetMetric(), func(m *dto.Metric) bool { return matches(m, []string{name, value}) })
}

var metricName = regexp.MustCompile(`\b(?:impagos|temporal)_[a-z0-9_]+\b`)

// ruleMetrics are the names of the project's and the SDK's metrics a rule
// file mentions.
func ruleMetrics(rules string) []string {
	names := metricName.FindAllString(rules, -1)
	slices.Sort(names)
	return slices.Compact(names)
}

// scraped says whether the metric is in the scrape, a histogram's series
// (_bucket, _sum, _count) by their family's name.
func scraped(mfs map[string]*dto.MetricFamily, name string) bool {
	if mfs[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && mfs[base].GetType() == dto.MetricType_HISTOGRAM {
			return true
		}
	}
	return false
}

func token() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
