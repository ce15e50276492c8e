package store

import (
	"context"
	"errors"

	"github.com/elega/impagos/activities"
)

var errTODO = errors.New("not built yet")

// RecordHold is replaced by the ledger's hold.
func (s *Store) RecordHold(ctx context.Context, in activities.HoldInput) (activities.HoldResult, error) {
	return activities.HoldResult{}, errTODO
}

// NoticeProof is replaced by the ledger's proofs.
func (s *Store) NoticeProof(ctx context.Context, c activities.CaseRef) (activities.ProofStatus, error) {
	return activities.ProofStatus{}, errTODO
}
