package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/workflows"
)

// lines are the JSON log lines written to buf, each also checked to name the
// invoice at most once.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		require.LessOrEqual(t, strings.Count(l, `"invoice":`), 1, "a line names its invoice once: %s", l)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func TestLogger_CaseLinesNameTheirInvoiceOnce(t *testing.T) {
	var buf bytes.Buffer
	l, err := engine.NewLogger(&buf, "")
	require.NoError(t, err)
	sdk := tlog.NewStructuredLogger(l)
	id := workflows.WorkflowID("F2026-0042")

	// As the SDK's workflow logger, then the workflow's own (with the invoice).
	wf := tlog.With(sdk, "WorkflowID", id, "RunID", "r1")
	wf.Info("from the SDK")
	tlog.With(wf, "invoice", "F2026-0042").Info("from the workflow")
	// The workflow id on the line itself, as some of the SDK's lines carry it.
	sdk.Warn("task failed", "WorkflowID", id, "error", "boom")
	// A line that names the invoice itself, under a logger that derived it.
	wf.Info("from an activity", "invoice", "F2026-0042")
	// Not a case: the digest, and a line about nothing in particular.
	sdk.Info("digest", "WorkflowID", workflows.DigestScheduleID)
	sdk.Info("worker started")

	got := lines(t, &buf)
	require.Len(t, got, 6)
	for _, m := range got[:4] {
		require.Equal(t, "F2026-0042", m["invoice"], m["msg"])
		require.Equal(t, id, m["WorkflowID"], m["msg"])
	}
	require.Equal(t, "r1", got[0]["RunID"])
	for _, m := range got[4:] {
		require.NotContains(t, m, "invoice", m["msg"])
	}
}

func TestLogger_Formats(t *testing.T) {
	var buf bytes.Buffer
	l, err := engine.NewLogger(&buf, "text")
	require.NoError(t, err)
	l.Info("hello", "WorkflowID", workflows.WorkflowID("F1"))
	require.Contains(t, buf.String(), "msg=hello")
	require.Contains(t, buf.String(), "invoice=F1")

	t.Setenv(engine.EnvLogFormat, "yaml")
	_, err = engine.LoggerFromEnv(&buf)
	require.ErrorContains(t, err, engine.EnvLogFormat)
	t.Setenv(engine.EnvLogFormat, "json")
	_, err = engine.LoggerFromEnv(&buf)
	require.NoError(t, err)
}

// The SDK's own lines about a case's activity, through its slog adapter,
// carry the workflow id, the run id, the activity type and the invoice. (The
// test environment's workflow logger has no tags: the worker's lines of a
// workflow are checked on the stack, in TestLogger_WorkerLinesOfACase.)
func TestLogger_SDKLinesOfAnActivity(t *testing.T) {
	var buf bytes.Buffer
	l, err := engine.NewLogger(&buf, "json")
	require.NoError(t, err)
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(l))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(stamp, activity.RegisterOptions{Name: "Stamp"})
	env.RegisterWorkflowWithOptions(stamped, workflow.RegisterOptions{Name: "Stamped"})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID("F2026-0007")})
	env.ExecuteWorkflow("Stamped")
	require.NoError(t, env.GetWorkflowError())

	m := lineOf(t, &buf, "activity ran")
	require.Equal(t, "F2026-0007", m["invoice"])
	require.Equal(t, workflows.WorkflowID("F2026-0007"), m["WorkflowID"])
	require.NotEmpty(t, m["RunID"])
	require.Equal(t, "Stamp", m["ActivityType"])
}

// The worker's lines of a case's workflow and activity tasks carry the
// workflow id, the run id, the activity type and the invoice.
func TestLogger_WorkerLinesOfACase(t *testing.T) {
	s := newStack(t)
	var buf syncBuffer
	l, err := engine.NewLogger(&buf, "json")
	require.NoError(t, err)
	c, err := client.NewClientFromExistingWithContext(s.ctx, s.c, client.Options{Logger: tlog.NewStructuredLogger(l)})
	require.NoError(t, err)
	defer c.Close()
	w := worker.New(c, s.queue, worker.Options{})
	w.RegisterActivityWithOptions(stamp, activity.RegisterOptions{Name: "Stamp"})
	w.RegisterWorkflowWithOptions(stamped, workflow.RegisterOptions{Name: "Stamped"})
	require.NoError(t, w.Start())
	defer w.Stop()
	invoice := "T-" + token(5)
	run, err := c.ExecuteWorkflow(s.ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(invoice), TaskQueue: s.queue}, "Stamped")
	require.NoError(t, err)
	require.NoError(t, run.Get(s.ctx, nil))

	wf := lineOf(t, buf.buffer(), "workflow ran")
	act := lineOf(t, buf.buffer(), "activity ran")
	for _, m := range []map[string]any{wf, act} {
		require.Equal(t, invoice, m["invoice"], m["msg"])
		require.Equal(t, workflows.WorkflowID(invoice), m["WorkflowID"], m["msg"])
		require.Equal(t, run.GetRunID(), m["RunID"], m["msg"])
	}
	require.Equal(t, "Stamped", wf["WorkflowType"])
	require.Equal(t, "Stamp", act["ActivityType"])
}

func stamp(ctx context.Context) error {
	activity.GetLogger(ctx).Info("activity ran")
	return nil
}

func stamped(ctx workflow.Context) error {
	workflow.GetLogger(ctx).Info("workflow ran")
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctx, "Stamp").Get(ctx, nil)
}

// lineOf is the one JSON line of buf with the message.
func lineOf(t *testing.T, buf *bytes.Buffer, msg string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, m := range lines(t, buf) {
		if m["msg"] == msg {
			found = append(found, m)
		}
	}
	require.Len(t, found, 1, "lines %q in:\n%s", msg, buf)
	return found[0]
}

// syncBuffer is a buffer the worker's goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// buffer is a copy of what was written.
func (b *syncBuffer) buffer() *bytes.Buffer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.NewBuffer(bytes.Clone(b.buf.Bytes()))
}
