package main

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// clerk plays the clerks and the cuts desk for the bench's cut cases, from
// what the ledger shows of them (no queries: they would be actions too). It
// records the proof of a case's formal notice once the case has sent it, as
// starter proof does (without it the case waits in cut_blocked and the ledger
// refuses its cut), and approves each review of the cut once: a request the
// ledger refused (on a fast clock, the day may end between the approval and
// the request) sends the case back to review for a new approval.
type clerk struct {
	c         client.Client
	db        *store.Store
	proven    map[string]bool
	approvals map[string]int
}

func newClerk(c client.Client, db *store.Store) *clerk {
	return &clerk{c: c, db: db, proven: map[string]bool{}, approvals: map[string]int{}}
}

// act does what the case of an invoice in stage needs now, if anything.
func (k *clerk) act(ctx context.Context, invoice string, stage workflows.Stage) error {
	switch stage {
	case workflows.StageNotice3, workflows.StageCutScheduled, workflows.StageCutBlocked:
		if k.proven[invoice] {
			return nil
		}
		_, err := cases.ProveFormalNotice(ctx, k.c, k.db, invoice, "bench")
		switch {
		case errors.Is(err, cases.ErrNoFormalNotice):
			return nil // not in the outbox yet
		case err != nil:
			return err
		}
		k.proven[invoice] = true
	case workflows.StageCutReview:
		// Each time the case went before the cuts desk, its audit trail has a
		// stage entry.
		var reviews int
		if err := k.db.Pool().QueryRow(ctx, `
			SELECT count(*) FROM audit WHERE invoice = $1 AND action = 'stage' AND detail->>'stage' = $2`,
			invoice, string(workflows.StageCutReview)).Scan(&reviews); err != nil {
			return fmt.Errorf("reviews of invoice %s: %w", invoice, err)
		}
		if k.approvals[invoice] >= reviews {
			return nil
		}
		if err := cases.Signal(ctx, k.c, invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "bench"}); err != nil {
			return err
		}
		k.approvals[invoice]++
	}
	return nil
}

// extraApprovals counts the approvals given beyond one per case.
func (k *clerk) extraApprovals() int {
	n := 0
	for _, a := range k.approvals {
		n += max(a-1, 0)
	}
	return n
}
