package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/workflows"
)

// recordHistory saves the case's history to testdata/histories/NAME.json when
// IMPAGOS_RECORD_HISTORIES is set. Those files are replayed by the workflow
// tests, so a change that would break sleeping cases fails CI.
func (s *stack) recordHistory(invoice, name string) {
	s.t.Helper()
	if os.Getenv("IMPAGOS_RECORD_HISTORIES") == "" {
		return
	}
	var h historypb.History
	it := s.c.GetWorkflowHistory(s.ctx, workflows.WorkflowID(invoice), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	data, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(&h)
	if err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join("..", "..", "testdata", "histories", name+".json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("history of %s written to %s (%d events)", invoice, path, len(h.Events))
}

func TestHoldPartialPaymentReleaseCutAndReconnect(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 90000)
	s.waitStage(invoice, workflows.StageCutScheduled)

	s.signal(invoice, workflows.SignalHold, workflows.HoldSignal{Reason: "cliente en negociación", By: "clerk"})
	st := s.waitStage(invoice, workflows.StageOnHold)
	if st.Hold == nil || st.Hold.Reason != "cliente en negociación" {
		t.Fatalf("hold not shown: %+v", st.Hold)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 40000, Reference: "TR-1-" + invoice})
	s.signal(invoice, workflows.SignalRelease, workflows.ReleaseSignal{By: "clerk"})
	st = s.waitStage(invoice, workflows.StageCutReview)
	if st.AmountDueCents != 50000 {
		t.Fatalf("amount due after a partial payment: %d", st.AmountDueCents)
	}
	s.signal(invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	s.waitStage(invoice, workflows.StageCut)
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 50000, Reference: "TR-2-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StageReconnected || r.PaidCents != 90000 {
		t.Fatalf("result %+v", r)
	}
	payments, err := s.db.Payments(s.ctx, invoice)
	if err != nil || len(payments) != 2 {
		t.Fatalf("ledger of %s: %+v %v", invoice, payments, err)
	}
	s.recordHistory(invoice, "business_hold_partial_reconnect")
}
