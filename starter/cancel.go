package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// cmdCancel cancels an open case at a person's request: who and why go to the
// ledger first, so the case's own close of the invoice keeps them, then the
// running case is cancelled.
func cmdCancel(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	reason := fs.String("reason", "", "why the case is cancelled (required)")
	by := fs.String("by", whoami(), "who cancels it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	why := strings.TrimSpace(*reason)
	if why == "" {
		return errors.New("--reason is required")
	}
	return withClient(ctx, func(c client.Client) error {
		// Before anything is written: an unknown or closed case has nothing
		// to cancel, and its ledger row must not carry a request.
		runID, err := cases.Running(ctx, c, invoice)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.RequestCancel(ctx, invoice, *by, why); err != nil {
			return err
		}
		if err := c.CancelWorkflow(ctx, workflows.WorkflowID(invoice), runID); err != nil {
			return fmt.Errorf("invoice %s: cancel the case: %w", invoice, err)
		}
		fmt.Fprintf(out, "invoice %s: cancellation requested (%s)\n", invoice, why)
		return nil
	})
}

// cmdOrphans lists the invoices open in the ledger whose case no longer runs
// in Temporal, and fails when there is any, so a scheduler can alert on it.
func cmdOrphans(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("orphans", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	open, err := db.ListOpenInvoices(ctx)
	if err != nil {
		return err
	}
	return withClient(ctx, func(c client.Client) error {
		orphans, err := cases.Orphans(ctx, c, open)
		if err != nil {
			return err
		}
		if *asJSON {
			if orphans == nil {
				orphans = []activities.Orphan{}
			}
			if err := writeJSON(out, orphans); err != nil {
				return err
			}
		} else {
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "INVOICE\tSTAGE\tOPENED\tCASE\tCLOSED\tWORKFLOW\tRUN")
			for _, o := range orphans {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Invoice, o.Stage, when(&o.OpenedAt, "02/01/2006"),
					o.Status, when(o.ClosedAt, "02/01/2006 15:04"), o.WorkflowID, o.RunID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d of %d open invoice(s) have no running case\n", len(orphans), len(open))
		}
		if len(orphans) > 0 {
			return fmt.Errorf("%d invoice(s) open in the ledger whose case is closed: start it again with starter start --reopen, or close the invoice", len(orphans))
		}
		return nil
	})
}
