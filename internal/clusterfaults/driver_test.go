package clusterfaults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// path is how the clerks and the cuts desk treat a case.
type path int

const (
	// cutThenPaid: the desk approves the cut; the customer pays once cut.
	// The case ends reconnected.
	cutThenPaid path = iota
	// paidEarly: the customer pays while the cut is scheduled or under
	// review; nobody approves it. The case ends paid, never cut.
	paidEarly
	// pairMember: one of two invoices of one supply point; both are cut,
	// then both are paid at once. One ends paid, the other reconnected, and
	// the supply point is cut once and reconnected once.
	pairMember
)

// invoiceCase is one case of a run and what the driver saw of it.
type invoiceCase struct {
	in      workflows.Input
	segment string
	path    path
	partner *invoiceCase

	// Guarded by driver.mu.
	seenCut    bool
	proven     bool      // the proof of its formal notice is recorded and the case told
	provedAt   time.Time // last try to record it
	approvedAt time.Time // last approve-cut sent
	paidAt     time.Time // last paid sent
	startedAt  time.Time // as the server recorded it
	closedAt   time.Time
	closed     bool
}

func (c *invoiceCase) id() string { return workflows.WorkflowID(c.in.Invoice) }

// mix is how many cases of each kind a run has.
type mix struct {
	domesticCut, businessCut     int // cutThenPaid
	domesticEarly, businessEarly int // paidEarly
	domesticPairs, businessPairs int // pairs of pairMember
}

// planCases makes the cases of a mix, each invoice with its own supply point
// but the pairs, and the contract each supply point has.
func planCases(t *testing.T, prefix string, m mix) ([]*invoiceCase, []activities.Contract) {
	t.Helper()
	var out []*invoiceCase
	var contracts []activities.Contract
	n := 0
	add := func(segment string, p path, supply string) *invoiceCase {
		n++
		invoice := fmt.Sprintf("%s-%04d", prefix, n)
		c := &invoiceCase{segment: segment, path: p, in: workflows.Input{
			Invoice: invoice, Customer: "Cliente " + invoice, Cups: supply,
			AmountCents: int64(1000 + (n*7919)%250000), ReturnedAt: time.Now(), Policy: fastPolicy(),
		}}
		out = append(out, c)
		return c
	}
	supply := func(segment string) string {
		s := newCups(t)
		// The holder's tax id: the cut's B1 request names it.
		contracts = append(contracts, activities.Contract{
			Customer: "Cliente " + s, TaxID: nif(len(contracts)), Cups: s, Segment: segment,
			Phone: "+34600000000", Email: "cliente@example.com",
		})
		return s
	}
	for _, g := range []struct {
		segment string
		p       path
		count   int
	}{
		{activities.SegmentDomestic, cutThenPaid, m.domesticCut},
		{activities.SegmentBusiness, cutThenPaid, m.businessCut},
		{activities.SegmentDomestic, paidEarly, m.domesticEarly},
		{activities.SegmentBusiness, paidEarly, m.businessEarly},
	} {
		for i := 0; i < g.count; i++ {
			add(g.segment, g.p, supply(g.segment))
		}
	}
	for _, g := range []struct {
		segment string
		count   int
	}{{activities.SegmentDomestic, m.domesticPairs}, {activities.SegmentBusiness, m.businessPairs}} {
		for i := 0; i < g.count; i++ {
			s := supply(g.segment)
			a, b := add(g.segment, pairMember, s), add(g.segment, pairMember, s)
			a.partner, b.partner = b, a
		}
	}
	return out, contracts
}

func storeContracts(t *testing.T, ctx context.Context, db *store.Store, contracts []activities.Contract) {
	t.Helper()
	for _, k := range contracts {
		if err := db.UpsertContract(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// startAll starts every case through cases.Start with the given number of
// concurrent starters, as the nightly import does. A start refused because
// the cluster is missing a service is tried again; a start that went through
// although its answer was lost comes back as already open, which is as good.
// started counts the cases started so far, for whoever waits on progress.
func startAll(ctx context.Context, c client.Client, queue string, all []*invoiceCase, starters int, started *atomic.Int64) error {
	jobs := make(chan *invoiceCase)
	errs := make(chan error, starters)
	var wg sync.WaitGroup
	for i := 0; i < starters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				if err := startOne(ctx, c, queue, k); err != nil {
					errs <- err
					return
				}
				started.Add(1)
			}
		}()
	}
	var err error
feed:
	for _, k := range all {
		select {
		case jobs <- k:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

func startOne(ctx context.Context, c client.Client, queue string, k *invoiceCase) error {
	var last error
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		out, err := cases.Start(sctx, c, queue, k.in, false)
		cancel()
		if err == nil {
			if out == cases.AlreadyClosed {
				return fmt.Errorf("start %s: the case closed before it was started", k.in.Invoice)
			}
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("start %s: %w (last error: %v)", k.in.Invoice, ctx.Err(), last)
		case <-time.After(wait):
		}
	}
}

// driver plays the clerks and the cuts desk for the cases of a run: it reads
// the cases' stages the way the supervisor does, with the Stage filter of
// the Web UI, and sends approve-cut and paid when a case calls for it. Once
// a case has sent its formal notice (notice_3 for a domestic case, the cut
// letter of cut_scheduled for a business one), or waits for its proof in
// cut_blocked, it records the proof of delivery in the ledger and tells the
// case, as a clerk does with starter proof: without it no cut is requested.
// Visibility trails the cases by a moment, so a signal may reach a case a
// step later than it was meant for; the workflow ignores an approval out of
// place and counts a payment with the same reference once, so a driver that
// repeats itself (every resend) is harmless, which is also what a clerk
// clicking twice is.
type driver struct {
	c      client.Client
	db     cases.ProofLedger
	queue  string
	resend time.Duration

	mu     sync.Mutex
	cases  map[string]*invoiceCase // by workflow id
	open   int
	jobs   chan func(context.Context) error
	failed atomic.Int64 // signals that failed and were sent again later
	done   chan struct{}
}

func newDriver(c client.Client, db cases.ProofLedger, queue string, all []*invoiceCase) *driver {
	d := &driver{c: c, db: db, queue: queue, resend: 20 * time.Second, cases: map[string]*invoiceCase{},
		open: len(all), jobs: make(chan func(context.Context) error, 1024), done: make(chan struct{})}
	for _, k := range all {
		d.cases[k.id()] = k
	}
	return d
}

// run drives the cases until every one has closed or ctx ends.
func (d *driver) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range d.jobs {
				sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				if err := job(sctx); err != nil {
					d.failed.Add(1)
				}
				cancel()
			}
		}()
	}
	defer wg.Wait()
	defer close(d.jobs)

	since := time.Now().Add(-time.Minute)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		// A visibility query that fails while a service is down is just
		// tried again at the next tick.
		running, err := d.list(ctx, fmt.Sprintf(
			`WorkflowType = %q AND TaskQueue = %q AND ExecutionStatus = "Running" AND Stage IN ("notice_3", "cut_scheduled", "cut_blocked", "cut_review", "cut")`,
			workflows.WorkflowType, d.queue))
		if err == nil {
			d.act(running)
		}
		if n%4 == 0 {
			closed, err := d.list(ctx, fmt.Sprintf(
				`WorkflowType = %q AND TaskQueue = %q AND ExecutionStatus != "Running" AND StartTime > %q`,
				workflows.WorkflowType, d.queue, since.UTC().Format(time.RFC3339)))
			if err == nil && d.markClosed(closed) == 0 {
				close(d.done)
				return nil
			}
		}
	}
}

// finished is closed when every case has closed.
func (d *driver) finished() <-chan struct{} { return d.done }

type row struct {
	id       string
	stage    workflows.Stage
	started  time.Time
	closedAt time.Time
	events   int64 // history length
}

func (d *driver) list(ctx context.Context, query string) ([]row, error) {
	var out []row
	var token []byte
	dc := converter.GetDefaultDataConverter()
	for {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := d.c.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			r := row{id: e.GetExecution().GetWorkflowId(), started: e.GetStartTime().AsTime(), closedAt: e.GetCloseTime().AsTime(),
				events: e.GetHistoryLength()}
			if p := e.GetSearchAttributes().GetIndexedFields()["Stage"]; p != nil {
				var s string
				if dc.FromPayload(p, &s) == nil {
					r.stage = workflows.Stage(s)
				}
			}
			out = append(out, r)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// act sends what each listed case waits for.
func (d *driver) act(rows []row) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	due := func(last time.Time) bool { return last.IsZero() || now.Sub(last) > d.resend }
	for _, r := range rows {
		if r.stage == workflows.StageCut {
			if k := d.cases[r.id]; k != nil {
				k.seenCut = true
			}
		}
	}
	for _, r := range rows {
		k := d.cases[r.id]
		if k == nil || k.closed {
			continue
		}
		switch {
		case k.path == paidEarly && (r.stage == workflows.StageCutScheduled || r.stage == workflows.StageCutReview):
			if due(k.paidAt) {
				d.pay(k, now)
			}
		case !k.proven && (r.stage == workflows.StageNotice3 || r.stage == workflows.StageCutScheduled || r.stage == workflows.StageCutBlocked):
			if due(k.provedAt) {
				d.prove(k, now)
			}
		case k.path != paidEarly && r.stage == workflows.StageCutReview:
			if due(k.approvedAt) {
				d.approve(k, now)
			}
		case k.path == cutThenPaid && r.stage == workflows.StageCut,
			k.path == pairMember && r.stage == workflows.StageCut && (k.partner.seenCut || k.partner.closed):
			if due(k.paidAt) {
				d.pay(k, now)
			}
		}
	}
}

// approve and pay queue a signal; one that fails is sent again at a later
// tick (its time is cleared). Called with d.mu held.
func (d *driver) approve(k *invoiceCase, now time.Time) {
	d.send(k, &k.approvedAt, now, workflows.SignalApproveCut, workflows.ApproveCutSignal{By: "mesa de cortes"})
}

func (d *driver) pay(k *invoiceCase, now time.Time) {
	d.send(k, &k.paidAt, now, workflows.SignalPaid, workflows.PaidSignal{AmountCents: k.in.AmountCents, Reference: "TR-" + k.in.Invoice})
}

// prove queues the recording of the proof of the case's formal notice; one
// that failed, or found no formal notice in the outbox yet, is tried again at
// a later tick. Called with d.mu held.
func (d *driver) prove(k *invoiceCase, now time.Time) {
	job := func(ctx context.Context) error {
		_, err := cases.ProveFormalNotice(ctx, d.c, d.db, k.in.Invoice, "mesa de cortes")
		d.mu.Lock()
		defer d.mu.Unlock()
		switch {
		case err == nil:
			k.proven = true
		case errors.Is(err, cases.ErrNoFormalNotice):
			k.provedAt = time.Time{}
			return nil
		default:
			k.provedAt = time.Time{}
		}
		return err
	}
	select {
	case d.jobs <- job:
		k.provedAt = now
	default: // the senders are busy: the next tick asks again
	}
}

func (d *driver) send(k *invoiceCase, at *time.Time, now time.Time, name string, arg any) {
	job := func(ctx context.Context) error {
		err := cases.Signal(ctx, d.c, k.in.Invoice, name, arg)
		if err != nil && !errors.Is(err, cases.ErrClosed) {
			d.mu.Lock()
			*at = time.Time{}
			d.mu.Unlock()
			return err
		}
		return nil
	}
	select {
	case d.jobs <- job:
		*at = now
	default: // the senders are busy: the next tick asks again
	}
}

// markClosed records the listed closed cases and returns how many are open.
func (d *driver) markClosed(rows []row) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range rows {
		if k := d.cases[r.id]; k != nil && !k.closed {
			k.closed, k.closedAt, k.startedAt = true, r.closedAt, r.started
			d.open--
		}
	}
	return d.open
}

// openCount is how many cases have not closed yet, as far as the driver saw.
func (d *driver) openCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open
}

// durations are the median, 95th percentile and longest time from a case's
// start to its close, as the server recorded them.
func durations(all []*invoiceCase) (p50, p95, longest time.Duration) {
	var took []time.Duration
	for _, k := range all {
		if k.closed {
			took = append(took, k.closedAt.Sub(k.startedAt).Round(100*time.Millisecond))
		}
	}
	if len(took) == 0 {
		return 0, 0, 0
	}
	slices.Sort(took)
	return took[len(took)/2], took[len(took)*95/100], took[len(took)-1]
}

// results reads the result of every case from its closed workflow (the
// driver's view came from visibility; this is the workflow's own word).
func results(ctx context.Context, c client.Client, all []*invoiceCase) map[string]workflows.Result {
	out := make(map[string]workflows.Result, len(all))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, k := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var r workflows.Result
			if err := c.GetWorkflow(rctx, k.id(), "").Get(rctx, &r); err != nil {
				return
			}
			mu.Lock()
			out[k.in.Invoice] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
