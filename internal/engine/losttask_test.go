package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/workflows"
)

// loseTask loses, once armed, the first workflow task completion that moves
// a case's Stage search attribute to stage: the worker's answer never
// reaches the server, as when the worker dies after the task's local
// activities ran. The server times the task out and hands it out again.
type loseTask struct {
	stage string

	mu    sync.Mutex
	armed bool
	lost  int
}

func (l *loseTask) arm() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed = true
}

func (l *loseTask) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

func (l *loseTask) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if r, ok := req.(*workflowservice.RespondWorkflowTaskCompletedRequest); ok && l.take(r) {
		return serviceerror.NewNotFound("workflow task lost on its way to the server")
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (l *loseTask) take(r *workflowservice.RespondWorkflowTaskCompletedRequest) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.armed {
		return false
	}
	for _, cmd := range r.GetCommands() {
		sa := cmd.GetUpsertWorkflowSearchAttributesCommandAttributes().GetSearchAttributes().GetIndexedFields()
		if p := sa[workflows.AttrStage.GetName()]; p != nil && bytes.Contains(p.GetData(), []byte(`"`+l.stage+`"`)) {
			l.armed = false
			l.lost++
			return true
		}
	}
	return false
}

// PROCESS "Actors": a clerk's action gets the case's real answer even while
// the ledger runs ahead of Temporal. A workflow task writes the case's stage
// to the ledger by a local activity before Temporal records the task; when
// the task is lost, the ledger shows a review that Temporal's history does
// not hold. An approval given then reaches the task run again before the
// case is back under review: the clerk is told it was refused and why, the
// case waits under review, visibly, and the next approval cuts. The review
// is written to the audit trail once, though two tasks recorded it.
func TestApprovalWhileTheTaskThatReviewsIsLost(t *testing.T) {
	s := newStack(t)
	lose := &loseTask{stage: string(workflows.StageCutReview)}
	c, err := engine.Dial(s.ctx, func(o *client.Options) {
		o.ConnectionOptions.DialOptions = append(o.ConnectionOptions.DialOptions,
			grpc.WithChainUnaryInterceptor(lose.intercept))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s.runWorkerOn(c)
	supply := newCups(t)
	invoice := s.newCase(activities.SegmentBusiness, supply, 30000)
	s.waitStage(invoice, workflows.StageCutBlocked)

	lose.arm()
	s.prove(invoice)
	s.waitLedger(invoice, "the review in the ledger", func() bool {
		inv, err := s.db.Invoice(s.ctx, invoice)
		return err == nil && inv.Stage == string(workflows.StageCutReview) && lose.count() == 1
	})

	// The clerk approves from the ledger's stage; the answer comes once the
	// server has handed the task out again.
	_, err = cases.Update(s.ctx, s.c, invoice, workflows.UpdateApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	var refused *cases.Refused
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "not under review (stage "+string(workflows.StageCutBlocked)) {
		t.Fatalf("approval while the review's task was lost: want refused in %s, got %v", workflows.StageCutBlocked, err)
	}
	st := s.waitStage(invoice, workflows.StageCutReview)
	if st.CutApprovedBy != "" || st.NextAction != "aprobación de la mesa de cortes (approve-cut)" {
		t.Fatalf("under review after the refusal: approved by %q, next action %q", st.CutApprovedBy, st.NextAction)
	}
	if n := s.requests(supply); n["cut"] != 0 {
		t.Fatalf("cut requested on a refused approval: %v", n)
	}

	ans, err := cases.Update(s.ctx, s.c, invoice, workflows.UpdateApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
	if err != nil || ans.Outcome != "approved" {
		t.Fatalf("second approval: %+v %v", ans, err)
	}
	s.waitStage(invoice, workflows.StageCut)
	if n := s.requests(supply); n["cut"] != 1 {
		t.Fatalf("cut requests after the second approval: %v", n)
	}
	if got := lose.count(); got != 1 {
		t.Fatalf("tasks lost: %d, want 1", got)
	}

	audit, err := s.db.Audit(s.ctx, invoice)
	if err != nil {
		t.Fatal(err)
	}
	reviews := 0
	for _, a := range audit {
		var d struct{ Stage string }
		if a.Action == "stage" && json.Unmarshal(a.Detail, &d) == nil && d.Stage == string(workflows.StageCutReview) {
			reviews++
		}
	}
	if reviews != 1 {
		t.Fatalf("audit lines of the review: %d, want 1 (the task run again writes none)", reviews)
	}
	s.signal(invoice, workflows.SignalPaid, workflows.PaidSignal{AmountCents: 30000, Reference: "TR-" + invoice})
	if r := s.result(invoice); r.Stage != workflows.StageReconnected {
		t.Fatalf("result %+v", r)
	}
}

// waitLedger polls until ok holds.
func (s *stack) waitLedger(invoice, what string, ok func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	s.t.Fatalf("invoice %s: %s never seen", invoice, what)
}
