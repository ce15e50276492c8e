package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// starter runs a command as a clerk would and returns its exit code, what it
// printed and its one-line error.
func starter(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCancelNeedsAReasonAndOneInvoice(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // never dialled
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"cancel", "F-1"}, "--reason is required"},
		{[]string{"cancel", "F-1", "--reason", "  "}, "--reason is required"},
		{[]string{"cancel", "--reason", "duplicada"}, "want exactly one invoice, got 0 arguments"},
		{[]string{"cancel", "F-1", "F-2", "--reason", "duplicada"}, "want exactly one invoice, got 2 arguments"},
	} {
		code, out, errOut := starter(t, tc.args...)
		require.Equal(t, 1, code, "%v", tc.args)
		require.Empty(t, out)
		require.Equal(t, "starter cancel: "+tc.want+"\n", errOut)
	}
}

func integration(t *testing.T) client.Client {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: needs IMPAGOS_INTEGRATION=1, Temporal and Postgres")
	}
	c, err := engine.Dial(context.Background())
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func token() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// An unknown or closed case is refused in one line, before the ledger is
// written: the case started here has no worker and is terminated at once.
func TestCancelRefusesAnUnknownOrClosedCase(t *testing.T) {
	c := integration(t)
	ctx := context.Background()
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable") // never opened

	unknown := "NO-SUCH-" + token()
	code, out, errOut := starter(t, "cancel", unknown, "--reason", "duplicada")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "starter cancel: invoice "+unknown+": no case for this invoice\n", errOut)

	closed := "T-" + token()
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID(closed), TaskQueue: "impagos-test-" + token()},
		workflows.WorkflowType, workflows.Input{Invoice: closed})
	require.NoError(t, err)
	require.NoError(t, c.TerminateWorkflow(ctx, workflows.WorkflowID(closed), "", "test"))
	code, out, errOut = starter(t, "cancel", closed, "--reason", "duplicada")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "starter cancel: invoice "+closed+" (terminated): the case is closed\n", errOut)
}

// The clerk's who and why reach the ledger, then the running case is
// cancelled. The ledger is a schema of the test's own, which DATABASE_URL
// names for the command.
func TestCancelWritesTheRequestThenCancelsTheCase(t *testing.T) {
	c := integration(t)
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	db, drop, err := store.OpenIsolated(ctx, dsn, "cancel_test")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, drop()) })
	var schema string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT current_schema()`).Scan(&schema))
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Setenv("DATABASE_URL", u.String())

	queue := "impagos-test-" + token()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(wctx, c, queue, &activities.Activities{Store: db, Retailer: notice.DefaultRetailer})
	}()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })

	invoice := "T-" + token()
	supply := "ES0021000000000001AB"
	require.NoError(t, db.UpsertContract(ctx, activities.Contract{Customer: "Ana", Cups: supply,
		Segment: activities.SegmentDomestic, Phone: "+34600000000"}))
	p := workflows.DefaultPolicy()
	p.Name, p.Scale = "test", 864000
	out, err := cases.Start(ctx, c, queue, workflows.Input{Invoice: invoice, Customer: "Ana", Cups: supply,
		AmountCents: 4200, ReturnedAt: time.Now(), Policy: p}, false)
	require.NoError(t, err)
	require.Equal(t, cases.Started, out)
	id := workflows.WorkflowID(invoice)
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), id, "", "test over") })
	require.Eventually(t, func() bool {
		inv, err := db.Invoice(ctx, invoice)
		return err == nil && inv.Status == "open"
	}, time.Minute, 50*time.Millisecond, "the case opens its invoice")

	code, stdout, errOut := starter(t, "cancel", invoice, "--reason", "factura rectificada", "--by", "rocio")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "invoice "+invoice+": cancellation requested (factura rectificada)\n", stdout)

	var by, reason string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT cancelled_by, cancel_reason FROM invoices WHERE invoice = $1`,
		invoice).Scan(&by, &reason))
	require.Equal(t, []string{"rocio", "factura rectificada"}, []string{by, reason})
	var n int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit WHERE invoice = $1 AND action = 'cancel_requested' AND actor = 'rocio'`,
		invoice).Scan(&n))
	require.Equal(t, 1, n)
	require.Eventually(t, func() bool {
		d, err := c.DescribeWorkflow(ctx, id, "")
		return err == nil && d.Status == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, time.Minute, 50*time.Millisecond, "the case is cancelled")
}
