package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/elega/impagos/internal/money"
)

// WriteText prints the totals by stage and the check of the total.
func WriteText(out io.Writer, r *Result) error {
	fmt.Fprintf(out, "Returned invoices as of %s (ledger at %s)\n\n", r.AsOf.Format("02/01/2006"),
		r.Cutoff.In(madrid).Format("02/01/2006 15:04"))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "STAGE\tINVOICES\tOWING\t%14s\t%s\n", "PENDING", ages(AgeBuckets[:]...))
	for _, s := range r.Totals.Stages {
		fmt.Fprintf(tw, "%s\t%8d\t%5d\t%14s\t%s\n", s.Label, s.Invoices, s.Owing, money.Format(s.PendingCents), euros4(s.AgeCents))
	}
	t := r.Totals
	fmt.Fprintf(tw, "%s\t%8d\t%5d\t%14s\t%s\n", GrandTotalCaption, t.Invoices, t.Owing, money.Format(t.PendingCents), euros4(t.AgeCents))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "rows: %d in management (yellow), %d cut (red), %d resolved\n\n", t.Managing, t.Cut, t.Resolved)
	if err := writeReasons(out, &t); err != nil {
		return err
	}

	c := r.Check
	fmt.Fprintln(out, "Check of the total:")
	switch c.Status {
	case CheckFirst:
		fmt.Fprintf(out, "  first report: no previous total to check against; %s is the first\n", money.Format(c.TotalCents))
		return nil
	case CheckSkipped:
		fmt.Fprintf(out, "  not checked: the last checked report (#%d, %s) describes a later moment\n",
			c.PreviousRunID, c.PreviousAt.In(madrid).Format("02/01/2006 15:04"))
		return nil
	}
	line := func(label string, cents int64) { fmt.Fprintf(out, "%-46s %14s\n", label, money.Format(cents)) }
	line(fmt.Sprintf("  previous total (report #%d, %s)", c.PreviousRunID, c.PreviousAt.In(madrid).Format("02/01/2006 15:04")),
		c.PreviousCents)
	line(fmt.Sprintf("+ new returns (%d)", c.NewReturns), c.NewReturnsCents)
	line(fmt.Sprintf("- payments (%d)", c.Payments), c.PaymentsCents)
	line("= expected", c.ExpectedCents)
	line("  "+GrandTotalCaption, c.TotalCents)
	line("  difference", c.DifferenceCents)
	switch c.Status {
	case CheckBalanced:
		fmt.Fprintln(out, "  balanced")
	case CheckAccepted:
		fmt.Fprintf(out, "  DOES NOT BALANCE, accepted: %s\n", c.Note)
	default:
		fmt.Fprintf(out, "  DOES NOT BALANCE: %s off\n", money.Format(c.DifferenceCents))
	}
	if c.OverpaidCents > 0 {
		fmt.Fprintf(out, "  overpaid, not subtracted: %s (%s)\n", money.Format(c.OverpaidCents), invoices(c.Overpaid))
	}
	if g := c.Stray.Unknown; g.Count > 0 {
		fmt.Fprintf(out, "  %d payment(s) of invoices not in the table, not subtracted: %s (%s)\n",
			g.Count, money.Format(g.Cents), strings.Join(g.Invoices, ", "))
	}
	if g := c.Stray.BeforeReturn; g.Count > 0 {
		fmt.Fprintf(out, "  %d payment(s) dated before the return, not subtracted: %s (%s)\n",
			g.Count, money.Format(g.Cents), strings.Join(g.Invoices, ", "))
	}
	if len(c.Explanations) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nInvoices that explain the difference:")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, e := range c.Explanations {
		inv := e.Invoice
		if inv == "" {
			inv = "(previous total)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", inv, money.Format(e.Cents), e.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.MoreExplanations > 0 {
		fmt.Fprintf(out, "  and %d more\n", c.MoreExplanations)
	}
	return nil
}

// writeReasons prints what is owed by the path of the bank's reason and by
// reason code; PathNone, the invoices without a bank's reason.
func writeReasons(out io.Writer, t *Totals) error {
	if len(t.Paths) == 0 {
		return nil
	}
	fmt.Fprintln(out, "By the bank's reason for the return:")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  PATH\tREASON\tINVOICES\tOPEN\t%14s\n", "PENDING")
	line := func(path, reason string, r ReasonTotal) {
		fmt.Fprintf(tw, "  %s\t%s\t%8d\t%4d\t%14s\n", path, reason, r.Invoices, r.Open, money.Format(r.PendingCents))
	}
	for _, p := range t.Paths {
		name := p.Path
		if name == PathNone {
			name += " (TRADE, no reason)"
		}
		line(name, "", p)
		for _, r := range t.Reasons {
			if r.Path == p.Path && r.Reason != "" {
				line("", r.Reason, r)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}

// ages pads the age columns' headers to the width of their amounts.
func ages(names ...string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = fmt.Sprintf("%14s", n)
	}
	return strings.Join(s, "\t")
}

func euros4(cents [4]int64) string {
	s := make([]string, len(cents))
	for i, c := range cents {
		s[i] = fmt.Sprintf("%14s", money.Format(c))
	}
	return strings.Join(s, "\t")
}

func invoices(list []Explanation) string {
	s := make([]string, len(list))
	for i, e := range list {
		s[i] = e.Invoice
	}
	return strings.Join(s, ", ")
}
