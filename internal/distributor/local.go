package distributor

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr/standin"
)

// LocalREECode is the REE code of the retailer of Local: the demo retailer's.
const LocalREECode = "0999"

// Local is a whole distributor on this machine, for the integration tests, the
// fault suite and the bench: the outbox and inbox folders under one
// directory, the worker's loop over them, and a stand-in answering in the
// distributor's place. The messages go as the retailer LocalREECode.
type Local struct {
	Folder  Folder
	Inbox   *Inbox
	Standin standin.Options
	Poll    time.Duration
	ledger  activities.Store
}

// NewLocal prepares a distributor under dir for the ledger: its stand-in
// accepts a request after accept and cuts after activate more.
func NewLocal(dir string, ledger interface {
	activities.Store
	Store
}, sig Signaler, accept, activate time.Duration) *Local {
	out, in := filepath.Join(dir, "outbox"), filepath.Join(dir, "inbox")
	poll := 50 * time.Millisecond
	return &Local{
		Folder:  Folder{Dir: out},
		Inbox:   &Inbox{Dir: in, Store: ledger, Signaler: sig},
		Standin: standin.Options{Outbox: out, Inbox: in, Poll: poll, AcceptAfter: accept, ActivateAfter: activate},
		Poll:    poll,
		ledger:  ledger,
	}
}

// Run runs the loop over the folders and the stand-in until ctx ends.
func (l *Local) Run(ctx context.Context) error {
	for _, dir := range []string{l.Folder.Dir, l.Inbox.Dir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		Run(ctx, l.Inbox, l.Poll, func(ctx context.Context) error {
			_, err := activities.SendPending(ctx, l.ledger, l.Folder, 0)
			return err
		})
		return nil
	})
	g.Go(func() error { return standin.Run(ctx, l.Standin) })
	return g.Wait()
}
