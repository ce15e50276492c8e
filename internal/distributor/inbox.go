package distributor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.temporal.io/api/serviceerror"

	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// The folders of the inbox where its files go once read.
const (
	ProcessedDir = "processed"
	RejectedDir  = "rejected"
)

// Store is the ledger's side of the inbox (internal/store on Postgres).
type Store interface {
	// RecordATRAnswer records an answer of the distributor once; a file it
	// refuses is a *store.ATRFileError.
	RecordATRAnswer(ctx context.Context, file string, body []byte) (store.ATRDelivery, error)
	RecordATRRejectedFile(ctx context.Context, file string, body []byte, reason string) error
	MarkATRDelivered(ctx context.Context, msgID int64) error
	UndeliveredATR(ctx context.Context) ([]store.ATRDelivery, error)
}

// Signaler tells a case; the Temporal client is one.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Inbox reads the distributor's answers from the folder Dir: each file is
// recorded in the ledger with the request it answers, moved to
// Dir/processed, and its cases are told (signal distributor). A file the
// ledger refuses is kept with the reason (atr_rejected_files) and moved to
// Dir/rejected with the reason beside it in NAME.reason.
//
// Each file is read once. A crash after the ledger recorded a file and before
// it was moved reads it again as a duplicate, which moves it and tells its
// cases again; a case applies each answer once (by its MessageID). A crash
// before the cases were all told leaves the answer undelivered in the ledger,
// and Redeliver tells them.
type Inbox struct {
	Dir      string
	Store    Store
	Signaler Signaler
}

// Outcome is what reading a file did.
type Outcome string

const (
	Processed Outcome = "processed" // recorded, and its cases told
	Duplicate Outcome = "duplicate" // read before: its cases told again
	Rejected  Outcome = "rejected"  // refused, with the reason
)

// Result is what reading one file did.
type Result struct {
	File    string // the file's name
	Path    string // where the file is now
	Outcome Outcome
	Reason  string // why it was refused
	// Delivery is the answer and the cases it reached; empty when refused.
	Delivery store.ATRDelivery
}

// ErrTooLarge is a file larger than any ATR message (atr.MaxSize).
var ErrTooLarge = fmt.Errorf("larger than %d bytes, the most an ATR message may take", atr.MaxSize)

// Import reads the answer file at path. A file of the inbox folder is moved
// to processed/ or rejected/; a file elsewhere stays where it is. An error
// before the ledger took the file (it could not be read, or the ledger not
// reached) leaves it where it was, to be read again. An error telling the
// cases comes after the file was moved: the answer stays undelivered in the
// ledger, and Redeliver tells them.
func (in *Inbox) Import(ctx context.Context, path string) (Result, error) {
	name := filepath.Base(path)
	res := Result{File: name, Path: path}
	if strings.HasPrefix(name, ".") {
		return res, fmt.Errorf("read %s: a name starting with a dot is a file being written", path)
	}
	body, err := readBounded(path, atr.MaxSize)
	var fileErr *store.ATRFileError
	switch {
	case errors.Is(err, ErrTooLarge):
		fileErr = &store.ATRFileError{File: name, Reason: ErrTooLarge.Error()}
	case err != nil:
		return res, fmt.Errorf("read %s: %w", path, err)
	default:
		res.Delivery, err = in.Store.RecordATRAnswer(ctx, name, body)
		if err != nil && !errors.As(err, &fileErr) {
			return res, fmt.Errorf("record %s: %w", path, err)
		}
	}
	mine := in.holds(path)
	if fileErr != nil {
		res.Outcome, res.Reason = Rejected, fileErr.Error()
		if err := in.Store.RecordATRRejectedFile(ctx, name, body, res.Reason); err != nil {
			return res, err
		}
		if !mine {
			return res, nil
		}
		moved, err := moveTo(path, filepath.Join(in.Dir, RejectedDir))
		if err != nil {
			return res, err
		}
		res.Path = moved
		reason := moved + ".reason"
		if err := os.WriteFile(reason, []byte(res.Reason+"\n"), 0o640); err != nil {
			return res, fmt.Errorf("write %s: %w", reason, err)
		}
		return res, nil
	}
	res.Outcome = Processed
	if res.Delivery.Duplicate {
		res.Outcome = Duplicate
	}
	if mine {
		moved, err := moveTo(path, filepath.Join(in.Dir, ProcessedDir))
		if err != nil {
			return res, err
		}
		res.Path = moved
	}
	return res, in.deliver(ctx, res.Delivery)
}

// Scan imports every file of the folder, in name order, the answers to a 03
// (B1_04_...) after the rest: not its folders, nor the files whose name
// starts with ".". The errors of Import are returned together once every file
// was tried. A folder that does not exist yet holds nothing.
//
// The distributor that cut before it read a cancellation leaves its 05, then
// the 04 that restores the supply; found at one look, the 04 would sort first
// and close the case as never cut, and the cut read after it would stay
// unrestored.
func (in *Inbox) Scan(ctx context.Context) ([]Result, error) {
	entries, err := os.ReadDir(in.Dir) // sorted by name
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan ATR inbox: %w", err)
	}
	slices.SortStableFunc(entries, func(a, b os.DirEntry) int {
		return cmp.Compare(answersA03(a.Name()), answersA03(b.Name()))
	})
	var out []Result
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		res, err := in.Import(ctx, filepath.Join(in.Dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // taken by another reader of the same folder
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}

// answersA03 is 1 for the file of an answer to a 03, 0 for any other.
func answersA03(name string) int {
	if strings.HasPrefix(name, atr.ProcessB1+"_04_") {
		return 1
	}
	return 0
}

// Redeliver tells the cases of every answer the ledger recorded and has not
// delivered to all of them. It returns how many answers it delivered.
func (in *Inbox) Redeliver(ctx context.Context) (int, error) {
	ds, err := in.Store.UndeliveredATR(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, d := range ds {
		if err := in.deliver(ctx, d); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// deliver signals every case of the answer, then records it delivered. A case
// that is closed, or was never started, has nothing to be told.
func (in *Inbox) deliver(ctx context.Context, d store.ATRDelivery) error {
	for _, id := range d.WorkflowIDs {
		err := in.Signaler.SignalWorkflow(ctx, id, "", workflows.SignalDistributor, d.Answer)
		if err != nil && !closed(err) {
			return fmt.Errorf("tell case %s of %s: %w", id, d.Answer.File, err)
		}
	}
	return in.Store.MarkATRDelivered(ctx, d.Answer.MessageID)
}

// closed reports whether a signal failed because its workflow is not running:
// Temporal answers NotFound both for a workflow it does not know and for one
// that has completed ("workflow execution already completed").
func closed(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// holds reports whether path is a file of the inbox folder itself.
func (in *Inbox) holds(path string) bool {
	if in.Dir == "" {
		return false
	}
	dir, err1 := filepath.Abs(in.Dir)
	parent, err2 := filepath.Abs(filepath.Dir(path))
	return err1 == nil && err2 == nil && dir == parent
}

// readBounded reads the file at path, ErrTooLarge when it has more than limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return body[:limit], ErrTooLarge
	}
	return body, nil
}

// moveTo moves the file at path into dir, created if missing, under its own
// name; when dir holds a file of that name with other content, under the
// first free NAME.N.EXT. A file of that name with the same content is this
// one, moved before a crash left a copy behind: the copy is removed. It
// returns the new path.
func moveTo(path, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("move %s: %w", path, err)
	}
	name := filepath.Base(path)
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 0; ; n++ {
		dst := filepath.Join(dir, name)
		if n > 0 {
			dst = filepath.Join(dir, stem+"."+strconv.Itoa(n)+ext)
		}
		err := place(path, dst)
		if err == nil {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("move %s: %w", path, err)
			}
			if err := syncDir(dir); err != nil {
				return "", err
			}
			return dst, syncDir(filepath.Dir(path))
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("move %s to %s: %w", path, dir, err)
		}
		if equal, err := sameFiles(path, dst); err != nil {
			return "", fmt.Errorf("move %s: %w", path, err)
		} else if equal {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("move %s: %w", path, err)
			}
			return dst, syncDir(filepath.Dir(path))
		}
	}
}

// sameFiles reports whether the files at a and b hold the same bytes.
func sameFiles(a, b string) (bool, error) {
	body, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	return sameContent(b, body)
}
