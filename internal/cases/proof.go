package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// ErrNoFormalNotice means the invoice's case has not sent its formal notice
// (the domestic requerimiento, the business cut letter) yet: there is nothing
// to prove.
var ErrNoFormalNotice = errors.New("no formal notice sent yet")

// ProofLedger is what ProveFormalNotice needs of the ledger: *store.Store is one.
type ProofLedger interface {
	Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutboxRow, error)
	RecordProof(ctx context.Context, p store.Proof) (store.Proof, error)
}

// ProveFormalNotice plays the clerk who records, with starter proof, the
// acknowledgement of receipt of an invoice's formal notice, for the drivers
// of the fault suites and the bench: the customer received it the day the
// notice is dated (the earliest day the ledger takes, so the regulatory wait
// is not lengthened), and the file is a stand-in named by the invoice, its
// run and that day, so recording it again is the same proof. The case is then
// told (proof-recorded); one already closed is not, and the proof stays in the
// ledger. A refusal of the ledger wraps store.ErrProofRefused.
func ProveFormalNotice(ctx context.Context, c client.Client, db ProofLedger, invoice, by string) (store.Proof, error) {
	runID, day, err := formalNoticeDay(ctx, db, invoice)
	if err != nil {
		return store.Proof{}, err
	}
	sum := sha256.Sum256([]byte("acuse de recibo|" + invoice + "|" + runID + "|" + day.Format(time.DateOnly)))
	p, err := db.RecordProof(ctx, store.Proof{
		Invoice: invoice, Kind: activities.ProofAcknowledge, ReceivedOn: day,
		FileName: "acuse-" + invoice + ".pdf", FileSHA256: hex.EncodeToString(sum[:]), RecordedBy: by,
	})
	if err != nil {
		return store.Proof{}, err
	}
	err = Signal(ctx, c, invoice, workflows.SignalProofRecorded, workflows.ProofRecordedSignal{By: by})
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrUnknown) {
		return p, fmt.Errorf("proof of invoice %s recorded, but its case was not told: %w", invoice, err)
	}
	return p, nil
}

// formalNoticeDay reads from the outbox the run of the invoice's latest
// formal notice and the day (Madrid) of that run's first one: the day a case
// on a fast clock gave it, which may be ahead of the ledger's today.
func formalNoticeDay(ctx context.Context, db ProofLedger, invoice string) (string, time.Time, error) {
	rows, err := db.Outbox(ctx, store.OutboxFilter{Invoice: invoice})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("formal notice of invoice %s: %w", invoice, err)
	}
	formal := func(o store.OutboxRow) bool {
		return o.Kind == activities.KindRequerimiento || o.Kind == activities.KindCutLetter
	}
	var runID string
	var latest int64
	for _, o := range rows {
		if formal(o) && o.ID > latest {
			runID, latest = o.RunID, o.ID
		}
	}
	var first time.Time
	for _, o := range rows {
		if formal(o) && o.RunID == runID && (first.IsZero() || o.NoticeAt.Before(first)) {
			first = o.NoticeAt
		}
	}
	if first.IsZero() {
		return "", time.Time{}, fmt.Errorf("invoice %s: %w", invoice, ErrNoFormalNotice)
	}
	return runID, calendar.Date(first.In(calendar.Madrid).Date()), nil
}
