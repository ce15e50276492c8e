// Package imports turns the clerks' workbooks into cases: the TRADE export of
// returned invoices starts one case per new return, the contracts release cases
// waiting for contact data, and the payments reach the open cases they pay.
package imports

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// startConcurrency bounds the starts in flight: enough to keep the server
// busy, few enough not to be throttled.
const startConcurrency = 32

// Target is where the imports write: the ledger and the cases.
type Target struct {
	DB        *store.Store
	Temporal  client.Client
	TaskQueue string
	Policy    workflows.Policy
}

// Failure is a case that could not be started or signalled.
type Failure struct {
	Invoice string `json:"invoice"`
	Error   string `json:"error"`
}

// ReturnsResult is what an import of returned invoices did.
type ReturnsResult struct {
	sheets.Report
	Accepted []sheets.Return `json:"accepted"`
	// New counts the returns the ledger did not know; the others were imported before.
	New            int       `json:"new"`
	Started        int       `json:"started"`
	AlreadyOpen    int       `json:"already_open"`
	AlreadyHandled int       `json:"already_handled"` // closed cases of returns imported before
	Failed         []Failure `json:"failed,omitempty"`
}

// Returns reads a TRADE export and, unless dryRun, stores its returns and
// starts one case per invoice with no open case. A return the ledger did not
// know reopens the invoice's closed case (the bank returned it again).
func Returns(ctx context.Context, t Target, path string, opts sheets.Options, dryRun bool) (ReturnsResult, error) {
	var res ReturnsResult
	read := func(emit func(sheets.Return) error) error {
		var err error
		res.Report, err = sheets.ReadReturns(path, opts, func(r sheets.Return) error {
			res.Accepted = append(res.Accepted, r)
			return emit(r)
		})
		return err
	}
	if dryRun {
		err := read(func(sheets.Return) error { return nil })
		return res, err
	}
	// The rows are stored while the file is read; a file refused half-way
	// stores nothing.
	imported, err := t.DB.ImportReturns(ctx, path, read)
	if err != nil || len(res.Accepted) == 0 {
		return res, err
	}
	res.New = len(imported.New)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startConcurrency)
	for _, r := range res.Accepted {
		in := workflows.Input{Invoice: r.Invoice, Customer: r.Customer, Cups: r.Cups, AmountCents: r.AmountCents,
			ReturnedAt: r.ReturnedAt, Policy: t.Policy}
		reopen := imported.New[r.Invoice]
		g.Go(func() error {
			out, err := cases.Start(gctx, t.Temporal, t.TaskQueue, in, reopen)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.Failed = append(res.Failed, Failure{Invoice: in.Invoice, Error: err.Error()})
			case out == cases.Started:
				res.Started++
			case out == cases.AlreadyOpen:
				res.AlreadyOpen++
			default:
				res.AlreadyHandled++
			}
			return gctx.Err()
		})
	}
	err = g.Wait()
	sort.Slice(res.Failed, func(i, j int) bool { return res.Failed[i].Invoice < res.Failed[j].Invoice })
	return res, err
}

// ContractsResult is what an import of contracts did.
type ContractsResult struct {
	sheets.Report
	Stored int `json:"stored"`
	// Released are the cases that were waiting for contact data and were told to look again.
	Released []string  `json:"released"`
	Failed   []Failure `json:"failed,omitempty"`
	// Placed are the banks' returns that waited for a supply point and now
	// have one: their cases were started (or told the reason).
	Placed []string `json:"placed_bank_returns,omitempty"`
}

// Contracts upserts the contracts of a workbook and signals contact-updated to
// the open cases of those supply points that wait in needs_contact.
func Contracts(ctx context.Context, t Target, path string, opts sheets.Options, dryRun bool) (ContractsResult, error) {
	var res ContractsResult
	rows, rep, err := readAll(sheets.ReadContracts, path, opts)
	res.Report = rep
	if err != nil || dryRun || len(rows) == 0 {
		return res, err
	}
	waiting, err := t.DB.ImportContracts(ctx, rows)
	if err != nil {
		return res, err
	}
	res.Stored = len(rows)
	for _, inv := range waiting {
		err := cases.Signal(ctx, t.Temporal, inv, workflows.SignalContactUpdated, workflows.ContactUpdatedSignal{By: "importación de contratos"})
		switch {
		case err == nil:
			res.Released = append(res.Released, inv)
		case errors.Is(err, cases.ErrClosed) || errors.Is(err, cases.ErrUnknown):
		default:
			res.Failed = append(res.Failed, Failure{Invoice: inv, Error: err.Error()})
		}
	}
	placed, err := t.DB.ResolvePendingReturns(ctx)
	if err != nil {
		return res, err
	}
	started, err := t.StartPlaced(ctx, placed)
	for _, r := range placed {
		res.Placed = append(res.Placed, r.Invoice)
	}
	res.Failed = append(res.Failed, started.Failed...)
	return res, err
}

// PaymentNote is a payment the clerks must look at.
type PaymentNote struct {
	Row         int    `json:"row"`
	Invoice     string `json:"invoice"`
	AmountCents int64  `json:"amount_cents"`
	Note        string `json:"note"`
}

// PaymentsResult is what an import of payments did.
type PaymentsResult struct {
	sheets.Report
	Recorded        int           `json:"recorded"`
	AlreadyRecorded int           `json:"already_recorded"`
	Signalled       int           `json:"signalled"`
	Unknown         []PaymentNote `json:"unknown_invoices"`
	Overpaid        []PaymentNote `json:"overpaid"`
	Failed          []Failure     `json:"failed,omitempty"`
}

// Payments records the payments of a workbook in the ledger (once each) and
// sends paid to each open case they pay, partial payments included; a case
// counts a payment once however often it is reported. Payments of unknown
// invoices and overpayments are reported, never dropped.
func Payments(ctx context.Context, t Target, path string, opts sheets.Options, dryRun bool) (PaymentsResult, error) {
	var res PaymentsResult
	rows, rep, err := readAll(sheets.ReadPayments, path, opts)
	res.Report = rep
	if err != nil || dryRun || len(rows) == 0 {
		return res, err
	}
	recorded, err := t.DB.ImportPayments(ctx, path, rows)
	if err != nil {
		return res, err
	}
	invoices := make([]string, 0, len(recorded))
	for _, r := range recorded {
		invoices = append(invoices, r.Payment.Invoice)
	}
	open, err := t.DB.OpenInvoices(ctx, invoices)
	if err != nil {
		return res, err
	}
	for _, r := range recorded {
		p := r.Payment
		if r.New {
			res.Recorded++
		} else {
			res.AlreadyRecorded++
		}
		switch {
		case !r.Known:
			res.Unknown = append(res.Unknown, PaymentNote{Row: p.Row, Invoice: p.Invoice, AmountCents: p.AmountCents,
				Note: "no returned invoice with this number: kept in the ledger for when it arrives"})
		case r.OverpaidCents > 0:
			res.Overpaid = append(res.Overpaid, PaymentNote{Row: p.Row, Invoice: p.Invoice, AmountCents: r.OverpaidCents,
				Note: fmt.Sprintf("the ledger holds %d cents more than the invoice's %d", r.OverpaidCents, r.InvoiceCents)})
		}
		if !open[p.Invoice] {
			continue
		}
		err := cases.Signal(ctx, t.Temporal, p.Invoice, workflows.SignalPaid, workflows.PaidSignal{
			AmountCents: p.AmountCents, PaidAt: p.PaidAt, Reference: p.Reference,
		})
		switch {
		case err == nil:
			res.Signalled++
		case errors.Is(err, cases.ErrClosed) || errors.Is(err, cases.ErrUnknown):
		default:
			res.Failed = append(res.Failed, Failure{Invoice: p.Invoice, Error: err.Error()})
		}
	}
	return res, nil
}

// readAll collects the accepted rows of a workbook.
func readAll[T any](read func(string, sheets.Options, func(T) error) (sheets.Report, error), path string, opts sheets.Options) ([]T, sheets.Report, error) {
	var rows []T
	rep, err := read(path, opts, func(r T) error {
		rows = append(rows, r)
		return nil
	})
	return rows, rep, err
}
