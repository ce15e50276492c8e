package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/elega/impagos/internal/report"
	"github.com/elega/impagos/internal/store"
)

// cmdReport writes the clerks' workbook and checks its total against the
// previous report's; it fails when the total does not balance.
func cmdReport(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	path := fs.String("out", "", "where to write the workbook (.xlsx)")
	asOf := fs.String("as-of", "", "the day, YYYY-MM-DD (default: today, as the ledger stands now)")
	accept := fs.String("accept", "", "keep a total that does not balance as the next previous total, giving the reason")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("--out FILE.xlsx is required")
	}
	if !strings.EqualFold(filepath.Ext(*path), ".xlsx") {
		return fmt.Errorf("--out %q: the workbook must end in .xlsx", *path)
	}
	day, err := parseDate(*asOf, "--as-of")
	if err != nil {
		return err
	}
	return withStore(ctx, func(db *store.Store) error {
		res, err := report.Run(ctx, db, report.Options{AsOf: day, Out: *path, Record: true, Accept: strings.TrimSpace(*accept)})
		if res == nil {
			return err
		}
		if werr := report.WriteText(out, res); werr != nil {
			return werr
		}
		fmt.Fprintf(out, "\nworkbook written to %s", res.File)
		if res.RunID != 0 {
			fmt.Fprintf(out, " (report #%d, %s)", res.RunID, res.Check.Status)
		} else {
			fmt.Fprint(out, " (not stored: it describes a moment before the last checked report)")
		}
		fmt.Fprintln(out)
		if *accept != "" && res.Check.Status != report.CheckAccepted {
			fmt.Fprintln(out, "--accept ignored: there was no difference to accept")
		}
		if errors.Is(err, report.ErrUnbalanced) {
			return fmt.Errorf("%w; it is stored as unbalanced and the next report is still checked against report #%d (after explaining the difference, --accept REASON keeps this total)",
				err, res.Check.PreviousRunID)
		}
		return err
	})
}

// cmdSummary prints the totals by stage and by the bank's reason for the
// return, and the check of the total, without writing a workbook or storing
// anything.
func cmdSummary(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	asOf := fs.String("as-of", "", "the day, YYYY-MM-DD (default: today, as the ledger stands now)")
	asJSON := fs.Bool("json", false, "print JSON (amounts in cents)")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	day, err := parseDate(*asOf, "--as-of")
	if err != nil {
		return err
	}
	return withStore(ctx, func(db *store.Store) error {
		res, err := report.Run(ctx, db, report.Options{AsOf: day})
		if res == nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
		} else if werr := report.WriteText(out, res); werr != nil {
			return werr
		}
		return err
	})
}
