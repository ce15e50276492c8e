package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/workflows"
)

// cmdAttention lists the open cases flagged NeedsAttention with why: an
// activity failing past its bound, a missing calendar, a refusal the case
// cannot place. The supervisor's filter in the Web UI is NeedsAttention = true.
func cmdAttention(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("attention", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return withClient(ctx, func(c client.Client) error {
		q := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"Running\" AND TaskQueue = %q AND NeedsAttention = true",
			workflows.WorkflowType, engine.FromEnv().TaskQueue)
		var states []workflows.State
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
			if err != nil {
				return fmt.Errorf("list cases needing attention: %w", err)
			}
			for _, e := range resp.GetExecutions() {
				st, err := cases.State(ctx, c, workflows.InvoiceOf(e.GetExecution().GetWorkflowId()))
				if err != nil {
					return err
				}
				if st.Attention != "" {
					states = append(states, st)
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if *asJSON {
			return json.NewEncoder(out).Encode(states)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SINCE\tINVOICE\tSTAGE\tCUSTOMER\tAMOUNT DUE\tWHY")
		for _, st := range states {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", when(st.AttentionSince, "02/01/2006 15:04"), st.Invoice, st.Stage,
				st.Customer, money.Format(st.AmountDueCents), st.Attention)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d case(s) need attention\n", len(states))
		return nil
	})
}
