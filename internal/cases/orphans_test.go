package cases_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/workflows"
)

// fakeTemporal knows runs by workflow id and run id ("" is the latest) and
// lists the running ones in pages of two, as visibility would.
type fakeTemporal struct {
	runs      map[[2]string]enumspb.WorkflowExecutionStatus
	listed    []string // running in the visibility listing
	described [][2]string
	listErr   error
}

var closedAt = time.Date(2026, 12, 11, 17, 5, 0, 0, time.UTC)

func (f *fakeTemporal) ListWorkflow(_ context.Context, r *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	from := 0
	if len(r.NextPageToken) > 0 {
		from = int(r.NextPageToken[0])
	}
	to := min(from+2, len(f.listed))
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, id := range f.listed[from:to] {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "latest"}})
	}
	if to < len(f.listed) {
		resp.NextPageToken = []byte{byte(to)}
	}
	return resp, nil
}

func (f *fakeTemporal) DescribeWorkflow(_ context.Context, id, run string) (*client.WorkflowExecutionDescription, error) {
	f.described = append(f.described, [2]string{id, run})
	st, ok := f.runs[[2]string{id, run}]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	d := &client.WorkflowExecutionDescription{}
	d.Status = st
	if st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		d.WorkflowCloseTime = &closedAt
	}
	return d, nil
}

func openInvoice(invoice, run string) activities.OpenInvoice {
	return activities.OpenInvoice{Invoice: invoice, WorkflowID: workflows.WorkflowID(invoice), RunID: run, Stage: "notice_1"}
}

// An invoice open in the ledger is an orphan when no run of its case is
// running: Temporal's status of the ledger's run says how it ended.
func TestOrphansAreOpenInvoicesWithNoRunningCase(t *testing.T) {
	const (
		running    = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		terminated = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		timedOut   = enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
		failed     = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
		completed  = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		canceled   = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	)
	id := workflows.WorkflowID
	f := &fakeTemporal{
		listed: []string{id("F-1"), id("F-2"), id("F-3"), id("F-4"), id("F-5")},
		runs: map[[2]string]enumspb.WorkflowExecutionStatus{
			{id("T-1"), "r1"}: terminated, {id("T-1"), ""}: terminated,
			{id("T-2"), "r1"}: timedOut, {id("T-2"), ""}: timedOut,
			{id("T-3"), "r1"}: failed, {id("T-3"), ""}: failed,
			{id("T-4"), "r1"}: completed, {id("T-4"), ""}: completed,
			{id("T-5"), "r1"}: canceled, {id("T-5"), ""}: canceled,
			// Started after the listing: the describe of its run finds it running.
			{id("N-1"), "r1"}: running,
			// Returned again: the ledger still holds the closed run until the
			// new one's first step, which takes the row over.
			{id("R-1"), "r1"}: completed, {id("R-1"), ""}: running,
		},
	}
	open := []activities.OpenInvoice{
		openInvoice("F-1", "r1"), openInvoice("T-1", "r1"), openInvoice("F-2", "r1"), openInvoice("T-2", "r1"),
		openInvoice("F-3", "r1"), openInvoice("T-3", "r1"), openInvoice("F-4", "r1"), openInvoice("T-4", "r1"),
		openInvoice("F-5", "r1"), openInvoice("T-5", "r1"), openInvoice("N-1", "r1"), openInvoice("R-1", "r1"),
		// Past the namespace's retention.
		openInvoice("G-1", "r1"),
	}
	got, err := cases.Orphans(context.Background(), f, open)
	require.NoError(t, err)
	want := map[string]string{"T-1": "terminated", "T-2": "timed_out", "T-3": "failed", "T-4": "completed",
		"T-5": "canceled", "G-1": cases.StatusNotFound}
	status := map[string]string{}
	for _, o := range got {
		status[o.Invoice] = o.Status
		require.Equal(t, "r1", o.RunID)
		require.Equal(t, "notice_1", o.Stage)
		if o.Status == cases.StatusNotFound {
			require.Nil(t, o.ClosedAt)
		} else {
			require.Equal(t, closedAt, *o.ClosedAt)
		}
	}
	require.Equal(t, want, status)
	for _, d := range f.described {
		require.False(t, strings.HasPrefix(d[0], id("F-")), "a case the listing shows running is not described: %v", d)
	}
}

func TestOrphansOfNothingAskNothing(t *testing.T) {
	f := &fakeTemporal{listErr: errors.New("must not be called")}
	got, err := cases.Orphans(context.Background(), f, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestOrphansReportsWhatTemporalCouldNotAnswer(t *testing.T) {
	f := &fakeTemporal{listErr: serviceerror.NewUnavailable("frontend down")}
	_, err := cases.Orphans(context.Background(), f, []activities.OpenInvoice{openInvoice("F-1", "r1")})
	require.ErrorContains(t, err, "list running cases")
	require.ErrorContains(t, err, "frontend down")
}
