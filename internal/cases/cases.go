// Package cases starts and steers the cases of returned invoices from outside
// the workflow: the starter's commands and the imports use it.
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
	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/workflows"
)

// ErrUnknown means no case was ever started for the invoice.
var ErrUnknown = errors.New("no case for this invoice")

// ErrClosed means the invoice's case has ended.
var ErrClosed = errors.New("the case is closed")

// Outcome says what Start did.
type Outcome string

// Outcomes of Start.
const (
	Started       Outcome = "started"
	AlreadyOpen   Outcome = "already_open"
	AlreadyClosed Outcome = "already_closed"
)

// Start starts the case of a returned invoice. An open case is never started
// twice; a closed one gets a new run only when reopen is true (the invoice was
// returned again).
//
// The start carries no search attributes: the case sets all of them in its
// first workflow task, as it must anyway to keep them current, and on the
// dev server the same five attributes given at the start made each start cost
// the server a fifth more (make bench, figure 2). Until that first task the
// Web UI finds the case by its workflow id (impago-<invoice>) and shows its
// summary; its filters by stage, CUPS or customer find it from then on.
func Start(ctx context.Context, c client.Client, taskQueue string, in workflows.Input, reopen bool) (Outcome, error) {
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if reopen {
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	opts := client.StartWorkflowOptions{
		ID:                                       workflows.WorkflowID(in.Invoice),
		TaskQueue:                                taskQueue,
		WorkflowIDReusePolicy:                    reuse,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary: fmt.Sprintf("Factura %s · %s · %s · %s",
			in.Invoice, in.Customer, in.Cups, money.Format(in.AmountCents)),
		StaticDetails: fmt.Sprintf("**Factura** %s\n\n**Cliente** %s\n\n**CUPS** %s\n\n**Importe** %s\n\n**Política** %s",
			in.Invoice, in.Customer, in.Cups, money.Format(in.AmountCents), in.Policy.Name),
	}
	_, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowType, in)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		return Started, nil
	case errors.As(err, &already):
		if _, derr := Running(ctx, c, in.Invoice); errors.Is(derr, ErrClosed) {
			return AlreadyClosed, nil
		}
		return AlreadyOpen, nil
	}
	return "", fmt.Errorf("start case of invoice %s: %w", in.Invoice, err)
}

// Running returns the run id of the invoice's open case, ErrUnknown when there
// is none and ErrClosed when it has ended.
func Running(ctx context.Context, c client.Client, invoice string) (string, error) {
	d, err := c.DescribeWorkflow(ctx, workflows.WorkflowID(invoice), "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return "", fmt.Errorf("invoice %s: %w", invoice, ErrUnknown)
	}
	if err != nil {
		return "", fmt.Errorf("invoice %s: %w", invoice, err)
	}
	if d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		status := strings.ToLower(strings.TrimPrefix(d.Status.String(), "WORKFLOW_EXECUTION_STATUS_"))
		return "", fmt.Errorf("invoice %s (%s): %w", invoice, status, ErrClosed)
	}
	return d.WorkflowExecution.RunID, nil
}

// State asks a case, open or closed, for its state.
func State(ctx context.Context, c client.Client, invoice string) (workflows.State, error) {
	var st workflows.State
	v, err := c.QueryWorkflow(ctx, workflows.WorkflowID(invoice), "", workflows.QueryState)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, fmt.Errorf("invoice %s: %w", invoice, ErrUnknown)
	}
	if err != nil {
		return st, fmt.Errorf("invoice %s: state: %w", invoice, err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("invoice %s: state: %w", invoice, err)
	}
	return st, nil
}

// Signal sends a signal to the invoice's open case.
func Signal(ctx context.Context, c client.Client, invoice, name string, arg any) error {
	runID, err := Running(ctx, c, invoice)
	if err != nil {
		return err
	}
	if err := c.SignalWorkflow(ctx, workflows.WorkflowID(invoice), runID, name, arg); err != nil {
		return fmt.Errorf("invoice %s: %s: %w", invoice, name, err)
	}
	return nil
}

// InStage lists the invoices of the open cases of a task queue in a stage, as
// the UI's filter would.
func InStage(ctx context.Context, c client.Client, taskQueue string, stage workflows.Stage) ([]string, error) {
	q := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"Running\" AND TaskQueue = %q AND Stage = %q",
		workflows.WorkflowType, taskQueue, stage)
	var out []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list cases in %s: %w", stage, err)
		}
		for _, e := range resp.GetExecutions() {
			out = append(out, workflows.InvoiceOf(e.GetExecution().GetWorkflowId()))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return out, nil
		}
	}
}

// Refused is a clerk's action the case refused, with its reason.
type Refused struct {
	Invoice string
	Action  string
	Reason  string
}

func (r *Refused) Error() string { return fmt.Sprintf("invoice %s: refused: %s", r.Invoice, r.Reason) }

// AnswerWait is how long Update waits for the case's answer before it says
// the action was accepted and is pending.
const AnswerWait = 10 * time.Second

// Update sends a clerk's action to the invoice's open case as an update and
// returns the case's answer. A refusal (by the case's validator, or by its
// handler, e.g. the ledger refusing a hold) is a *Refused. An action the case
// accepted and has not answered within AnswerWait comes back with Outcome
// "pending": it goes on in the case.
func Update(ctx context.Context, c client.Client, invoice, name string, arg any) (workflows.Answer, error) {
	runID, err := Running(ctx, c, invoice)
	if err != nil {
		return workflows.Answer{}, err
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.WorkflowID(invoice),
		RunID:        runID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return workflows.Answer{}, refusedOr(invoice, name, err)
	}
	wctx, cancel := context.WithTimeout(ctx, AnswerWait)
	defer cancel()
	var ans workflows.Answer
	err = h.Get(wctx, &ans)
	switch {
	case err == nil:
		return ans, nil
	case wctx.Err() != nil && ctx.Err() == nil:
		return workflows.Answer{Outcome: "pending", Detail: "accepted, pending: the case answers when it has done it (starter status " + invoice + ")"}, nil
	}
	return workflows.Answer{}, refusedOr(invoice, name, err)
}

// refusedOr turns the case's refusal into a *Refused and leaves other errors.
func refusedOr(invoice, action string, err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == "Refused" {
		return &Refused{Invoice: invoice, Action: action, Reason: app.Message()}
	}
	return fmt.Errorf("invoice %s: %s: %w", invoice, action, err)
}
