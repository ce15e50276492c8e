package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// maxProofBytes bounds the file of a proof: a scanned burofax or receipt is a
// few megabytes; anything larger is the wrong file.
const maxProofBytes = 20 << 20

// cmdProof records that the formal notice of an invoice reached the customer
// (a burofax, a posted letter, an acknowledgement of receipt), with the file
// that shows it, and tells the case.
func cmdProof(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("proof", flag.ContinueOnError)
	kind := fs.String("kind", "", "burofax, carta or acuse")
	file := fs.String("file", "", "the scanned proof (PDF), at most 20 MB")
	received := fs.String("received", "", "the day the customer received the notice (default today; on the demo policy, the notice's own day if later)")
	by := fs.String("by", whoami(), "who records it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	switch *kind {
	case activities.ProofBurofax, activities.ProofLetter, activities.ProofAcknowledge:
	default:
		return fmt.Errorf("--kind %q: want burofax, carta or acuse", *kind)
	}
	content, err := readProofFile(*file)
	if err != nil {
		return err
	}
	// Not given: the ledger takes today (or the notice's own day, for a case
	// on the demo policy's faster clock).
	var day time.Time
	if *received != "" {
		if day, err = parseDate(*received, "--received"); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(content)
	var p store.Proof
	err = withStore(ctx, func(db *store.Store) error {
		p, err = db.RecordProof(ctx, store.Proof{Invoice: invoice, Kind: *kind, ReceivedOn: day,
			FileName: filepath.Base(*file), FileSHA256: hex.EncodeToString(sum[:]), RecordedBy: *by})
		return err
	})
	if err != nil {
		return err
	}
	what := "proof recorded"
	if !p.New {
		what = "proof already recorded"
	}
	fmt.Fprintf(out, "%s: %s received %s (sha256 %s…)\n", what, p.Kind, p.ReceivedOn.Format("02/01/2006"), p.FileSHA256[:12])
	if !p.New && (p.Kind != *kind || (!day.IsZero() && !sameDay(p.ReceivedOn, day))) {
		fmt.Fprintf(out, "warning: this file was recorded before as %s received %s by %s; that record stands, nothing changed\n",
			p.Kind, p.ReceivedOn.Format("02/01/2006"), p.RecordedBy)
	}
	err = withClient(ctx, func(c client.Client) error {
		return cases.Signal(ctx, c, invoice, workflows.SignalProofRecorded, workflows.ProofRecordedSignal{By: *by})
	})
	switch {
	case errors.Is(err, cases.ErrClosed), errors.Is(err, cases.ErrUnknown):
		fmt.Fprintf(out, "invoice %s has no open case to tell: the proof stays in the ledger\n", invoice)
		return nil
	case err != nil:
		return fmt.Errorf("the proof is recorded, but its case was not told (run the command again): %w", err)
	}
	fmt.Fprintf(out, "invoice %s: its case was told\n", invoice)
	return nil
}

// readProofFile reads the file of a proof, which must exist, hold something
// and be no larger than maxProofBytes.
func readProofFile(path string) ([]byte, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("--file is required: the scanned proof")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("--file %s is not a file", path)
	case st.Size() == 0:
		return nil, fmt.Errorf("--file %s is empty", path)
	case st.Size() > maxProofBytes:
		return nil, fmt.Errorf("--file %s has %d MB, more than the 20 MB a proof may have", path, st.Size()>>20)
	}
	// Read through a limit: the file may grow after the Stat.
	content, err := io.ReadAll(io.LimitReader(f, maxProofBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--file %s: %w", path, err)
	}
	if len(content) > maxProofBytes {
		return nil, fmt.Errorf("--file %s is larger than the 20 MB a proof may have", path)
	}
	if len(content) == 0 {
		return nil, fmt.Errorf("--file %s is empty", path)
	}
	return content, nil
}
