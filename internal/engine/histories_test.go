package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/workflows"
)

// paidNeverCut checks the end of a case paid in full before any cut: closed
// paid with paidCents received, the outbox holding kinds in order, and no
// request to the distributor for its supply point.
func (s *stack) paidNeverCut(invoice, supply string, paidCents int64, kinds []string) {
	s.t.Helper()
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.PaidCents != paidCents || r.CutAt != nil {
		s.t.Fatalf("result %+v, want paid (%d cents) and never cut", r, paidCents)
	}
	if got := s.outboxKinds(invoice); !slices.Equal(got, kinds) {
		s.t.Fatalf("outbox kinds %v, want %v", got, kinds)
	}
	if n := s.requests(supply); len(n) != 0 {
		s.t.Fatalf("distributor requests for a case paid before any cut: %v", n)
	}
}

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
	st = s.review(invoice)
	if st.AmountDueCents != 50000 {
		t.Fatalf("amount due after a partial payment: %d", st.AmountDueCents)
	}
	s.approveUntilCut(invoice)
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

// slowNotices is fastPolicy with the domestic notices three seconds apart, so
// a test acts between two notices however busy the machine is.
func slowNotices() workflows.Policy {
	p := fastPolicy()
	p.NoticeSpacingDays = 30
	return p
}

// eventAfter reports whether an event whose text starts with second comes
// after one whose text starts with first in the case's history.
func eventAfter(st workflows.State, first, second string) bool {
	seen := false
	for _, e := range st.History {
		switch {
		case strings.HasPrefix(e.What, first):
			seen = true
		case seen && strings.HasPrefix(e.What, second):
			return true
		}
	}
	return false
}

func countEvents(st workflows.State, what string) int {
	n := 0
	for _, e := range st.History {
		if e.What == what {
			n++
		}
	}
	return n
}

func TestDomesticPartialPaymentLowersTheDebtAndNoticesGoOnUntilPaid(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := "T-" + token(5)
	s.upsertContract(contractOf(invoice, activities.SegmentDomestic, supply))
	s.startCase(invoice, supply, 30000, slowNotices())

	s.waitState(invoice, "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 10000, Reference: "TR-1-" + invoice})
	st := s.waitState(invoice, "formal demand sent", func(st workflows.State) bool {
		return st.Stage == workflows.StageNotice3 && slices.Contains(kinds(st.Notices), "requerimiento")
	})
	if st.AmountDueCents != 20000 {
		t.Fatalf("amount due after a partial payment: %d", st.AmountDueCents)
	}
	if got := kinds(st.Notices); !slices.Equal(got, []string{"aviso_1", "aviso_2", "requerimiento"}) {
		t.Fatalf("notices after a partial payment: %v", got)
	}
	if !eventAfter(st, "pago recibido", "comunicado aviso_2") {
		t.Fatalf("aviso 2 not sent after the partial payment: %+v", st.History)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 20000, Reference: "TR-2-" + invoice})
	s.paidNeverCut(invoice, supply, 30000, []string{"aviso_1", "aviso_2", "requerimiento", "pago"})
	s.recordHistory(invoice, "domestic_partial_payment_paid")
}

func TestProtectedHouseholdIsHeldAndNeverCutUntilPaid(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := "T-" + token(5)
	k := contractOf(invoice, activities.SegmentDomestic, supply)
	k.Protected = true
	s.upsertContract(k)
	s.startCase(invoice, supply, 40000, fastPolicy())

	st := s.waitStage(invoice, workflows.StageOnHold)
	if st.Hold == nil || !st.Hold.NeverCut || st.CutDate != nil {
		t.Fatalf("protected household after the regulatory wait: hold %+v, cut date %v", st.Hold, st.CutDate)
	}
	// Released while the contract still says protected: the case reads it
	// again and goes back on hold.
	s.signal(invoice, workflows.SignalRelease, workflows.ReleaseSignal{By: "clerk"})
	const still = "sigue sin poder cortarse según el contrato"
	s.waitState(invoice, "back on hold", func(st workflows.State) bool {
		return st.Stage == workflows.StageOnHold && countEvents(st, still) == 1
	})
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 40000, Reference: "TR-" + invoice})
	s.paidNeverCut(invoice, supply, 40000, []string{"aviso_1", "aviso_2", "requerimiento", "pago"})
	s.recordHistory(invoice, "domestic_protected_hold_paid")
}

func TestEssentialBusinessSupplyGetsTheDemandAndIsHeldUntilPaid(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := "T-" + token(5)
	k := contractOf(invoice, activities.SegmentBusiness, supply)
	k.Essential = true
	s.upsertContract(k)
	s.startCase(invoice, supply, 150000, fastPolicy())

	st := s.waitStage(invoice, workflows.StageOnHold)
	if st.Hold == nil || !st.Hold.NeverCut || st.CutDate != nil {
		t.Fatalf("essential supply: hold %+v, cut date %v", st.Hold, st.CutDate)
	}
	if got := kinds(st.Notices); !slices.Equal(got, []string{"requerimiento"}) {
		t.Fatalf("notices of an essential supply: %v", got)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 150000, Reference: "TR-" + invoice})
	s.paidNeverCut(invoice, supply, 150000, []string{"requerimiento", "pago"})
	s.recordHistory(invoice, "business_essential_hold_paid")
}

// A supply flagged essential between the cuts desk's approval and the request
// to the distributor is not cut: the case reads the contract again and holds.
func TestSupplyFlaggedEssentialAfterApprovalIsNeverCut(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 70000)
	s.review(invoice)

	k := contractOf(invoice, activities.SegmentBusiness, supply)
	k.Essential = true
	s.upsertContract(k)
	s.signal(invoice, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	st := s.waitStage(invoice, workflows.StageOnHold)
	if st.Hold == nil || !st.Hold.NeverCut || st.CutApprovedBy != "" {
		t.Fatalf("approved, then flagged essential: hold %+v, approved by %q", st.Hold, st.CutApprovedBy)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 70000, Reference: "TR-" + invoice})
	s.paidNeverCut(invoice, supply, 70000, []string{"carta_corte", "pre_corte", "pago"})
	s.recordHistory(invoice, "business_essential_after_approval_paid")
}

func TestCaseWithoutContactDataWaitsForContactUpdated(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := "T-" + token(5)
	s.startCase(invoice, supply, 6000, slowNotices()) // no contract for the supply point yet

	const missing = "sin contrato para el CUPS"
	s.waitStage(invoice, workflows.StageNeedsContact)
	// An update that does not bring the contract leaves the case waiting.
	s.signal(invoice, workflows.SignalContactUpdated, workflows.ContactUpdatedSignal{By: "clerk"})
	s.waitState(invoice, "second look at the contracts", func(st workflows.State) bool {
		return st.Stage == workflows.StageNeedsContact && countEvents(st, missing) == 2
	})
	s.upsertContract(contractOf(invoice, activities.SegmentDomestic, supply))
	s.signal(invoice, workflows.SignalContactUpdated, workflows.ContactUpdatedSignal{By: "clerk"})
	st := s.waitState(invoice, "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })
	if st.Stage != workflows.StageNotice1 || st.Phone == "" {
		t.Fatalf("released case: %+v", st)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 6000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.PaidCents != 6000 {
		t.Fatalf("result %+v", r)
	}
	if got := s.outboxKinds(invoice); !slices.Equal(got, []string{"aviso_1", "pago"}) {
		t.Fatalf("outbox kinds %v", got)
	}
	s.recordHistory(invoice, "needs_contact_released_paid")
}

func TestInvoiceAlreadyInThePaymentsLedgerClosesWithoutANotice(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	supply := newCups(t)
	invoice := "T-" + token(5)
	s.upsertContract(contractOf(invoice, activities.SegmentDomestic, supply))
	now := time.Now()
	if _, err := s.db.RecordPayment(s.ctx, activities.PaymentInput{
		Case:        activities.CaseRef{Invoice: invoice, Cups: supply},
		Key:         workflows.PaymentKey(invoice, "TR-"+invoice, now, 8000),
		AmountCents: 8000, PaidAt: now, Reference: "TR-" + invoice,
	}); err != nil {
		t.Fatal(err)
	}
	in := workflows.Input{Invoice: invoice, Customer: "Cliente " + invoice, Cups: supply, AmountCents: 8000,
		ReturnedAt: now, Policy: fastPolicy()}
	if out, err := cases.Start(s.ctx, s.c, s.queue, in, false); err != nil || out != cases.Started {
		t.Fatalf("start %s: %v %v", invoice, out, err)
	}
	if r := s.result(invoice); r.Stage != workflows.StagePaid || r.PaidCents != 8000 {
		t.Fatalf("result %+v", r)
	}
	if got := s.outboxKinds(invoice); len(got) != 0 {
		t.Fatalf("notices for an invoice paid before the case: %v", got)
	}
	s.recordHistory(invoice, "paid_before_first_notice")
}
