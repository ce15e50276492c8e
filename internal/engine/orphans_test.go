package engine_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// A case terminated by hand runs no code: its invoice stays open in the
// ledger, and only the daily check of the ledger against Temporal finds it.
// The ledger here is a schema of the test's own.
func TestOrphansFindsTheInvoiceOfATerminatedCase(t *testing.T) {
	s := newStack(t)
	db, drop, err := store.OpenIsolated(s.ctx, os.Getenv("DATABASE_URL"), "orphans_test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	wctx, stop := context.WithCancel(s.ctx)
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(wctx, s.c, s.queue, &activities.Activities{Store: db, Retailer: notice.DefaultRetailer})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	terminated, running := "T-"+token(5), "T-"+token(5)
	for _, inv := range []string{terminated, running} {
		supply := newCups(t)
		if err := db.UpsertContract(s.ctx, contractOf(inv, activities.SegmentDomestic, supply)); err != nil {
			t.Fatal(err)
		}
		s.startCase(inv, supply, 4200, fastPolicy())
		id := workflows.WorkflowID(inv)
		t.Cleanup(func() { _ = s.c.TerminateWorkflow(context.Background(), id, "", "test over") })
	}
	// Both open in the ledger: each case's first step opened its invoice.
	deadline := time.Now().Add(time.Minute)
	for {
		open, err := db.ListOpenInvoices(s.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invoices open in the ledger: %+v, want both", open)
		}
		s.sleep()
	}
	if err := s.c.TerminateWorkflow(s.ctx, workflows.WorkflowID(terminated), "", "terminated by hand"); err != nil {
		t.Fatal(err)
	}
	if _, err := cases.Running(s.ctx, s.c, terminated); err == nil {
		t.Fatalf("invoice %s still running after its termination", terminated)
	}

	open, err := db.ListOpenInvoices(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 {
		t.Fatalf("open invoices after the termination: %+v, want both still open", open)
	}
	orphans, err := cases.Orphans(s.ctx, s.c, open)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 {
		t.Fatalf("orphans %+v, want only %s", orphans, terminated)
	}
	o := orphans[0]
	if o.Invoice != terminated || o.Status != "terminated" || o.ClosedAt == nil || o.RunID == "" ||
		o.WorkflowID != workflows.WorkflowID(terminated) {
		t.Fatalf("orphan %+v, want %s terminated with its run and close time", o, terminated)
	}
}
