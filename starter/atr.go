package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// atrCommands are the distributor desk's subcommands of starter atr.
var atrCommands = map[string]command{
	"import":           cmdATRImport,
	"pending":          cmdATRPending,
	"clear-protection": cmdATRClearProtection,
	"limit-done":       cmdATRLimitDone,
}

// cmdATR runs a subcommand of the distributor desk.
func cmdATR(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: import, pending, clear-protection or limit-done")
	}
	cmd, ok := atrCommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q: want import, pending, clear-protection or limit-done", args[0])
	}
	return cmd(ctx, args[1:], out)
}

// cmdATRImport reads answer files of the distributor by hand, as the worker
// reads its inbox: each is recorded once and its cases told. A file of the
// inbox folder (IMPAGOS_ATR_INBOX) is moved as the worker would; a file
// elsewhere stays where it is. Any file refused makes the command fail.
func cmdATRImport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("atr import", flag.ContinueOnError)
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("want one or more answer files of the distributor")
	}
	cfg, err := distributor.ConfigFromEnv()
	if err != nil {
		return err
	}
	return withStore(ctx, func(db *store.Store) error {
		return withClient(ctx, func(c client.Client) error {
			in := &distributor.Inbox{Dir: cfg.Inbox, Store: db, Signaler: c}
			var rejected, failed int
			for _, f := range files {
				r, err := in.Import(ctx, f)
				if err != nil {
					failed++
					fmt.Fprintf(out, "%s: not read: %v\n", f, err)
					continue
				}
				moved := ""
				if r.Path != f {
					moved = ", moved to " + r.Path
				}
				a := r.Delivery.Answer
				switch r.Outcome {
				case distributor.Rejected:
					rejected++
					fmt.Fprintf(out, "%s: rejected: %s%s\n", f, r.Reason, moved)
				case distributor.Duplicate:
					fmt.Fprintf(out, "%s: duplicate of answer %d, read before; %d case(s) told again%s\n",
						f, a.MessageID, len(r.Delivery.WorkflowIDs), moved)
				default:
					fmt.Fprintf(out, "%s: processed: step %s (%s) of request %s, now %s; %d case(s) told%s\n",
						f, a.Step, a.Kind, a.Request.Code, a.Request.Status, len(r.Delivery.WorkflowIDs), moved)
				}
			}
			switch {
			case failed > 0:
				return fmt.Errorf("%d of %d file(s) not read, %d rejected", failed, len(files), rejected)
			case rejected > 0:
				return fmt.Errorf("%d of %d file(s) rejected", rejected, len(files))
			}
			return nil
		})
	})
}

// cmdATRPending lists what of the distributor waits for someone: the
// requests without their answer, the power limitations to do by hand and the
// answer files the inbox refused. --overdue lists only the requests past
// their bound: reconnections not accepted by the end of the day after the
// payment, and answers or cuts later than the default policy allows.
func cmdATRPending(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("atr pending", flag.ContinueOnError)
	overdue := fs.Bool("overdue", false, "only the requests past their bound")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	holidays, err := engine.FromEnv().HolidayExtra()
	if err != nil {
		return err
	}
	p := workflows.DefaultPolicy()
	bounds := store.ATRBounds{AnswerWorkingDays: p.AnswerWithinWorkingDays, ExecuteWorkingDays: p.ExecuteWithinWorkingDays,
		ActionHour: p.ActionHour, Holidays: holidays}
	return withStore(ctx, func(db *store.Store) error {
		pending, err := db.PendingATR(ctx, bounds, *overdue)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(out).Encode(pending)
		}
		return printPending(out, pending, *overdue)
	})
}

func printPending(out io.Writer, p store.ATRPending, overdueOnly bool) error {
	late := 0
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUESTED\tCUPS\tINVOICE\tCODE\tKIND\tSTATUS\tAWAITING\tPLANNED\tDUE\tAGE")
	for _, r := range p.Requests {
		due := when(&r.Due, "02/01/2006 15:04")
		if r.Overdue {
			late++
			due += " LATE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%dd\n", when(&r.RequestedAt, "02/01/2006 15:04"), r.Cups,
			r.Invoice, r.Code, r.Kind, r.Status, r.Awaiting, when(r.PlannedOn, "02/01/2006"), due, r.AgeDays)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d request(s) awaiting the distributor, %d late\n", len(p.Requests), late)
	if overdueOnly {
		return nil
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSINCE\tCUPS\tINVOICE\tINVOICE STATUS\tTASK\tAPPROVED BY\tAGE")
	for _, l := range p.PowerLimits {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%dd\n", l.ID, when(&l.RequestedAt, "02/01/2006"), l.Cups, l.Invoice,
			l.InvoiceStatus, l.Task(), l.ApprovedBy, l.AgeDays)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d power limitation(s) to do (done: starter atr limit-done ID)\n", len(p.PowerLimits))
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tFILE\tREASON")
	for _, f := range p.RejectedFiles {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", when(&f.At, "02/01/2006 15:04"), f.FileName, f.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d answer file(s) rejected (kept in the inbox's %s/ folder)\n", len(p.RejectedFiles), distributor.RejectedDir)
	return nil
}

// cmdATRClearProtection lifts the distributor's protection of a supply point
// once a person has checked it may be cut again.
func cmdATRClearProtection(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("atr clear-protection", flag.ContinueOnError)
	by := fs.String("by", whoami(), "who clears it")
	reason := fs.String("reason", "", "why the supply may be cut again (required)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	cups, err := one(pos, "CUPS")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("--reason is required")
	}
	return withStore(ctx, func(db *store.Store) error {
		open, err := db.ClearProtection(ctx, cups, *by, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "supply point %s: protection cleared by %s\n", cups, strings.TrimSpace(*by))
		if len(open) > 0 {
			fmt.Fprintf(out, "open invoices: %s (a case held for the protection reads the contract again when released: starter release INVOICE)\n",
				strings.Join(open, ", "))
		}
		return nil
	})
}

// cmdATRLimitDone records that a clerk carried out a power limitation.
func cmdATRLimitDone(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("atr limit-done", flag.ContinueOnError)
	by := fs.String("by", whoami(), "who carried it out")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	arg, err := one(pos, "power limitation ID")
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("power limitation ID %q is not a number (see starter atr pending)", arg)
	}
	return withStore(ctx, func(db *store.Store) error {
		p, err := db.MarkPowerLimitDone(ctx, id, *by)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "power limitation %d (%s, invoice %s, %s kW) recorded done by %s\n", p.ID, p.Cups, p.Invoice,
			strings.Replace(strconv.FormatFloat(p.PowerKW, 'f', -1, 64), ".", ",", 1), p.DoneBy)
		return nil
	})
}
