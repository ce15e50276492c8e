package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/billing"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/notice"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// lifecycleRun is figure 3 running in the background: one domestic and one
// business case driven from start to reconnection.
type lifecycleRun struct {
	b    *bench
	db   *store.Store
	done chan error
}

// fastPolicy is the default process with a day lasting a tenth of a second,
// as the integration tests run it.
func fastPolicy() workflows.Policy {
	p := workflows.DefaultPolicy()
	p.Name = "fast"
	p.Scale = 864000
	return p
}

// startLifecycle starts figure 3: a domestic and a business case on the
// lifecycle policy, run by a worker inside the bench on a task queue of their
// own with a distributor of their own (distributor.Local: folders under the
// run's directory and a stand-in answering at once), and a driver that plays
// the clerks, the cuts desk and the customer: it
// records the proof of the formal notice as soon as it is sent, approves each
// cut as soon as it is under review and pays as soon as it is cut. Its
// load (a few activities every few seconds, and the distributor's folders
// read every 50 ms) is too small to move the other figures, which it overlaps.
func (b *bench) startLifecycle(ctx context.Context) (*lifecycleRun, error) {
	db, _, err := b.isolated(ctx, "bench_cases")
	if err != nil {
		return nil, err
	}
	policy := fastPolicy()
	if b.opts.sizes.lifecyclePolicy == "demo" {
		if policy, err = b.cfg.Policy("demo"); err != nil {
			return nil, err
		}
	}
	queue := b.queue("lifecycle")
	// A distributor of the cases' own: folders under the run's directory,
	// the loop over them and a stand-in that answers at once.
	dist := distributor.NewLocal(filepath.Join(b.tmp, "lifecycle-atr"), db, b.c, 0, 0)
	wctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 2)
	go func() {
		stopped <- engine.RunWorker(wctx, b.c, queue, &activities.Activities{Store: db, Retailer: notice.DefaultRetailer,
			Distributor: dist.Folder, REECode: distributor.LocalREECode})
	}()
	go func() { stopped <- dist.Run(wctx) }()
	b.onClose(func() error { cancel(); return errors.Join(<-stopped, <-stopped) })

	l := &lifecycleRun{b: b, db: db, done: make(chan error, 1)}
	type run struct {
		segment string
		in      workflows.Input
	}
	runs := []run{
		{activities.SegmentDomestic, b.caseInputs("d", 1, policy)[0]},
		{activities.SegmentBusiness, b.caseInputs("e", 1, policy)[0]},
	}
	for _, r := range runs {
		if err := db.UpsertContract(ctx, contractFor(r.in, r.segment)); err != nil {
			return nil, err
		}
		b.track(workflows.WorkflowID(r.in.Invoice))
		if _, err := cases.Start(ctx, b.c, queue, r.in, true); err != nil {
			return nil, err
		}
	}
	progress("figure 3: a domestic and a business case started on the %s policy", policy.Name)
	go func() {
		errs := make(chan error, len(runs))
		for _, r := range runs {
			go func() { errs <- l.drive(ctx, r.segment, r.in) }()
		}
		var all []error
		for range runs {
			all = append(all, <-errs)
		}
		l.done <- errors.Join(all...)
	}()
	return l, nil
}

// wait waits for both cases to close and their figures to be recorded.
func (l *lifecycleRun) wait(ctx context.Context) error {
	select {
	case err := <-l.done:
		return err
	default:
		progress("figure 3: waiting for the lifecycle cases to close")
	}
	select {
	case err := <-l.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drive plays the clerks, the cuts desk and the customer for one case,
// reading its stage from the ledger (no queries: they would be actions too),
// then counts its history.
func (l *lifecycleRun) drive(ctx context.Context, segment string, in workflows.Input) error {
	c := l.b.c
	id := workflows.WorkflowID(in.Invoice)
	start := time.Now()
	k := newClerk(c, l.db)
	paid := false
	err := poll(ctx, 8*time.Minute, 100*time.Millisecond, "lifecycle case "+in.Invoice, func() (bool, error) {
		inv, err := l.db.Invoice(ctx, in.Invoice)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch {
		case inv.Status == "paid":
			return true, nil
		case inv.Stage == string(workflows.StageCut) && !paid:
			paid = true
			return false, c.SignalWorkflow(ctx, id, "", workflows.SignalPaid,
				workflows.PaidSignal{AmountCents: in.AmountCents, PaidAt: time.Now(), Reference: "TR-" + in.Invoice})
		}
		return false, k.act(ctx, in.Invoice, workflows.Stage(inv.Stage))
	})
	if err != nil {
		return err
	}
	var res workflows.Result
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		return fmt.Errorf("lifecycle case %s: %w", in.Invoice, err)
	}
	if res.Stage != workflows.StageReconnected {
		return fmt.Errorf("lifecycle case %s ended %s, want %s", in.Invoice, res.Stage, workflows.StageReconnected)
	}
	cost, err := countHistory(ctx, l.b, id)
	if err != nil {
		return err
	}
	name := "domestic"
	if segment == activities.SegmentBusiness {
		name = "business"
	}
	progress("figure 3: %s case reconnected after %s: %d events, %d actions (%s)",
		name, time.Since(start).Round(time.Second), cost.Events, cost.Actions(), cost)
	l.b.res.add(figure{fig: "3", name: "events_" + name, value: float64(cost.Events), unit: "events"})
	l.b.res.addTarget(figure{fig: "3", name: "actions_" + name, value: float64(cost.Actions()), unit: "actions"},
		actionsTarget[name], false)
	l.b.res.note("figure 3, %s case on the %s policy: %s; timers: %s; the proof of its formal notice recorded, the cut approved %d time(s)",
		name, in.Policy.Name, cost, strings.Join(cost.timers, ", "), k.approvals[in.Invoice])
	return nil
}

// actionsTarget is the billable actions a case may cost: what each cost at
// commit 3eb575f on the demo policy at full scale, before the distributor's
// answers added their signals, timers and upserts.
var actionsTarget = map[string]float64{"business": 32, "domestic": 46}

// historyCost is what a closed case's history says it cost: Temporal Cloud's
// bill (internal/billing) and the summaries of its timers.
type historyCost struct {
	*billing.Bill
	timers []string
}

func (h historyCost) String() string {
	return fmt.Sprintf("1 start, %d activities (+%d retries), %d local activities (billed in %d workflow tasks), %d timers, %d signals, %d search-attribute upserts (from %d workflow tasks), %d side effects; not billed: %d version markers",
		h.Activities, h.Retries, h.LocalActivities, len(h.LocalTasks), h.Timers, h.Signals, h.Upserts, len(h.UpsertTasks), h.SideEffects, h.VersionMarkers)
}

func countHistory(ctx context.Context, b *bench, workflowID string) (historyCost, error) {
	h := historyCost{Bill: billing.New()}
	it := b.c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return h, err
		}
		h.Add(e)
		if e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			h.timers = append(h.timers, summary(e))
		}
	}
	return h, nil
}

// summary is a timer's summary ("aviso 2"), as the UI shows it.
func summary(e *historypb.HistoryEvent) string {
	var p *commonpb.Payload = e.GetUserMetadata().GetSummary()
	var s string
	if p == nil || converter.GetDefaultDataConverter().FromPayload(p, &s) != nil {
		return "?"
	}
	return s
}
