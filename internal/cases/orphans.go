package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/workflows"
)

// Describer is what the check of orphans asks Temporal: a client.Client is one.
type Describer interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	DescribeWorkflow(ctx context.Context, workflowID, runID string) (*client.WorkflowExecutionDescription, error)
}

// StatusNotFound is an orphan's status when Temporal no longer knows its run:
// closed longer ago than the namespace keeps histories, or never started.
const StatusNotFound = "not_found"

// Orphans returns the invoices open in the ledger whose case does not run in
// Temporal, with the status its run closed with. A case terminated by hand
// runs no code, so its invoice stays open in the ledger with nobody to collect
// it, settle a payment or reconnect: only this check sees it.
//
// One visibility listing of the running cases clears most invoices at once;
// only the others are described one by one, by the run the ledger holds, which
// is authoritative where the listing may lag. An invoice whose case runs again
// in a newer run is not an orphan: that run takes the ledger's row over at its
// first step.
func Orphans(ctx context.Context, c Describer, open []activities.OpenInvoice) ([]activities.Orphan, error) {
	if len(open) == 0 {
		return nil, nil
	}
	running, err := runningCases(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []activities.Orphan
	for _, o := range open {
		id := o.WorkflowID
		if id == "" {
			id = workflows.WorkflowID(o.Invoice)
		}
		if running[id] {
			continue
		}
		status, closedAt, err := runStatus(ctx, c, id, o.RunID)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", o.Invoice, err)
		}
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if o.RunID != "" {
			// The ledger's run is closed: a newer one may have started since,
			// too recently for the listing.
			latest, _, err := runStatus(ctx, c, id, "")
			if err != nil {
				return nil, fmt.Errorf("invoice %s: %w", o.Invoice, err)
			}
			if latest == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
		}
		orphan := activities.Orphan{OpenInvoice: o, Status: StatusNotFound, ClosedAt: closedAt}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
			orphan.Status = statusName(status)
		}
		out = append(out, orphan)
	}
	return out, nil
}

// Checker is activities.Cases on a Temporal client, for the daily digest.
type Checker struct{ Client Describer }

// Orphans returns the open invoices whose case does not run (see Orphans).
func (k Checker) Orphans(ctx context.Context, open []activities.OpenInvoice) ([]activities.Orphan, error) {
	return Orphans(ctx, k.Client, open)
}

// runningCases returns the workflow ids of the cases running now, as the
// visibility store knows them.
func runningCases(ctx context.Context, c Describer) (map[string]bool, error) {
	q := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"Running\"", workflows.WorkflowType)
	running := map[string]bool{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list running cases: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			running[e.GetExecution().GetWorkflowId()] = true
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return running, nil
		}
	}
}

// runStatus describes a run (runID empty: the latest); Temporal not knowing
// it is the status UNSPECIFIED, not an error.
func runStatus(ctx context.Context, c Describer, workflowID, runID string) (enumspb.WorkflowExecutionStatus, *time.Time, error) {
	d, err := c.DescribeWorkflow(ctx, workflowID, runID)
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
		return enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("describe %s run %q: %w", workflowID, runID, err)
	}
	return d.Status, d.WorkflowCloseTime, nil
}

// statusName is Temporal's status of a closed run in snake case (the enum's
// String is CamelCase: TimedOut).
func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued_as_new"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	}
	return strings.ToLower(s.String())
}
