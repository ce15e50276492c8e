// Command starter is the clerks' and the cuts desk's command line: it starts
// cases, reports payments, shows a case's state, lists the cuts awaiting
// review and approves, holds or releases them. Configuration: see package
// internal/engine. Run `starter help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

const usage = `usage: starter <command> [arguments]

Cases:
  start --invoice N --customer C --amount 1.234,56 --cups ES... [--returned YYYY-MM-DD]
        [--policy default|demo] [--reopen]
        [--segment domestico|empresa --phone P --email E --tax-id T --province P
         --bono-social --essential --protected]   (also stores the contract)
  status INVOICE [--json]        the case's stage, notices, next action and history
  paid INVOICE --amount 1.234,56 [--reference R] [--paid-at YYYY-MM-DD]
  contact-updated INVOICE        the contract's contact data changed
  cancel INVOICE --reason R [--by NAME]   cancel the open case; the ledger closes it as cancelled
  orphans [--json]               invoices open in the ledger whose case is closed in Temporal (exit 1 if any)
  (paid, contact-updated, approve-cut, hold and release print the case's answer;
   a refusal exits non-zero and is kept on the audit trail)
  proof INVOICE --kind burofax|carta|acuse --file FILE.pdf [--received YYYY-MM-DD] [--by NAME]
                                 the formal notice reached the customer: records it and tells the case

Cuts desk:
  cuts [--date YYYY-MM-DD]       cases awaiting review, and those blocked (no proof of the formal notice...)
  approve-cut INVOICE... | --all-due  [--by NAME] [--note TEXT]
  hold INVOICE --reason R [--by NAME]
  release INVOICE [--by NAME]
  attention [--json]             cases flagged NeedsAttention, with why

Distributor (ATR B1 messages):
  atr import FILE...             answer files read by hand, as the worker reads its inbox: processed,
                                 duplicate or rejected with why (exit 1 if any is rejected); moved only
                                 when in the inbox folder
  atr pending [--overdue] [--json]   requests without their answer, power limitations to do, rejected
                                 files; --overdue: only the requests past their bound
  atr clear-protection CUPS --reason TEXT [--by NAME]   the supply may be cut again
  atr limit-done ID [--by NAME]  a power limitation was carried out

Imports (xlsx, or ';'-separated csv; --dry-run validates only, --json prints JSON):
  import FILE [--sheet NAME] [--dry-run] [--json] [--policy P]   TRADE export of returned invoices
  contracts FILE [--sheet NAME] [--dry-run] [--json]             TRADE contracts
  payments FILE [--sheet NAME] [--dry-run] [--json]              PAGO FACTURAS CLIENTES
  returns FILE... [--dry-run] [--json] [--policy P]   the banks' return files (pain.002, camt.054 or
                                 AEB 19.14): one case per new matched return, on the path of its reason;
                                 the reason told to the invoice's open case; the same file again starts
                                 nothing. IMPAGOS_E2E_PATTERN: a regular expression whose one group reads
                                 the invoice from the end-to-end id or the mandate (default: the end-to-end
                                 id is the invoice); IMPAGOS_REASON_PATHS=CODE=path,... overrides the table
  returns --pending [--json]     the banks' returns kept without a case: no supply point yet, or no invoice
  returns --reasons              the reason codes and the path each one sets

Communications:
  outbox [--channel email|whatsapp|sms|certified|letter] [--status S] [--invoice N] [--body]
  letter INVOICE [--out FILE]    the business cut letter PDF sent to the customer
  calllist [--xlsx FILE]         customers with more than one open returned invoice, or one whose account
                                 or mandate failed (ask for a new IBAN or mandate), with the bank's reasons
  report --out FILE.xlsx [--as-of YYYY-MM-DD] [--accept REASON]   the clerks' workbook; checks the total
  summary [--as-of YYYY-MM-DD] [--json]   totals by stage and by the bank's reason, and the check of the
                                 total, no workbook

Tools:
  cutday YYYY-MM-DD [--province P] [--holidays FILE]
                                        first allowed cut day on or after the date in the province
                                        (name or INE code; none or unknown: every region's holidays)
  migrate                               apply the database migrations
`

// command is one subcommand: it gets its arguments and writes to out.
type command func(ctx context.Context, args []string, out io.Writer) error

var commands = map[string]command{
	"start":           cmdStart,
	"status":          cmdStatus,
	"paid":            cmdPaid,
	"contact-updated": cmdContactUpdated,
	"cancel":          cmdCancel,
	"orphans":         cmdOrphans,
	"proof":           cmdProof,
	"cuts":            cmdCuts,
	"approve-cut":     cmdApproveCut,
	"hold":            cmdHold,
	"release":         cmdRelease,
	"cutday":          cmdCutday,
	"migrate":         cmdMigrate,
	"import":          cmdImport,
	"contracts":       cmdContracts,
	"payments":        cmdPayments,
	"returns":         cmdReturns,
	"outbox":          cmdOutbox,
	"letter":          cmdLetter,
	"calllist":        cmdCallList,
	"report":          cmdReport,
	"summary":         cmdSummary,
	"attention":       cmdAttention,
	"atr":             cmdATR,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(out, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(errOut, "starter: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], out); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(errOut, "starter %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parse parses flags placed before, between or after the positional arguments
// and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseNone parses the flags of a command that takes no other argument.
func parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected arguments %q", pos)
	}
	return err
}

// one returns the single positional argument a command needs.
func one(pos []string, what string) (string, error) {
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return "", fmt.Errorf("want exactly one %s, got %d arguments", what, len(pos))
	}
	return strings.TrimSpace(pos[0]), nil
}

func getenv(k string) string { return os.Getenv(k) }
