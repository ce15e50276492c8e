package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/store"
)

// importFlags are the flags every import shares.
type importFlags struct {
	fs     *flag.FlagSet
	sheet  *string
	dryRun *bool
	asJSON *bool
	policy *string
}

func newImportFlags(name string) importFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return importFlags{
		fs:     fs,
		sheet:  fs.String("sheet", "", "sheet to read (default: the first with the expected columns)"),
		dryRun: fs.Bool("dry-run", false, "validate and print; write nothing, start nothing"),
		asJSON: fs.Bool("json", false, "print one JSON object"),
		policy: fs.String("policy", "", "policy of the cases started: default or demo (default $IMPAGOS_POLICY)"),
	}
}

// target opens what an import writes to; with --dry-run nothing is opened.
func (f importFlags) target(ctx context.Context) (imports.Target, func(), error) {
	if *f.dryRun {
		return imports.Target{}, func() {}, nil
	}
	cfg := engine.FromEnv()
	policy, err := cfg.Policy(*f.policy)
	if err != nil {
		return imports.Target{}, nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return imports.Target{}, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return imports.Target{}, nil, err
	}
	c, err := engine.Dial(ctx)
	if err != nil {
		db.Close()
		return imports.Target{}, nil, err
	}
	return imports.Target{DB: db, Temporal: c, TaskQueue: cfg.TaskQueue, Policy: policy},
		func() { c.Close(); db.Close() }, nil
}

func (f importFlags) options(out io.Writer) sheets.Options {
	opts := sheets.Options{Sheet: *f.sheet}
	if isTerminal(out) && !*f.asJSON {
		opts.Progress = func(n int) { fmt.Fprintf(os.Stderr, "\r%d rows read", n) }
	}
	return opts
}

// importRun is one kind of import: how to run it and how to tell the clerk
// what it did.
type importRun[R any] struct {
	name   string
	run    func(context.Context, imports.Target, string, sheets.Options, bool) (R, error)
	report func(R) sheets.Report
	json   func(R) any
	// done prints what was stored and sent; an error makes the command fail
	// after everything was said.
	done func(io.Writer, R) error
}

func runImport[R any](ctx context.Context, args []string, out io.Writer, r importRun[R]) error {
	f := newImportFlags(r.name)
	path, err := importFile(f, args)
	if err != nil {
		return err
	}
	t, closeTarget, err := f.target(ctx)
	if err != nil {
		return err
	}
	defer closeTarget()
	res, err := r.run(ctx, t, path, f.options(out), *f.dryRun)
	if isTerminal(out) && !*f.asJSON {
		fmt.Fprint(os.Stderr, "\r")
	}
	rep := r.report(res)
	if err != nil && rep.RowsRead == 0 {
		return err
	}
	if *f.asJSON {
		if jerr := writeJSON(out, r.json(res)); jerr != nil {
			return jerr
		}
		return err
	}
	fmt.Fprintf(out, "%s: %d rows read, %d accepted, %d rejected, %d skipped\n",
		path, rep.RowsRead, rep.Accepted, len(rep.Rejected), rep.Skipped)
	printReport(out, rep)
	if *f.dryRun {
		fmt.Fprintln(out, "dry run: nothing stored, nothing started or sent")
		return err
	}
	if derr := r.done(out, res); err == nil {
		err = derr
	}
	return err
}

func cmdImport(ctx context.Context, args []string, out io.Writer) error {
	return runImport(ctx, args, out, importRun[imports.ReturnsResult]{
		name:   "import",
		run:    imports.Returns,
		report: func(r imports.ReturnsResult) sheets.Report { return r.Report },
		json:   returnsJSON,
		done: func(out io.Writer, res imports.ReturnsResult) error {
			fmt.Fprintf(out, "%d new returns stored; cases: %d started, %d already open, %d already handled\n",
				res.New, res.Started, res.AlreadyOpen, res.AlreadyHandled)
			return failures(out, "not started", res.Failed)
		},
	})
}

// returnsJSON is the import's JSON: the accepted and rejected rows as the
// clerk's tools expect, plus what was done with them.
func returnsJSON(res imports.ReturnsResult) any {
	type accepted struct {
		Row         int    `json:"row"`
		Invoice     string `json:"invoice"`
		Customer    string `json:"customer"`
		AmountCents int64  `json:"amount_cents"`
		Cups        string `json:"cups"`
	}
	acc := make([]accepted, 0, len(res.Accepted))
	for _, r := range res.Accepted {
		acc = append(acc, accepted{r.Row, r.Invoice, r.Customer, r.AmountCents, r.Cups})
	}
	rej := res.Rejected
	if rej == nil {
		rej = []sheets.Rejection{}
	}
	return struct {
		RowsRead       int                `json:"rows_read"`
		Accepted       []accepted         `json:"accepted"`
		Rejected       []sheets.Rejection `json:"rejected"`
		Skipped        int                `json:"skipped"`
		New            int                `json:"new"`
		Started        int                `json:"started"`
		AlreadyOpen    int                `json:"already_open"`
		AlreadyHandled int                `json:"already_handled"`
		Failed         []imports.Failure  `json:"failed,omitempty"`
	}{res.RowsRead, acc, rej, res.Skipped, res.New, res.Started, res.AlreadyOpen, res.AlreadyHandled, res.Failed}
}

func cmdContracts(ctx context.Context, args []string, out io.Writer) error {
	return runImport(ctx, args, out, importRun[imports.ContractsResult]{
		name:   "contracts",
		run:    imports.Contracts,
		report: func(r imports.ContractsResult) sheets.Report { return r.Report },
		json:   func(r imports.ContractsResult) any { return r },
		done: func(out io.Writer, res imports.ContractsResult) error {
			fmt.Fprintf(out, "%d contracts stored; %d case(s) waiting for contact data told to look again\n",
				res.Stored, len(res.Released))
			if len(res.Placed) > 0 {
				fmt.Fprintf(out, "%d bank return(s) waiting for a supply point placed and started: %s\n",
					len(res.Placed), strings.Join(res.Placed, ", "))
			}
			return failures(out, "not told", res.Failed)
		},
	})
}

func cmdPayments(ctx context.Context, args []string, out io.Writer) error {
	return runImport(ctx, args, out, importRun[imports.PaymentsResult]{
		name:   "payments",
		run:    imports.Payments,
		report: func(r imports.PaymentsResult) sheets.Report { return r.Report },
		json:   func(r imports.PaymentsResult) any { return r },
		done: func(out io.Writer, res imports.PaymentsResult) error {
			fmt.Fprintf(out, "%d payments recorded (%d were already in the ledger); %d sent to open cases\n",
				res.Recorded, res.AlreadyRecorded, res.Signalled)
			for _, n := range res.Unknown {
				fmt.Fprintf(out, "  row %d: invoice %s, %s: %s\n", n.Row, n.Invoice, money.Format(n.AmountCents), n.Note)
			}
			for _, n := range res.Overpaid {
				fmt.Fprintf(out, "  row %d: invoice %s overpaid by %s\n", n.Row, n.Invoice, money.Format(n.AmountCents))
			}
			return failures(out, "not sent", res.Failed)
		},
	})
}

// failures lists the cases a signal did not reach; any makes the command fail.
func failures(out io.Writer, what string, failed []imports.Failure) error {
	for _, fl := range failed {
		fmt.Fprintf(out, "  %s: invoice %s: %s\n", what, fl.Invoice, fl.Error)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d case(s) %s; run the import again to retry them", len(failed), what)
	}
	return nil
}

func importFile(f importFlags, args []string) (string, error) {
	pos, err := parse(f.fs, args)
	if err != nil {
		return "", err
	}
	return one(pos, "file")
}

// printReport lists the rejected rows, then the accepted rows that need a look.
func printReport(out io.Writer, rep sheets.Report) {
	printRows(out, rep.Rejected)
	if len(rep.Warnings) > 0 {
		fmt.Fprintf(out, "%d accepted row(s) to check:\n", len(rep.Warnings))
		printRows(out, rep.Warnings)
	}
}

func printRows(out io.Writer, rej []sheets.Rejection) {
	for _, r := range rej {
		inv := r.Invoice
		if inv == "" {
			inv = "—"
		}
		fmt.Fprintf(out, "  row %d (%s): %s\n", r.Row, inv, r.Reason)
	}
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
