package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/elega/impagos/internal/store"
)

type fakeSource struct {
	f     store.Figures
	err   error
	reads int
}

func (s *fakeSource) Figures(context.Context) (store.Figures, error) {
	s.reads++
	return s.f, s.err
}

type fakeCounter struct {
	n     int64
	query string
}

func (c *fakeCounter) CountWorkflow(_ context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	c.query = req.GetQuery()
	return &workflowservice.CountWorkflowExecutionsResponse{Count: c.n}, nil
}

// gather collects l into a registry of its own and returns the families by name.
func gather(t *testing.T, l *Ledger) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(l))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value is the value of the family's metric with the labels (name, value
// pairs), failing when there is none.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "no metric %s", name)
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func TestLedger_FiguresBecomeMetrics(t *testing.T) {
	src := &fakeSource{f: store.Figures{
		Open: []store.OpenFigure{
			{Stage: "cut_review", Segment: "domestico", Cases: 2, DueCents: 12550},
			{Stage: "", Segment: "", Cases: 1, DueCents: 1},
		},
		Notices:       []store.NoticeFigure{{Channel: "email", Status: "sending", Count: 3}},
		CutsRequested: 7, CutsExecuted: 5, CutsExecutedToday: 1,
		CutRefusals:         map[string]int64{"not_proven": 2, "a_new_reason": 1},
		ReleasesUnrequested: 1, OldestUnrequested: 2 * time.Hour,
		ReconnectionsPending: 2, ReconnectionsOverdue: 1, OldestReconnection: 26 * time.Hour,
		EmailsSending: 3, OldestSending: 45 * time.Minute,
		BankReturnsPending: 4, BankReturnsUnmatched: 5,
	}}
	cases := &fakeCounter{n: 6}
	mfs := gather(t, NewLedger(src, cases, "impagos", LedgerOptions{MailConfirmGrace: 20 * time.Minute}))

	require.Equal(t, 2.0, value(t, mfs, "impagos_cases_open", "stage", "cut_review", "segment", "domestico"))
	require.Equal(t, 125.5, value(t, mfs, "impagos_amount_due_euros", "stage", "cut_review", "segment", "domestico"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_cases_open", "stage", "unknown", "segment", "unknown"))
	require.Equal(t, 3.0, value(t, mfs, "impagos_notices", "channel", "email", "status", "sending"))
	require.Equal(t, 7.0, value(t, mfs, "impagos_cuts_requested_total"))
	require.Equal(t, dto.MetricType_COUNTER, mfs["impagos_cuts_requested_total"].GetType())
	require.Equal(t, 5.0, value(t, mfs, "impagos_cuts_executed_total"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_cuts_executed_today"))
	require.Equal(t, 2.0, value(t, mfs, "impagos_cut_refusals_total", "reason", "not_proven"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_cut_refusals_total", "reason", "a_new_reason"))
	require.Equal(t, 0.0, value(t, mfs, "impagos_cut_refusals_total", "reason", "cut_ban"), "every known reason, from zero")
	require.Equal(t, 1.0, value(t, mfs, "impagos_reconnections_unrequested"))
	require.Equal(t, 7200.0, value(t, mfs, "impagos_reconnection_unrequested_seconds"))
	require.Equal(t, 2.0, value(t, mfs, "impagos_reconnections_pending"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_reconnections_overdue"))
	require.Equal(t, 93600.0, value(t, mfs, "impagos_reconnection_pending_seconds"))
	require.Equal(t, 3.0, value(t, mfs, "impagos_emails_sending"))
	require.Equal(t, 2700.0, value(t, mfs, "impagos_email_sending_seconds"))
	require.Equal(t, 1200.0, value(t, mfs, "impagos_mail_confirm_grace_seconds"))
	require.Equal(t, 4.0, value(t, mfs, "impagos_bank_returns_pending"))
	require.Equal(t, 5.0, value(t, mfs, "impagos_bank_returns_unmatched"))
	require.Equal(t, 6.0, value(t, mfs, "impagos_cases_needing_attention"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_metrics_source_up", "source", "ledger"))
	require.Equal(t, 1.0, value(t, mfs, "impagos_metrics_source_up", "source", "temporal"))
	require.Equal(t, AttentionQuery("impagos"), cases.query)
	require.Contains(t, cases.query, `TaskQueue = "impagos"`)
	require.Contains(t, cases.query, "NeedsAttention = true")
}

func TestLedger_ReadsAtMostOncePerMaxAge(t *testing.T) {
	src := &fakeSource{f: store.Figures{CutsRequested: 1}}
	l := NewLedger(src, nil, "impagos", LedgerOptions{})
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }

	require.Equal(t, 1.0, value(t, gather(t, l), "impagos_cuts_requested_total"))
	src.f.CutsRequested = 2
	now = now.Add(DefaultMaxAge - time.Second)
	require.Equal(t, 1.0, value(t, gather(t, l), "impagos_cuts_requested_total"), "within the max age: the reading before")
	require.Equal(t, 1, src.reads)
	now = now.Add(time.Second)
	require.Equal(t, 2.0, value(t, gather(t, l), "impagos_cuts_requested_total"), "at the max age: read again")
	require.Equal(t, 2, src.reads)
}

func TestLedger_UnreadableLedgerSendsNoFigure(t *testing.T) {
	src := &fakeSource{err: errors.New("connection refused")}
	mfs := gather(t, NewLedger(src, nil, "impagos", LedgerOptions{MaxAge: -1}))
	require.Equal(t, 0.0, value(t, mfs, "impagos_metrics_source_up", "source", "ledger"))
	require.NotContains(t, mfs, "impagos_cuts_requested_total")
	require.NotContains(t, mfs, "impagos_cases_needing_attention", "no counter of cases given")

	src.err = nil
	mfs = gather(t, NewLedger(src, nil, "impagos", LedgerOptions{MaxAge: -1}))
	require.Equal(t, 1.0, value(t, mfs, "impagos_metrics_source_up", "source", "ledger"))
	require.Contains(t, mfs, "impagos_cuts_requested_total")
}
