// Package report produces the clerks' workbook (PROCESS "Every day"): the
// table of every returned invoice, TABLA DE IMPAGOS, yellow while in
// management, red once the supply is cut, without fill once resolved; the
// RESUMEN TOTAL IMPAGO sheet with a pivot table of what is owed by customer
// and stage and its Total General, and what is owed by the bank's reason for
// the return (by its path and by code); a chart of what is owed by stage and
// age; and the check the clerks do by eye: previous total + new returns -
// payments = new total.
//
// # The day of a report
//
// A report describes the ledger at an instant, its cutoff: now for today's
// report, the end of the day (midnight in Madrid) for an earlier day. At the
// cutoff, the table holds the invoices whose case was opened before it; each
// owes the amount due its case recorded, with the payments recorded after the
// cutoff added back (never more than the invoice, nor than the payments
// recorded by then leave); it counts as resolved if it was settled by the
// cutoff and owes nothing; its cut, reconnection and notices are those the
// ledger recorded before the cutoff, whatever date they carry, and so is the
// bank's reason of its return (that of the latest return a bank's file gave
// the invoice and the ledger matched to it). Its stage is the one the case
// has now: the ledger keeps no history of stages.
//
// # The check of the total
//
// The previous total is that of the latest stored report that balanced (or
// was the first, or was accepted by a person), and each of its invoices' lines.
// For each invoice: what it owed then, plus its amount if it was returned (or
// returned again) since, minus the payments recorded since (for an invoice
// returned since, every payment its case counts), must be what it owes now.
// Payments beyond what an invoice owed are shown as overpaid, not subtracted;
// payments of invoices the table does not hold, or dated before the return,
// are shown, not subtracted. A difference, or invoices whose differences
// cancel out, fail the check and are listed by invoice. The check reads row
// times (when the ledger learned of a return or a payment), so a payment
// dated last week but recorded today counts today.
package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/store"
)

var madrid = calendar.Madrid

// ErrUnbalanced is returned (with the result) when the check of the total fails.
var ErrUnbalanced = errors.New("the total does not balance")

// Options say what report to make.
type Options struct {
	AsOf time.Time // the day; zero: today
	Out  string    // where to write the workbook; empty: no workbook
	// Record stores the run, so that the next report is checked against it
	// (when it balances). A report for a moment before the last checked one
	// is never stored.
	Record bool
	// Accept, with Record, stores a total that does not balance as accepted,
	// with this reason, so that the next report is checked against it.
	Accept string
}

// Result is what a report found.
type Result struct {
	AsOf   time.Time      `json:"as_of"`
	Cutoff time.Time      `json:"cutoff"`
	Totals Totals         `json:"totals"`
	Check  Reconciliation `json:"reconciliation"`
	RunID  int64          `json:"run_id,omitempty"` // the stored run
	File   string         `json:"file,omitempty"`
}

// Run makes the report. When the check fails it returns the result and an
// error wrapping ErrUnbalanced; the workbook is written all the same.
func Run(ctx context.Context, db *store.Store, opts Options) (*Result, error) {
	v, err := db.OpenReportView(ctx, opts.AsOf, opts.Record)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	prev, err := v.LastRun(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{AsOf: v.AsOf(), Cutoff: v.Cutoff()}

	var wb *workbook
	if opts.Out != "" {
		n, err := v.Count(ctx)
		if err != nil {
			return nil, err
		}
		if wb, err = newWorkbook(n, v.AsOf(), v.Cutoff()); err != nil {
			return nil, fmt.Errorf("workbook: %w", err)
		}
		defer wb.close()
	}
	t := &res.Totals
	chk := newChecker(prev, v.Cutoff())
	// What moved since the previous run is also what its lines must change
	// for this run to become the previous one.
	var changes []store.LineChange
	err = v.Rows(ctx, prev, func(r *store.ReportRow) error {
		st := StateOf(r)
		t.add(r, st, v.AsOf())
		if chk.active && r.Moved() {
			chk.add(r.Movement())
			if r.PendingCents != r.PreviousCents {
				changes = append(changes, store.LineChange{Invoice: r.Invoice, PendingCents: r.PendingCents})
			}
		}
		if wb != nil {
			return wb.add(r, st)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.sort()
	var stray store.StrayPayments
	if chk.active {
		err := v.Vanished(ctx, func(m store.ReportMovement) error {
			chk.add(m)
			changes = append(changes, store.LineChange{Invoice: m.Invoice})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if stray, err = v.StrayPayments(ctx, prev); err != nil {
			return nil, err
		}
	}
	rec := chk.finish(t.PendingCents, stray)
	if rec.Status == CheckUnbalanced && opts.Record && opts.Accept != "" {
		rec.Status = CheckAccepted
		rec.Note = fmt.Sprintf("aceptado: %s (%s)", opts.Accept, rec.Note)
	}
	res.Check = rec

	if wb != nil {
		if err := wb.finish(t, &res.Check); err != nil {
			return nil, fmt.Errorf("workbook: %w", err)
		}
		if err := writeFile(opts.Out, wb); err != nil {
			return nil, err
		}
		res.File = opts.Out
	}
	if opts.Record && rec.Status != CheckSkipped {
		note := rec.Note
		if rec.Status == CheckAccepted {
			note = opts.Accept
		}
		run := &store.ReportRun{
			TotalCents: t.PendingCents, OpenCount: t.Managing + t.Cut,
			PreviousID: rec.PreviousRunID, PreviousTotalCents: rec.PreviousCents,
			NewReturnsCents: rec.NewReturnsCents, PaymentsCents: rec.PaymentsCents, DifferenceCents: rec.DifferenceCents,
			Status: rec.Status, Note: note, File: opts.Out,
		}
		var lines *store.LinesUpdate // an unbalanced run leaves the lines of the previous one
		switch {
		case rec.Status == CheckFirst:
			lines = &store.LinesUpdate{Rebuild: true}
		case rec.Balanced():
			lines = &store.LinesUpdate{Changes: changes}
		}
		if err := v.SaveRun(ctx, run, lines); err != nil {
			return nil, err
		}
		if err := v.Commit(ctx); err != nil {
			return nil, err
		}
		res.RunID = run.ID
	}
	if rec.Status == CheckUnbalanced {
		return res, fmt.Errorf("%w: the difference is %s", ErrUnbalanced, money.Format(rec.DifferenceCents))
	}
	return res, nil
}

// writeFile writes the workbook next to path and renames it into place, so
// that a failed write leaves no half workbook under the clerks' name.
func writeFile(path string, wb *workbook) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".impagos-*.xlsx")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := wb.writeTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
