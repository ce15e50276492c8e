package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

func cmdStart(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	invoice := fs.String("invoice", "", "invoice number (Número de Factura)")
	customer := fs.String("customer", "", "customer (Cliente)")
	amount := fs.String("amount", "", "amount due, e.g. 1.234,56")
	cupsCode := fs.String("cups", "", "supply point (CUPS)")
	returned := fs.String("returned", "", "date the bank returned the invoice (default today)")
	policyName := fs.String("policy", "", "policy: default or demo (default $IMPAGOS_POLICY)")
	reopen := fs.Bool("reopen", false, "the invoice was returned again after its case closed: open a new case")
	segment := fs.String("segment", "", "contract type: domestico or empresa (stores the contract)")
	phone := fs.String("phone", "", "contract phone")
	email := fs.String("email", "", "contract e-mail")
	taxID := fs.String("tax-id", "", "contract NIF/CIF")
	province := fs.String("province", "", "contract province")
	bono := fs.Bool("bono-social", false, "Bono Social customer")
	essential := fs.Bool("essential", false, "Suministro Esencial")
	protected := fs.Bool("protected", false, "protected household")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	in := workflows.Input{Invoice: strings.TrimSpace(*invoice), Customer: strings.TrimSpace(*customer)}
	var err error
	if in.Invoice == "" {
		return errors.New("--invoice is required")
	}
	if in.AmountCents, err = money.Parse(*amount); err != nil {
		return fmt.Errorf("--amount: %w", err)
	}
	if in.AmountCents <= 0 {
		return fmt.Errorf("--amount must be positive, got %s", money.Format(in.AmountCents))
	}
	if in.Cups, err = cups.Parse(*cupsCode); err != nil {
		return fmt.Errorf("--cups: %w", err)
	}
	in.ReturnedAt, err = parseDate(*returned, "--returned")
	if err != nil {
		return err
	}
	cfg := engine.FromEnv()
	if in.Policy, err = cfg.Policy(*policyName); err != nil {
		return err
	}
	if *segment != "" {
		seg, err := parseSegment(*segment)
		if err != nil {
			return err
		}
		db, err := store.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		if err := db.UpsertContract(ctx, activities.Contract{
			Customer: in.Customer, TaxID: *taxID, Cups: in.Cups, Segment: seg, Phone: *phone, Email: *email,
			Province: *province, BonoSocial: *bono, Essential: *essential, Protected: *protected,
		}); err != nil {
			return err
		}
	}
	c, err := engine.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	outcome, err := cases.Start(ctx, c, cfg.TaskQueue, in, *reopen)
	if err != nil {
		return err
	}
	switch outcome {
	case cases.Started:
		fmt.Fprintf(out, "started %s (%s, policy %s)\n", workflows.WorkflowID(in.Invoice), money.Format(in.AmountCents), in.Policy.Name)
	case cases.AlreadyOpen:
		fmt.Fprintf(out, "invoice %s already has an open case: nothing started\n", in.Invoice)
	case cases.AlreadyClosed:
		return fmt.Errorf("invoice %s had a case that is closed; use --reopen if it was returned again", in.Invoice)
	}
	return nil
}

func cmdStatus(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the state as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	c, err := engine.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := cases.State(ctx, c, invoice)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printState(out, st)
	return nil
}

func printState(out io.Writer, st workflows.State) {
	fmt.Fprintf(out, "Invoice %s · %s · CUPS %s · policy %s\n", st.Invoice, st.Customer, st.Cups, st.Policy)
	fmt.Fprintf(out, "Stage:       %s", st.Stage)
	if st.Segment != "" {
		fmt.Fprintf(out, " (%s", st.Segment)
		for _, f := range []struct {
			on   bool
			name string
		}{{st.BonoSocial, "Bono Social"}, {st.Essential, "suministro esencial"}, {st.Protected, "protegido"}} {
			if f.on {
				fmt.Fprintf(out, ", %s", f.name)
			}
		}
		fmt.Fprint(out, ")")
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Amount due:  %s of %s\n", money.Format(st.AmountDueCents), money.Format(st.AmountCents))
	if st.Phone != "" || st.Email != "" {
		fmt.Fprintf(out, "Contact:     %s %s\n", st.Phone, st.Email)
	}
	if st.NextAction != "" {
		at := ""
		if st.NextActionAt != nil {
			at = " on " + when(st.NextActionAt, "02/01/2006 15:04")
		}
		fmt.Fprintf(out, "Next:        %s%s\n", st.NextAction, at)
	}
	if st.CutDate != nil {
		fmt.Fprintf(out, "Cut date:    %s\n", when(st.CutDate, "02/01/2006"))
	}
	if st.CutAt != nil {
		fmt.Fprintf(out, "Cut:         %s (approved by %s)\n", when(st.CutAt, "02/01/2006 15:04"), st.CutApprovedBy)
	}
	for _, r := range []*activities.DistributorState{st.Request, st.Release} {
		if r != nil {
			fmt.Fprintf(out, "Distributor: %s\n", distributorLine(r))
		}
	}
	if st.ReconnectDueAt != nil {
		fmt.Fprintf(out, "Reconnect by: %s\n", when(st.ReconnectDueAt, "02/01/2006 15:04"))
	}
	if st.Breach != "" {
		fmt.Fprintf(out, "BREACH:      %s\n", st.Breach)
	}
	if st.ReconnectAt != nil {
		fmt.Fprintf(out, "Reconnected: %s\n", when(st.ReconnectAt, "02/01/2006 15:04"))
	}
	if st.Return != nil {
		fmt.Fprintf(out, "Bank reason: %s, path %s", st.Return.Reason, st.Return.Path)
		if st.Return.Description != "" {
			fmt.Fprintf(out, " (%s)", st.Return.Description)
		}
		fmt.Fprintln(out)
	}
	if st.Task != "" {
		fmt.Fprintf(out, "Task:        %s\n", st.Task)
	}
	if st.Hold != nil {
		fmt.Fprintf(out, "On hold:     %s (by %s since %s)\n", st.Hold.Reason, st.Hold.By, when(&st.Hold.At, "02/01/2006 15:04"))
	}
	if st.Attention != "" {
		fmt.Fprintf(out, "ATTENTION:   %s (since %s)\n", st.Attention, when(st.AttentionSince, "02/01/2006 15:04"))
	}
	if len(st.Notices) > 0 {
		fmt.Fprintln(out, "Notices:")
		letter := false
		for _, n := range st.Notices {
			status := n.Status
			if n.Detail != "" {
				status += ": " + n.Detail
			}
			fmt.Fprintf(out, "  %s  %-14s %-10s outbox #%-5d %s\n", when(&n.At, "02/01/2006 15:04"), n.Kind, n.Channel, n.OutboxID, status)
			letter = letter || n.Kind == activities.KindCutLetter
		}
		if letter {
			fmt.Fprintf(out, "Cut letter:  starter letter %s --out %s\n", st.Invoice, activities.LetterFilename(st.Invoice))
		}
		if notice, _ := st.FormalNotice(); notice != "none" {
			fmt.Fprintf(out, "Formal notice: %s\n", formalNotice(st))
		}
	}
	fmt.Fprintln(out, "History:")
	for _, e := range st.History {
		by := ""
		if e.By != "" {
			by = " [" + e.By + "]"
		}
		fmt.Fprintf(out, "  %s  %-13s %s%s\n", when(&e.At, "02/01/2006 15:04"), e.Stage, e.What, by)
	}
}

func cmdPaid(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("paid", flag.ContinueOnError)
	amount := fs.String("amount", "", "amount paid, e.g. 1.234,56")
	reference := fs.String("reference", "", "payment reference (makes a repeated report harmless)")
	paidAt := fs.String("paid-at", "", "payment date (default now)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	cents, err := money.Parse(*amount)
	if err != nil {
		return fmt.Errorf("--amount: %w", err)
	}
	if cents <= 0 || cents > workflows.MaxPaymentCents {
		return fmt.Errorf("--amount %s is not a payment (must be between 0,01 € and %s)", money.Format(cents), money.Format(workflows.MaxPaymentCents))
	}
	sig := workflows.PaidSignal{AmountCents: cents, Reference: strings.TrimSpace(*reference)}
	if *paidAt != "" {
		if sig.PaidAt, err = parseDate(*paidAt, "--paid-at"); err != nil {
			return err
		}
	}
	return withClient(ctx, func(c client.Client) error {
		return act(ctx, c, out, invoice, workflows.UpdatePaid, whoami(), sig)
	})
}

// act sends a clerk's action to a case as an update and prints the case's
// answer. A refusal is printed, kept on the audit trail (the case's history
// never saw it) and returned, so the command exits non-zero.
func act(ctx context.Context, c client.Client, out io.Writer, invoice, action, by string, arg any) error {
	ans, err := cases.Update(ctx, c, invoice, action, arg)
	var refused *cases.Refused
	if errors.As(err, &refused) {
		fmt.Fprintf(out, "invoice %s: refused: %s\n", invoice, refused.Reason)
		auditRefusal(ctx, out, invoice, action, by, refused.Reason)
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "invoice %s: %s\n", invoice, ans.Detail)
	return nil
}

// auditRefusal writes a refused action to the audit trail; a ledger that
// cannot be reached is said, and does not hide the refusal.
func auditRefusal(ctx context.Context, out io.Writer, invoice, action, by, reason string) {
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err == nil {
		defer db.Close()
		err = db.RecordRefusal(ctx, activities.CaseRef{Invoice: invoice, WorkflowID: workflows.WorkflowID(invoice)}, by, action, reason)
	}
	if err != nil {
		fmt.Fprintf(out, "invoice %s: the refusal is not on the audit trail: %v\n", invoice, err)
	}
}

func cmdContactUpdated(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("contact-updated", flag.ContinueOnError)
	by := fs.String("by", whoami(), "who updated the contract")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	return withClient(ctx, func(c client.Client) error {
		return act(ctx, c, out, invoice, workflows.UpdateContactUpdated, *by, workflows.ContactUpdatedSignal{By: *by})
	})
}

func cmdCuts(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cuts", flag.ContinueOnError)
	date := fs.String("date", "", "only cuts dated this day (YYYY-MM-DD)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	var day time.Time
	if *date != "" {
		var err error
		if day, err = parseDate(*date, "--date"); err != nil {
			return err
		}
	}
	return withClient(ctx, func(c client.Client) error {
		states, err := awaitingReview(ctx, c)
		if err != nil {
			return err
		}
		blocked, err := casesIn(ctx, c, workflows.StageCutBlocked)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STAGE\tCUT DATE\tINVOICE\tCUSTOMER\tCUPS\tAMOUNT DUE\tPHONE\tSEGMENT\tFORMAL NOTICE")
		n, nb := 0, 0
		for _, st := range append(states, blocked...) {
			if !day.IsZero() && (st.CutDate == nil || !sameDay(*st.CutDate, day)) {
				continue
			}
			if st.Stage == workflows.StageCutBlocked {
				nb++
			} else {
				n++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Stage, when(st.CutDate, "02/01/2006"), st.Invoice, st.Customer, st.Cups,
				money.Format(st.AmountDueCents), st.Phone, st.Segment, formalNotice(st))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d case(s) awaiting the cuts desk; %d blocked (no cut may be requested: see starter status)\n", n, nb)
		return nil
	})
}

func awaitingReview(ctx context.Context, c client.Client) ([]workflows.State, error) {
	return casesIn(ctx, c, workflows.StageCutReview)
}

// casesIn returns the state of every open case in a stage.
func casesIn(ctx context.Context, c client.Client, stage workflows.Stage) ([]workflows.State, error) {
	invoices, err := cases.InStage(ctx, c, engine.FromEnv().TaskQueue, stage)
	if err != nil {
		return nil, err
	}
	states := make([]workflows.State, 0, len(invoices))
	for _, inv := range invoices {
		st, err := cases.State(ctx, c, inv)
		if err != nil {
			return nil, err
		}
		states = append(states, st)
	}
	return states, nil
}

func cmdApproveCut(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("approve-cut", flag.ContinueOnError)
	allDue := fs.Bool("all-due", false, "approve every case awaiting review")
	by := fs.String("by", whoami(), "who approves")
	note := fs.String("note", "", "note for the history")
	invoices, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *allDue == (len(invoices) > 0) {
		return errors.New("give invoices or --all-due, not both and not neither")
	}
	return withClient(ctx, func(c client.Client) error {
		if *allDue {
			if invoices, err = cases.InStage(ctx, c, engine.FromEnv().TaskQueue, workflows.StageCutReview); err != nil {
				return err
			}
		}
		// A case in cut_blocked (no proof of its formal notice) is not under
		// review, so --all-due never reaches it, and naming it is refused.
		var failed int
		for _, inv := range invoices {
			if err := act(ctx, c, out, inv, workflows.UpdateApproveCut, *by, workflows.ApproveCutSignal{By: *by, Note: *note}); err != nil {
				var refused *cases.Refused
				if !errors.As(err, &refused) {
					fmt.Fprintf(out, "invoice %s: not approved: %v\n", inv, err)
				}
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d invoice(s) not approved", failed, len(invoices))
		}
		return nil
	})
}

// formalNotice is the cuts list's column: how the notice the cut must follow
// went out, marked when nothing proves it reached the customer.
func formalNotice(st workflows.State) string {
	notice, proven := st.FormalNotice()
	if proven {
		return notice
	}
	return "NOT PROVEN: " + notice
}

func cmdHold(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	reason := fs.String("reason", "", "why the case waits")
	by := fs.String("by", whoami(), "who holds it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("--reason is required")
	}
	return withClient(ctx, func(c client.Client) error {
		return act(ctx, c, out, invoice, workflows.UpdateHold, *by, workflows.HoldSignal{Reason: *reason, By: *by})
	})
}

func cmdRelease(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	by := fs.String("by", whoami(), "who releases it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	return withClient(ctx, func(c client.Client) error {
		return act(ctx, c, out, invoice, workflows.UpdateRelease, *by, workflows.ReleaseSignal{By: *by})
	})
}

func cmdCutday(_ context.Context, args []string, out io.Writer) error {
	return cutday(args, out, os.Stderr)
}

// cutday prints the first allowed cut day on or after a date, in a province,
// and nothing else, so scripts can read it; what the reader should know
// about the answer (an unknown province, provisional data) goes to note.
func cutday(args []string, out, note io.Writer) error {
	fs := flag.NewFlagSet("cutday", flag.ContinueOnError)
	province := fs.String("province", "", "province of the supply, by name or INE code (default: every region's holidays count)")
	holidays := fs.String("holidays", "", "file of holidays the retailer adds (default $IMPAGOS_HOLIDAYS_FILE)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	arg, err := one(pos, "date")
	if err != nil {
		return err
	}
	d, err := time.ParseInLocation(time.DateOnly, arg, calendar.Madrid)
	if err != nil {
		return fmt.Errorf("date %q is not YYYY-MM-DD", arg)
	}
	first, through := calendar.Years()
	if y := d.Year(); y < first || y > through {
		return fmt.Errorf("the holiday calendar for %d is missing: the regional holidays cover %d to %d (internal/calendar/holidays)", y, first, through)
	}
	path := *holidays
	if path == "" {
		path = engine.FromEnv().Holidays
	}
	extra, err := calendar.LoadExtra(path)
	if err != nil {
		return err
	}
	if p := strings.TrimSpace(*province); p != "" {
		if _, ok := calendar.LookupProvince(p); !ok {
			if c, ok := calendar.LookupCommunity(p); ok {
				fmt.Fprintf(note, "note: %q is a community, not a province: the holidays of all the provinces of %s count\n", p, c.Name)
			} else {
				fmt.Fprintf(note, "note: unknown province %q: every region's holidays count\n", p)
			}
		}
	}
	cal, _ := calendar.ForProvince(*province, extra)
	day := cal.NextCutDay(d)
	if day.Year() > through {
		return fmt.Errorf("the first allowed cut day after %s falls in %d, and the holiday calendar for %d is missing (the regional holidays cover %d to %d)",
			arg, day.Year(), day.Year(), first, through)
	}
	if calendar.Provisional(day.Year()) {
		fmt.Fprintf(note, "note: the regional holidays of %d are provisional until checked against the BOE's list\n", day.Year())
	}
	fmt.Fprintln(out, day.Format(time.DateOnly))
	return nil
}

func cmdMigrate(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "database is up to date")
	return nil
}

func withClient(ctx context.Context, f func(client.Client) error) error {
	c, err := engine.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

func parseSegment(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "domestico", "doméstico", "domestic":
		return activities.SegmentDomestic, nil
	case "empresa", "business":
		return activities.SegmentBusiness, nil
	}
	return "", fmt.Errorf("--segment %q: want domestico or empresa", s)
}

// parseDate reads YYYY-MM-DD in Madrid; empty means now.
func parseDate(s, flagName string) (time.Time, error) {
	if s == "" {
		return time.Now().In(calendar.Madrid), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, calendar.Madrid)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not YYYY-MM-DD", flagName, s)
	}
	return d, nil
}

func when(t *time.Time, layout string) string {
	if t == nil {
		return "—"
	}
	return t.In(calendar.Madrid).Format(layout)
}

func sameDay(a, b time.Time) bool {
	a, b = a.In(calendar.Madrid), b.In(calendar.Madrid)
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

func whoami() string {
	for _, k := range []string{"IMPAGOS_USER", "USER"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return "desconocido"
}

// distributorLine says where a request to the distributor stands: its kind,
// B1 code, status and the dates the distributor gave.
func distributorLine(r *activities.DistributorState) string {
	line := fmt.Sprintf("%s B1 %s %s", r.Kind, r.Code, r.Status)
	if r.PlannedOn != nil {
		line += ", planned " + when(r.PlannedOn, "02/01/2006")
	}
	if r.ExecutedOn != nil {
		line += ", executed " + when(r.ExecutedOn, "02/01/2006")
	}
	for _, rj := range r.Rejections {
		line += fmt.Sprintf(", rejected %s %s (%s)", rj.Code, rj.Text, rj.Class)
	}
	return line
}
