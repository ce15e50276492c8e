package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/workflows"
)

// files lists the B1 files of a folder whose names hold the code, sorted.
func files(t *testing.T, dir, code string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.Contains(e.Name(), code) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// requestCode is the B1 request code of the case's cut.
func (s *stack) requestCode(invoice string) string {
	s.t.Helper()
	st, err := cases.State(s.ctx, s.c, invoice)
	if err != nil || st.Request == nil {
		s.t.Fatalf("invoice %s has no request to the distributor: %+v %v", invoice, st.Request, err)
	}
	return st.Request.Code
}

// readB1 parses a B1 file of a folder.
func readB1(t *testing.T, dir, name string) atr.Message {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	m, err := atr.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// PROCESS step 7 with the distributor: the cut request leaves as a B1 01
// file, the case is cut only on the distributor's 05 and from its date, and
// after payment the 03 brings the distributor's 04 and the case closes
// reconnected; the files are on disk, each read once.
func TestDistributorCutsThenReconnectsByTheB1Files(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 150000)
	s.review(invoice)
	s.signal(invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	requested := s.waitState(invoice, "cut requested or cut", func(st workflows.State) bool {
		return st.Stage == workflows.StageCutRequested || st.Stage == workflows.StageCut || st.Stage == workflows.StageCutReview
	})
	if requested.Stage == workflows.StageCutReview {
		s.approveUntilCut(invoice)
	}
	cut := s.waitStage(invoice, workflows.StageCut)
	code := s.requestCode(invoice)
	if cut.CutDate == nil || cut.Request.ExecutedOn == nil || !cut.CutDate.Equal(*cut.Request.ExecutedOn) {
		t.Fatalf("the cut date is not the distributor's: %v, executed %v", cut.CutDate, cut.Request.ExecutedOn)
	}
	if !slices.ContainsFunc(cut.History, func(e workflows.Event) bool { return e.Stage == workflows.StageCutRequested }) {
		t.Fatalf("never cut_requested: %+v", cut.History)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 150000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StageReconnected || r.ReconnectAt == nil {
		t.Fatalf("result %+v", r)
	}

	out := files(t, s.dist.Folder.Dir, code)
	if len(out) != 2 || !strings.HasPrefix(out[0], "B1_01_") || !strings.HasPrefix(out[1], "B1_03_") {
		t.Fatalf("outbox files %v, want one 01 and one 03", out)
	}
	req := readB1(t, s.dist.Folder.Dir, out[0])
	if req.Request == nil || req.Request.Motive != atr.MotiveNonPayment || req.From != distributor.LocalREECode || req.CUPS != supply {
		t.Fatalf("the 01: %+v", req)
	}
	processed := files(t, filepath.Join(s.dist.Inbox.Dir, distributor.ProcessedDir), code)
	if len(processed) != 3 {
		t.Fatalf("answers processed %v, want the 02, the 04 and the 05", processed)
	}
	if n := s.requests(supply); n["cut"] != 1 || n["reconnect"] != 1 || n["cancel"] != 0 {
		t.Fatalf("distributor requests %v", n)
	}
	s.recordHistory(invoice, "business_atr_cut_reconnect")
}

// Paid while the cut is only requested: the request is cancelled (B1 03), the
// distributor accepts (04) and never cuts, and the case closes paid.
func TestDistributorRequestCancelledWhenPaidBeforeTheCut(t *testing.T) {
	s := newStack(t)
	s.dist.Standin.ActivateAfter = time.Hour // the crew would come much later
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 42000)
	s.review(invoice)
	s.waitState(invoice, "cut requested", func(st workflows.State) bool {
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" {
			s.signal(invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
		}
		return st.Stage == workflows.StageCutRequested && st.Request != nil && st.Request.Status == activities.RequestAccepted
	})
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 42000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.CutAt != nil {
		t.Fatalf("result %+v, want paid and never cut", r)
	}
	code := s.requestCode(invoice)
	processed := files(t, filepath.Join(s.dist.Inbox.Dir, distributor.ProcessedDir), code)
	for _, f := range processed {
		if strings.HasPrefix(f, "B1_05_") {
			t.Fatalf("the distributor cut a cancelled request: %v", processed)
		}
	}
	if n := s.requests(supply); n["cut"] != 1 || n["cancel"] != 1 || n["reconnect"] != 0 {
		t.Fatalf("distributor requests %v, want the cut and its cancellation", n)
	}
	s.recordHistory(invoice, "business_atr_paid_before_the_cut")
}

// The distributor knows the supply as essential and rejects the cut with code
// 32: the supply point is flagged for a person and the case is held for good.
func TestDistributorRejectionOfAnEssentialSupplyHoldsForGood(t *testing.T) {
	s := newStack(t)
	supply := newCups(t)
	s.dist.Standin.Reject = map[string]string{supply: "32"}
	s.runWorker()
	invoice := s.newCase(activities.SegmentBusiness, supply, 77000)
	s.review(invoice)
	held := s.waitState(invoice, "on hold", func(st workflows.State) bool {
		if st.Stage == workflows.StageCutReview && st.CutApprovedBy == "" {
			s.signal(invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
		}
		return st.Stage == workflows.StageOnHold
	})
	if held.Hold == nil || !held.Hold.NeverCut || !strings.Contains(held.Hold.Reason, "32") {
		t.Fatalf("hold %+v", held.Hold)
	}
	k, err := s.db.Contract(s.ctx, activities.CaseRef{Cups: supply})
	if err != nil || !strings.Contains(k.Protection, "32") {
		t.Fatalf("the supply point is not flagged: %+v %v", k, err)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 77000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.CutAt != nil {
		t.Fatalf("result %+v", r)
	}
	if n := s.requests(supply); n["cut"] != 1 {
		t.Fatalf("distributor requests %v, want the one rejected", n)
	}
	s.recordHistory(invoice, "business_atr_rejected_essential")
}
