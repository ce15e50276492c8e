package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/elega/impagos/internal/bankfile"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// cmdReturns reads the banks' return files: every return with its reason,
// matched to its invoice, starts or tells that invoice's case.
func cmdReturns(ctx context.Context, args []string, out io.Writer) error {
	f := newImportFlags("returns")
	pending := f.fs.Bool("pending", false, "list the returns kept without a case: no supply point yet, or no invoice")
	reasons := f.fs.Bool("reasons", false, "print the reason codes and the path each one sets")
	files, err := parse(f.fs, args)
	if err != nil {
		return err
	}
	if *reasons {
		fmt.Fprint(out, reasonTable())
		return nil
	}
	if *pending {
		if len(files) > 0 {
			return errors.New("--pending takes no file")
		}
		return listPendingReturns(ctx, out, *f.asJSON)
	}
	if len(files) == 0 {
		return errors.New("returns: name at least one bank file (pain.002, camt.054 or AEB 19.14)")
	}
	m, err := imports.MatchingFromEnv()
	if err != nil {
		return err
	}
	t, closeTarget, err := f.target(ctx)
	if err != nil {
		return err
	}
	defer closeTarget()
	var (
		objects []returnsFileJSON
		errs    []error
	)
	for _, path := range files {
		res, err := imports.BankReturns(ctx, t, path, m, *f.dryRun)
		if err != nil && res.File.Format == "" {
			// Nothing of the file could be read: nothing was stored.
			errs = append(errs, err)
			if *f.asJSON {
				objects = append(objects, returnsFileJSON{File: path, Error: err.Error(),
					Returns: []returnJSON{}, Unmatched: []returnJSON{}, Rejected: []rejectedJSON{}})
			} else {
				fmt.Fprintf(out, "%s: not read, nothing stored: %v\n", path, err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
		if len(res.Failed) > 0 {
			errs = append(errs, fmt.Errorf("%s: %d case(s) not started or told; run the import again to retry them", path, len(res.Failed)))
		}
		if *f.asJSON {
			objects = append(objects, bankFileJSON(path, res))
			continue
		}
		printReturns(out, path, res, *f.dryRun)
	}
	if *f.asJSON {
		var jerr error
		if len(objects) == 1 {
			jerr = writeJSON(out, objects[0])
		} else {
			jerr = writeJSON(out, objects)
		}
		if jerr != nil {
			return jerr
		}
	}
	return errors.Join(errs...)
}

type returnJSON struct {
	EndToEndID  string `json:"end_to_end_id"`
	Invoice     string `json:"invoice"`
	AmountCents int64  `json:"amount_cents"`
	Reason      string `json:"reason"`
	Path        string `json:"path"`
	IBANOK      bool   `json:"iban_ok"`
	MandateID   string `json:"mandate_id,omitempty"`
	DebtorName  string `json:"debtor_name,omitempty"`
	DebtorIBAN  string `json:"debtor_iban,omitempty"`
	ReturnedOn  string `json:"returned_on"`
	Originator  string `json:"originator,omitempty"`
	Status      string `json:"status,omitempty"`
	Detail      string `json:"detail,omitempty"`
	Where       string `json:"where"`
}

type rejectedJSON struct {
	Where  string `json:"where"`
	Reason string `json:"reason"`
}

type returnsFileJSON struct {
	File      string            `json:"file"`
	Format    string            `json:"format"`
	Version   string            `json:"version,omitempty"`
	MessageID string            `json:"message_id"`
	Known     bool              `json:"already_imported,omitempty"`
	Returns   []returnJSON      `json:"returns"`
	Unmatched []returnJSON      `json:"unmatched"`
	Rejected  []rejectedJSON    `json:"rejected"`
	Ignored   int               `json:"ignored"`
	Started   int               `json:"started"`
	Told      int               `json:"told"`
	Failed    []imports.Failure `json:"failed,omitempty"`
	Error     string            `json:"error,omitempty"`
}

func toReturnJSON(r store.BankReturn) returnJSON {
	return returnJSON{
		EndToEndID: r.EndToEndID, Invoice: r.Invoice, AmountCents: r.AmountCents, Reason: r.Reason, Path: r.Path,
		IBANOK: r.IBANOK, MandateID: r.MandateID, DebtorName: r.DebtorName, DebtorIBAN: r.DebtorIBAN,
		ReturnedOn: r.ReturnedOn.Format("2006-01-02"), Originator: r.Originator, Status: r.Status, Detail: r.Detail, Where: r.Where,
	}
}

func bankFileJSON(path string, res imports.BankResult) returnsFileJSON {
	o := returnsFileJSON{
		File: path, Format: string(res.File.Format), Version: res.File.Version, MessageID: res.File.MessageID,
		Known: res.Known, Returns: []returnJSON{}, Unmatched: []returnJSON{}, Rejected: []rejectedJSON{},
		Ignored: res.File.Ignored, Started: res.Started, Told: res.Told, Failed: res.Failed,
	}
	for _, r := range res.Returns {
		if r.Status == store.ReturnUnmatched {
			o.Unmatched = append(o.Unmatched, toReturnJSON(r))
		} else {
			o.Returns = append(o.Returns, toReturnJSON(r))
		}
	}
	for _, r := range res.File.Rejected {
		o.Rejected = append(o.Rejected, rejectedJSON(r))
	}
	return o
}

func printReturns(out io.Writer, path string, res imports.BankResult, dryRun bool) {
	f := res.File
	fmt.Fprintf(out, "%s: %s (%s), message %s: %d returns, %d rejected, %d not returns\n",
		path, f.Format, f.Version, f.MessageID, len(f.Returns), len(f.Rejected), f.Ignored)
	if res.Known {
		fmt.Fprintln(out, "  this file was imported before: nothing new stored")
	}
	var unmatched, badIBAN []store.BankReturn
	for _, r := range res.Returns {
		if r.Status == store.ReturnUnmatched {
			unmatched = append(unmatched, r)
			continue
		}
		if !r.IBANOK {
			badIBAN = append(badIBAN, r)
		}
		status := r.Status
		if status == "" {
			status = "matched"
		}
		fmt.Fprintf(out, "  %-14s %12s  %-4s %-9s %-9s %s\n", r.Invoice, money.Format(r.AmountCents), r.Reason, r.Path, status, r.Detail)
	}
	if len(unmatched) > 0 {
		fmt.Fprintf(out, "%d return(s) matched to no invoice, kept in the ledger (starter returns --pending):\n", len(unmatched))
		for _, r := range unmatched {
			fmt.Fprintf(out, "  %s: end-to-end id %q, mandate %q, %s, %s, %s %s\n",
				r.Where, r.EndToEndID, r.MandateID, money.Format(r.AmountCents), r.Reason, r.DebtorName, r.DebtorIBAN)
		}
	}
	if len(f.Rejected) > 0 {
		fmt.Fprintf(out, "%d transaction(s) not taken:\n", len(f.Rejected))
		for _, r := range f.Rejected {
			fmt.Fprintf(out, "  %s: %s\n", r.Where, r.Reason)
		}
	}
	if len(badIBAN) > 0 {
		fmt.Fprintf(out, "%d return(s) taken whose debtor IBAN fails its check, for a clerk to look at:\n", len(badIBAN))
		for _, r := range badIBAN {
			fmt.Fprintf(out, "  %s: %s (%s)\n", r.Invoice, r.DebtorIBAN, r.DebtorName)
		}
	}
	if dryRun {
		fmt.Fprintln(out, "dry run: nothing stored, nothing started or sent")
		return
	}
	fmt.Fprintf(out, "cases: %d started, %d told the bank's reason, %d already open, %d closed or not yet started\n",
		res.Started, res.Told, res.AlreadyOpen, res.AlreadyHandled)
	for _, fl := range res.Failed {
		fmt.Fprintf(out, "  not started or told: invoice %s: %s\n", fl.Invoice, fl.Error)
	}
}

func listPendingReturns(ctx context.Context, out io.Writer, asJSON bool) error {
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := db.PendingBankReturns(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		rows := make([]returnJSON, 0, len(list))
		for _, r := range list {
			j := toReturnJSON(r)
			if j.Invoice == "" {
				j.Invoice = r.EndToEndID
			}
			rows = append(rows, j)
		}
		return writeJSON(out, rows)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "no bank return waits: every one has its case")
		return nil
	}
	for _, r := range list {
		fmt.Fprintf(out, "%-9s %-14s %12s  %s %-9s returned %s  mandate %q  %s %s (file %s, %s)\n  %s\n",
			r.Status, r.Invoice, money.Format(r.AmountCents), r.Reason, r.Path, r.ReturnedOn.Format("02/01/2006"),
			r.MandateID, r.DebtorName, r.DebtorIBAN, r.File, r.Where, r.Detail)
	}
	return nil
}

// reasonTable prints the reason codes and their paths for the help.
func reasonTable() string {
	var b strings.Builder
	for _, r := range bankfile.Reasons() {
		p := string(r.Path)
		if r.ByDebtor != "" {
			p += " (" + string(r.ByDebtor) + " when the debtor raised it)"
		}
		fmt.Fprintf(&b, "    %s  %-50s %s\n", r.Code, p, r.Description)
	}
	fmt.Fprintf(&b, "    other codes: %s\n", workflows.PathFunds)
	return b.String()
}
