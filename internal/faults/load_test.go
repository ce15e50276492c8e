package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// plan is what the clerks and the cuts desk do with a case, and so how it ends.
type plan int

const (
	// planCut: the cuts desk approves the cut; the customer pays once cut.
	planCut plan = iota
	// planPaidInReview: the customer pays while the cut awaits the cuts desk.
	planPaidInReview
	// planPaidRequested: the cuts desk approves the cut; the customer pays as
	// soon as it is requested of the distributor. The request is cancelled
	// (B1 03) and the case ends paid; when the distributor cut before it read
	// the cancellation, the case ends reconnected.
	planPaidRequested
	// planPaidEarly: the customer pays soon after the first notices.
	planPaidEarly
	// planPartial: half is paid early, the rest once cut.
	planPartial
	// planPairFirst: first of two invoices on one CUPS; paid first, once both are cut.
	planPairFirst
	// planPairSecond: second of the pair; paid once the first is settled.
	planPairSecond
	// planNeverCut: an essential supply or protected household, paid while on hold.
	planNeverCut
)

func (p plan) String() string {
	return [...]string{"cut", "paid-in-review", "paid-requested", "paid-early", "partial", "pair-first", "pair-second", "never-cut"}[p]
}

// fcase is one case of the run: what it is, how it must end, and what the
// driver has done to it so far.
type fcase struct {
	invoice   string
	cups      string
	taxID     string // the holder's, which the B1 request names
	segment   string
	amount    int64
	plan      plan
	bono      bool
	essential bool
	protected bool
	partner   *fcase // the other invoice of a pair on one CUPS

	// executed is whether the distributor cut the supply point, as the
	// ledger tells at the end: how a paid-requested case must end.
	executed bool

	// Seen in the database and in Temporal by the driver.
	stage, status string
	closed        bool
	closeStatus   enumspb.WorkflowExecutionStatus
	result        workflows.Stage

	// reviews counts the times the case went before the cuts desk, as its
	// audit trail tells: an approval the ledger's refusal made stale sends
	// the case back to review, where it needs a new one.
	reviews int

	// Done by the driver.
	approvals        int       // approvals the case took
	approveTried     time.Time // when the case last refused an approval
	refusedApprovals int       // approvals the case refused
	halfPaid, paid   bool
	proven           bool      // the proof of its formal notice is recorded and the case told
	proofTried       time.Time // when the driver last tried to record it
	busy             bool      // a signal is on its way
	describing       bool      // Temporal is being asked whether it closed
}

// wantStage is the stage the case must end in.
func (c *fcase) wantStage() workflows.Stage {
	switch c.plan {
	case planCut, planPartial, planPairSecond:
		return workflows.StageReconnected
	case planPaidRequested:
		if c.executed {
			return workflows.StageReconnected
		}
	}
	return workflows.StagePaid
}

// cutsSupply reports whether a cut of the case's CUPS must be requested
// (once) and released (once: reconnected, or the request cancelled).
func (c *fcase) cutsSupply() bool {
	switch c.plan {
	case planCut, planPaidRequested, planPartial, planPairFirst, planPairSecond:
		return true
	}
	return false
}

// wantNotices is the sequence of notice kinds the case sends before its
// closing notice, and the closing one.
func (c *fcase) wantNotices() (before []string, closing string) {
	switch {
	case c.plan == planNeverCut && c.segment == activities.SegmentBusiness:
		before = []string{activities.KindRequerimiento}
	case c.plan == planNeverCut:
		before = []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento}
	case c.segment == activities.SegmentBusiness:
		before = []string{activities.KindCutLetter, activities.KindPreCut}
	default:
		before = []string{activities.KindAviso1, activities.KindAviso2, activities.KindRequerimiento, activities.KindPreCut}
	}
	closing = activities.KindPaid
	if c.wantStage() == workflows.StageReconnected {
		closing = activities.KindReconnected
	}
	return before, closing
}

// channels of each notice for a contract with both a phone and an e-mail.
var channels = map[string][]string{
	activities.KindAviso1:        {activities.ChannelWhatsApp, activities.ChannelEmail},
	activities.KindAviso2:        {activities.ChannelWhatsApp, activities.ChannelEmail},
	activities.KindRequerimiento: {activities.ChannelCertified, activities.ChannelWhatsApp},
	activities.KindCutLetter:     {activities.ChannelLetter, activities.ChannelCertified},
	activities.KindPreCut:        {activities.ChannelEmail},
	activities.KindPaid:          {activities.ChannelEmail},
	activities.KindReconnected:   {activities.ChannelEmail},
}

// catalogue builds the 200 cases of a run: domestic and business customers,
// some paying before the cut, some after, pairs of invoices on one CUPS, a
// partial payment, Bono Social households and supplies that are never cut.
func catalogue(prefix string) []*fcase {
	var out []*fcase
	add := func(n int, segment string, p plan, mod func(*fcase)) {
		for range n {
			i := len(out)
			c := &fcase{
				invoice: fmt.Sprintf("%s-%03d", prefix, i+1),
				cups:    cupsFor(prefix, i),
				taxID:   nif(i),
				segment: segment,
				amount:  int64(2000 + 137*i),
				plan:    p,
			}
			if segment == activities.SegmentBusiness {
				c.amount *= 10
			}
			if mod != nil {
				mod(c)
			}
			out = append(out, c)
		}
	}
	dom, biz := activities.SegmentDomestic, activities.SegmentBusiness
	add(46, dom, planCut, nil)
	add(2, dom, planCut, func(c *fcase) { c.bono = true })
	add(30, biz, planCut, nil)
	add(10, dom, planPaidInReview, nil)
	add(10, biz, planPaidInReview, nil)
	add(5, dom, planPaidRequested, nil)
	add(5, biz, planPaidRequested, nil)
	add(15, dom, planPaidEarly, nil)
	add(15, biz, planPaidEarly, nil)
	add(16, dom, planPartial, nil)
	for _, segment := range []string{dom, biz} {
		for range 10 {
			add(1, segment, planPairFirst, nil)
			first := out[len(out)-1]
			add(1, segment, planPairSecond, func(c *fcase) { c.cups, c.taxID, c.partner = first.cups, first.taxID, first })
			first.partner = out[len(out)-1]
		}
	}
	add(2, dom, planNeverCut, func(c *fcase) { c.essential = true })
	add(2, biz, planNeverCut, func(c *fcase) { c.essential = true })
	add(2, dom, planNeverCut, func(c *fcase) { c.protected, c.bono = true, true })
	return out
}

// cupsFor returns a valid CUPS of its own for case i of a run.
func cupsFor(prefix string, i int) string {
	var h int64
	for _, r := range prefix {
		h = h*31 + int64(r)
	}
	return cups.Make(31, (h%1_000_000)*1_000_000+int64(i))
}

// nif returns a valid NIF of its own for case i of a run.
func nif(i int) string {
	n := 30_000_000 + i
	return fmt.Sprintf("%08d%c", n, "TRWAGMYFPDXBNJZSQVHLCKE"[n%23])
}

// casePolicy is the demo process sped up: by default a day lasts 0.3 s, so a
// domestic case reaches its cut review in about 25 s and a Bono Social one (4
// months of wait, then 6 of Suministro Mínimo Vital) in about 100 s;
// IMPAGOS_FAULTS_POLICY=demo runs the demo policy itself (a day lasts two
// seconds). Not faster: a fault stops a case but not its clock (the e-mail
// outage holds some cases for about two minutes, a year of case time here),
// and a cut whose day lies past the holiday data (internal/calendar/holidays)
// waits for a person; at a tenth of a second a day such a case would get
// there. A faster clock also ends more cut days between the approval and the
// request (the ledger refuses it, and the case goes back to review).
func casePolicy() workflows.Policy {
	p := workflows.DemoPolicy()
	if os.Getenv("IMPAGOS_FAULTS_POLICY") != "demo" {
		p.Name = "faults"
		p.Scale = 288000
	}
	return p
}

// startCases stores each contract and starts each case.
func (s *stack) startCases(ctx context.Context, all []*fcase) error {
	policy := casePolicy()
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.cups] {
			continue
		}
		seen[c.cups] = true
		if err := s.db.UpsertContract(ctx, activities.Contract{
			Customer: "Cliente " + c.invoice, TaxID: c.taxID, Cups: c.cups, Segment: c.segment,
			Phone: "+34600000000", Email: strings.ToLower(c.invoice) + "@example.com",
			BonoSocial: c.bono, Essential: c.essential, Protected: c.protected,
		}); err != nil {
			return err
		}
	}
	errs := make(chan error, len(all))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			in := workflows.Input{Invoice: c.invoice, Customer: "Cliente " + c.invoice, Cups: c.cups,
				AmountCents: c.amount, ReturnedAt: time.Now(), Policy: policy}
			out, err := cases.Start(ctx, s.client, taskQueue, in, false)
			if err == nil && out != cases.Started {
				err = fmt.Errorf("start %s: %s", c.invoice, out)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// ---------------------------------------------------------------- faults

// hit is one blow of a fault: when it falls and what it does.
type hit struct {
	when string
	// ready says whether the hit falls now, given how far the run has gone
	// and how far it had gone when the previous hit fell.
	ready func(now, prev progress) bool
	do    func(ctx context.Context, s *stack) error
}

// progress is how far the run has gone, as the database tells.
type progress struct {
	domestic, pastNotice2 int // domestic cases; those that sent aviso 2 and went on
	cutsWanted, cuts      int // CUPS to be cut; cut requests made
	open                  int // cases not closed
}

func (p progress) String() string {
	return fmt.Sprintf("%d/%d domestic past aviso 2, %d/%d cuts requested, %d cases open",
		p.pastNotice2, p.domestic, p.cuts, p.cutsWanted, p.open)
}

// halfPastNotice2: half the domestic cases have sent aviso 2 and moved on.
func halfPastNotice2(p, _ progress) bool { return p.domestic > 0 && 2*p.pastNotice2 >= p.domestic }

// halfRemainingCut: half the supply points still uncut at the previous hit
// have been cut since (at least one).
func halfRemainingCut(p, prev progress) bool {
	return p.cuts > prev.cuts && 2*p.cuts >= prev.cuts+p.cutsWanted
}

// stageOrder ranks the stages a case goes through. A case waits in
// cut_blocked for the proof of its formal notice before its cut review (a
// domestic one as soon as its regulatory wait ends, a business one on its cut
// date), or after the ledger refused its cut request; a Bono Social household
// stays in minimum_supply for 6 months before its cut is scheduled. A cut is
// cut_requested until the distributor's 05, a payment then cancels it
// (cut_cancel_requested) and one after it asks for the reconnection
// (reconnect_requested) until the distributor accepts (04).
var stageOrder = map[string]int{
	"": 0, string(workflows.StageChecking): 1, string(workflows.StageNeedsContact): 2,
	string(workflows.StageNotice1): 3, string(workflows.StageNotice2): 4, string(workflows.StageNotice3): 5,
	string(workflows.StageMinimumSupply): 6, string(workflows.StageCutScheduled): 7,
	string(workflows.StageCutBlocked): 8, string(workflows.StageCutReview): 8, string(workflows.StageOnHold): 8,
	string(workflows.StageCutRequested): 9,
	string(workflows.StageCut):          10, string(workflows.StageCutCancelRequested): 10,
	string(workflows.StageReconnectRequested): 11, string(workflows.StageReconnecting): 11,
	string(workflows.StagePaid): 12, string(workflows.StageReconnected): 12,
}

// ---------------------------------------------------------------- the run

// run drives the cases of one fault test to their end, as the clerks and the
// cuts desk would, and lets the fault's hits fall on the way.
type run struct {
	s     *stack
	t     *testing.T
	cases []*fcase
	byInv map[string]*fcase
	hits  []hit

	mu       sync.Mutex
	fired    []string // what each hit did, for the report
	hitErr   error
	hitsDone int
	errors   map[string]int // failed driver calls by kind (retried), for the log
	log      *os.File
}

func newRun(s *stack, all []*fcase, hits []hit) *run {
	r := &run{s: s, t: s.t, cases: all, byInv: map[string]*fcase{}, hits: hits, errors: map[string]int{}}
	for _, c := range all {
		r.byInv[c.invoice] = c
	}
	f, err := os.Create(filepath.Join(s.dir, "driver.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	r.log = f
	s.t.Cleanup(func() { f.Close() })
	return r
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.log, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// drive runs until every case is closed and every hit fell, or until the deadline.
func (r *run) drive(ctx context.Context, deadline time.Time) {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait() // a hit that was cut short still brings its service back
	}()
	sem := make(chan struct{}, 16)
	hitRunning := false
	var prev progress // at the last hit
	var lastDescribe, lastList time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			r.logf("deadline reached")
			return
		}
		p, err := r.refresh(runCtx)
		if err != nil {
			r.countErr("refresh", err)
		}
		r.mu.Lock()
		if !hitRunning && r.hitsDone < len(r.hits) && err == nil && r.hits[r.hitsDone].ready(p, prev) {
			h := r.hits[r.hitsDone]
			hitRunning, prev = true, p
			at := time.Now()
			r.logf("hit %d (%s): %s", r.hitsDone+1, h.when, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				herr := h.do(runCtx, r.s)
				r.mu.Lock()
				defer r.mu.Unlock()
				r.fired = append(r.fired, fmt.Sprintf("%s at %s (%s), over in %s",
					h.when, at.Format("15:04:05"), p, time.Since(at).Round(100*time.Millisecond)))
				if herr != nil && !errors.Is(herr, errStopped) && r.hitErr == nil {
					r.hitErr = fmt.Errorf("%s: %w", h.when, herr)
				}
				r.logf("hit over: %v", herr)
				r.hitsDone++
				hitRunning = false
			}()
		}
		open := 0
		for _, c := range r.cases {
			if c.closed {
				continue
			}
			open++
			if c.busy {
				continue
			}
			if act := r.next(c); act != nil {
				c.busy = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					sctx, scancel := context.WithTimeout(runCtx, 15*time.Second)
					err := act(sctx)
					scancel()
					r.mu.Lock()
					c.busy = false
					r.mu.Unlock()
					if err != nil {
						r.countErr("signal", fmt.Errorf("%s: %w", c.invoice, err))
					}
				}()
			}
		}
		// A case closes soon after its invoice is paid: ask Temporal about
		// those only (a point lookup), and list every closed case now and
		// then for those that end otherwise (failed, terminated).
		if time.Since(lastDescribe) > time.Second {
			lastDescribe = time.Now()
			for _, c := range r.cases {
				if c.closed || c.describing || c.status != "paid" {
					continue
				}
				c.describing = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					if err := r.describe(runCtx, c); err != nil {
						r.countErr("describe", fmt.Errorf("%s: %w", c.invoice, err))
					}
					r.mu.Lock()
					c.describing = false
					r.mu.Unlock()
				}()
			}
		}
		allHit := r.hitsDone == len(r.hits)
		r.mu.Unlock()
		if open == 0 && allHit {
			return
		}
		if time.Since(lastList) > 15*time.Second {
			lastList = time.Now()
			if err := r.collectClosed(runCtx); err != nil {
				r.countErr("list", err)
			}
		}
	}
}

func (r *run) countErr(kind string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[kind]++
	if r.errors[kind] <= 3 || r.errors[kind]%100 == 0 {
		r.logf("%s error #%d: %v", kind, r.errors[kind], err)
	}
}

// refresh reads every case's stage from the invoices table.
func (r *run) refresh(ctx context.Context) (progress, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var p progress
	rows, err := r.s.db.Pool().Query(ctx, `SELECT invoice, stage, status FROM invoices`)
	if err != nil {
		return p, err
	}
	type row struct{ invoice, stage, status string }
	var got []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.invoice, &x.stage, &x.status); err != nil {
			rows.Close()
			return p, err
		}
		got = append(got, x)
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	if err := r.s.db.Pool().QueryRow(ctx, `SELECT count(*) FROM distributor_requests WHERE kind = 'cut'`).Scan(&p.cuts); err != nil {
		return p, err
	}
	// Read after the stages: a review the stage shows is counted.
	reviews, err := r.countByInvoice(ctx, `
		SELECT invoice, count(*) FROM audit WHERE action = 'stage' AND detail->>'stage' = $1 GROUP BY invoice`,
		string(workflows.StageCutReview))
	if err != nil {
		return p, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range got {
		if c := r.byInv[x.invoice]; c != nil {
			c.stage, c.status, c.reviews = x.stage, x.status, reviews[x.invoice]
		}
	}
	cut := map[string]bool{}
	for _, c := range r.cases {
		if c.segment == activities.SegmentDomestic {
			p.domestic++
			if stageOrder[c.stage] > stageOrder[string(workflows.StageNotice2)] {
				p.pastNotice2++
			}
		}
		if c.cutsSupply() {
			cut[c.cups] = true
		}
		if !c.closed {
			p.open++
		}
	}
	p.cutsWanted = len(cut)
	return p, nil
}

// next returns the signal the case needs now, if any. Called with r.mu held.
func (r *run) next(c *fcase) func(ctx context.Context) error {
	if act := r.planned(c); act != nil || c.paid {
		return act
	}
	return r.prove(c)
}

// planned returns the signal the case's plan calls for now, if any. Called
// with r.mu held.
func (r *run) planned(c *fcase) func(ctx context.Context) error {
	stage := workflows.Stage(c.stage)
	// One approval per review: the case is before the cuts desk for a
	// review it has not had one for. The stage is the ledger's, which a
	// workflow task writes before Temporal has it: when that task is lost
	// (the worker killed), the task run again may read the approval before
	// the case is back under review, and refuse it. So the cuts desk
	// approves as a clerk does, by update, counts only what the case
	// accepted, and tries again a second after a refusal.
	underReview := stage == workflows.StageCutReview && c.approvals < c.reviews &&
		time.Since(c.approveTried) >= time.Second
	approve := func(ctx context.Context) error {
		// A refusal comes back from the update's answer too, not only from
		// its submission: cases.Update looks at both, as for a clerk.
		_, err := cases.Update(ctx, r.s.client, c.invoice, workflows.UpdateApproveCut,
			workflows.ApproveCutSignal{By: "mesa de cortes", Note: "fault suite"})
		var refused *cases.Refused
		if errors.As(err, &refused) {
			r.mu.Lock()
			c.approveTried = time.Now()
			c.refusedApprovals++
			r.mu.Unlock()
			r.logf("%s: approval refused: %s", c.invoice, refused.Reason)
			return nil
		}
		r.done(err, func() {
			c.approvals++
			if c.approvals > 1 {
				r.logf("%s: approval %d (review %d)", c.invoice, c.approvals, c.reviews)
			}
		})
		return err
	}
	pay := func(ref string, cents int64, then func()) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			err := cases.Signal(ctx, r.s.client, c.invoice, workflows.SignalPaid,
				workflows.PaidSignal{AmountCents: cents, Reference: ref})
			r.done(err, then)
			return err
		}
	}
	payAll := pay("TR-"+c.invoice, c.amount, func() { c.paid = true })
	if c.paid {
		return nil
	}
	switch c.plan {
	case planCut:
		if underReview {
			return approve
		}
		if stage == workflows.StageCut {
			return payAll
		}
	case planPaidInReview:
		if stage == workflows.StageCutReview {
			return payAll
		}
	case planPaidRequested:
		if underReview {
			return approve
		}
		// Cut already when the driver first sees it: paid all the same.
		if stage == workflows.StageCutRequested || stage == workflows.StageCut {
			return payAll
		}
	case planPaidEarly:
		from := workflows.StageNotice2
		if c.segment == activities.SegmentBusiness {
			from = workflows.StageCutScheduled
		}
		if o := stageOrder[c.stage]; o >= stageOrder[string(from)] && o <= stageOrder[string(workflows.StageCutReview)] {
			return payAll
		}
	case planPartial:
		half := c.amount / 2
		if !c.halfPaid && stageOrder[c.stage] >= stageOrder[string(workflows.StageNotice1)] {
			return pay("TR-"+c.invoice+"-1", half, func() { c.halfPaid = true })
		}
		if underReview {
			return approve
		}
		if c.halfPaid && stage == workflows.StageCut {
			return pay("TR-"+c.invoice+"-2", c.amount-half, func() { c.paid = true })
		}
	case planPairFirst:
		if underReview {
			return approve
		}
		if stage == workflows.StageCut && c.partner.stage == string(workflows.StageCut) {
			return payAll
		}
	case planPairSecond:
		if underReview {
			return approve
		}
		if stage == workflows.StageCut && c.partner.status == "paid" {
			return payAll
		}
	case planNeverCut:
		if stage == workflows.StageOnHold {
			return payAll
		}
	}
	return nil
}

// prove returns, for a case that sent its formal notice (a domestic
// requerimiento, a business cut letter), the clerk's recording of its proof
// of delivery and the proof-recorded signal, once: without it the case waits
// in cut_blocked and the ledger refuses its cut. It is tried at most once a
// second until the outbox holds the notice. Called with r.mu held.
func (r *run) prove(c *fcase) func(ctx context.Context) error {
	if c.proven || c.status != "open" || stageOrder[c.stage] < stageOrder[string(workflows.StageNotice3)] ||
		time.Since(c.proofTried) < time.Second {
		return nil
	}
	c.proofTried = time.Now()
	return func(ctx context.Context) error {
		_, err := cases.ProveFormalNotice(ctx, r.s.client, r.s.db, c.invoice, "fault suite")
		if errors.Is(err, cases.ErrNoFormalNotice) {
			return nil // not in the outbox yet
		}
		r.done(err, func() { c.proven = true })
		return err
	}
}

// done records a signal's effect once it was accepted.
func (r *run) done(err error, then func()) {
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	then()
}

// collectClosed asks Temporal which cases have closed, and how.
func (r *run) collectClosed(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus != \"Running\"", workflows.WorkflowType)
	var token []byte
	var closed []*fcase
	var statuses []enumspb.WorkflowExecutionStatus
	for {
		resp, err := r.s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: q, NextPageToken: token})
		if err != nil {
			return err
		}
		r.mu.Lock()
		for _, e := range resp.GetExecutions() {
			if c := r.byInv[workflows.InvoiceOf(e.GetExecution().GetWorkflowId())]; c != nil && !c.closed {
				closed = append(closed, c)
				statuses = append(statuses, e.GetStatus())
			}
		}
		r.mu.Unlock()
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for i, c := range closed {
		if err := r.closed(ctx, c, statuses[i]); err != nil {
			return err
		}
	}
	return nil
}

// describe asks Temporal whether one case has closed.
func (r *run) describe(ctx context.Context, c *fcase) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := r.s.client.DescribeWorkflow(ctx, workflows.WorkflowID(c.invoice), "")
	if err != nil {
		return err
	}
	if d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return r.closed(ctx, c, d.Status)
	}
	return nil
}

// closed records how a case ended, with its result when it completed.
func (r *run) closed(ctx context.Context, c *fcase, status enumspb.WorkflowExecutionStatus) error {
	var res workflows.Result
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		if err := r.s.client.GetWorkflow(ctx, workflows.WorkflowID(c.invoice), "").Get(ctx, &res); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !c.closed {
		c.closed, c.closeStatus, c.result = true, status, res.Stage
		r.logf("%s closed: %s %s", c.invoice, status, res.Stage)
	}
	return nil
}

// ---------------------------------------------------------------- checks

// report is what the checks found.
type report struct {
	cases      int
	lost       map[string][]string // invoice → why
	duplicates int
	problems   []string // duplicates and anything else wrong, one line each
	// settled counts the e-mails whose sending attempt was cut short and that
	// the provider's event confirmed; resent, those sent again because the
	// provider never got them.
	settled, resent int
	// refusals counts the cut requests the ledger refused, by reason; each
	// sent its case back to review for a new approval (approvals beyond one
	// per case: extraApprovals).
	refusals       map[string]int
	extraApprovals int
	// refusedApprovals counts the approvals a case refused: given while the
	// ledger showed a review the case itself had not reached yet, or again
	// after one whose acceptance the driver did not hear of.
	refusedApprovals int
	// atr is what went to the distributor's folders and came back.
	atr atrReport
}

func (rep *report) lose(invoice, why string) {
	rep.lost[invoice] = append(rep.lost[invoice], why)
}

func (rep *report) dup(n int, format string, args ...any) {
	rep.duplicates += n
	rep.problems = append(rep.problems, fmt.Sprintf(format, args...))
}

// check compares what happened with what had to: every case closed in its
// stage, one outbox row per notice and channel, one e-mail per row, one cut
// and one reconnection per supply point cut, and every payment in the ledger.
func (r *run) check(ctx context.Context) (*report, error) {
	rep := &report{cases: len(r.cases), lost: map[string][]string{}}
	r.mu.Lock()
	defer r.mu.Unlock()

	// Whether the distributor cut each supply point decides how a case paid
	// while its cut was requested ends.
	reqs, err := r.s.db.DistributorRequests(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, c := range r.cases {
		for _, q := range reqs {
			if q.Kind == "cut" && q.Cups == c.cups && q.Status == "executed" {
				c.executed = true
			}
		}
	}

	// The end state, as Temporal and as the invoices table say.
	invoices := map[string][2]string{}
	rows, err := r.s.db.Pool().Query(ctx, `SELECT invoice, status, stage FROM invoices`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var inv, status, stage string
		if err := rows.Scan(&inv, &status, &stage); err != nil {
			return nil, err
		}
		invoices[inv] = [2]string{status, stage}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range r.cases {
		want := c.wantStage()
		switch {
		case !c.closed:
			rep.lose(c.invoice, fmt.Sprintf("%s case still open in stage %q", c.plan, c.stage))
		case c.closeStatus != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			rep.lose(c.invoice, fmt.Sprintf("%s case closed as %s", c.plan, c.closeStatus))
		case c.result != want:
			rep.lose(c.invoice, fmt.Sprintf("%s case ended %s, want %s", c.plan, c.result, want))
		}
		if row := invoices[c.invoice]; c.closed && (row[0] != "paid" || row[1] != string(want)) {
			rep.lose(c.invoice, fmt.Sprintf("invoice row status %q stage %q, want paid %s", row[0], row[1], want))
		}
	}

	// The ledger holds every payment once.
	paid := map[string]int64{}
	rows, err = r.s.db.Pool().Query(ctx, `SELECT invoice, sum(amount_cents)::bigint FROM payments GROUP BY invoice`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var inv string
		var sum int64
		if err := rows.Scan(&inv, &sum); err != nil {
			return nil, err
		}
		paid[inv] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, c := range r.cases {
		if paid[c.invoice] != c.amount {
			rep.lose(c.invoice, fmt.Sprintf("payments ledger holds %d cents, want %d", paid[c.invoice], c.amount))
		}
	}

	// The outbox: one row per notice and channel, in the expected order,
	// every e-mail accepted by the provider exactly once.
	outbox, err := r.s.db.Outbox(ctx, store.OutboxFilter{})
	if err != nil {
		return nil, err
	}
	evidence := map[int64]bool{}
	rows, err = r.s.db.Pool().Query(ctx, `SELECT outbox_id FROM evidence`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		evidence[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	accepted, _, invalid := r.s.mail.snapshot()
	for _, v := range invalid {
		rep.problems = append(rep.problems, "e-mail stub got an invalid request: "+v)
	}
	byInvoice := map[string][]store.OutboxRow{}
	ours := map[string]bool{}
	for _, o := range outbox {
		ours[o.IdempotencyKey] = true
		if r.byInv[o.Invoice] == nil {
			continue // the cuts desk's digest, if the schedule fired
		}
		byInvoice[o.Invoice] = append(byInvoice[o.Invoice], o)
	}
	for _, c := range r.cases {
		r.checkOutbox(rep, c, byInvoice[c.invoice], accepted, evidence)
	}
	for key, n := range accepted {
		if !ours[key] {
			rep.dup(n, "e-mail stub accepted %d message(s) with outbox key %q that the outbox does not hold", n, key)
		}
	}

	// How the e-mails whose sending was cut short were settled, as the audit
	// trail tells: confirmed by their event, or sent again.
	if err := r.s.db.Pool().QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE detail ? 'released_claim'),
		       count(*) FILTER (WHERE detail->>'detail' LIKE '%event of%confirms it got it')
		FROM audit WHERE action = 'delivery'`).Scan(&rep.resent, &rep.settled); err != nil {
		return nil, err
	}

	// The distributor: one cut per supply point cut, and one release of
	// each cut: its reconnection, or the cancellation of a request the
	// distributor had not carried out when the case was paid.
	cutsByCups := map[string][]store.DistributorRequest{}
	releasesByCut := map[int64][]store.DistributorRequest{}
	for _, q := range reqs {
		switch q.Kind {
		case "cut":
			cutsByCups[q.Cups] = append(cutsByCups[q.Cups], q)
		case "reconnect", "cancel":
			releasesByCut[q.CutID] = append(releasesByCut[q.CutID], q)
		}
	}
	supplies := map[string]*fcase{}
	for _, c := range r.cases {
		if prev := supplies[c.cups]; prev == nil || c.cutsSupply() {
			supplies[c.cups] = c
		}
	}
	for cp, c := range supplies {
		cuts := cutsByCups[cp]
		want := 0
		if c.cutsSupply() {
			want = 1
		}
		switch {
		case len(cuts) > want:
			rep.dup(len(cuts)-want, "CUPS %s (%s): %d cut requests, want %d: %s", cp, c.invoice, len(cuts), want, describeRequests(cuts))
		case len(cuts) < want:
			rep.lose(c.invoice, fmt.Sprintf("CUPS %s never cut", cp))
		}
		releases := 0
		for _, q := range cuts {
			rs := releasesByCut[q.CutID]
			releases += len(rs)
			if len(rs) > 1 {
				rep.dup(len(rs)-1, "CUPS %s cut #%d: %d reconnections or cancellations: %s", cp, q.CutID, len(rs), describeRequests(rs))
			}
			for _, rq := range rs {
				// Only a case paid while its cut was requested cancels it.
				if rq.Kind == "cancel" && c.plan != planPaidRequested {
					rep.problems = append(rep.problems, fmt.Sprintf("CUPS %s (%s, %s): the cut was cancelled, want it reconnected: %s",
						cp, c.invoice, c.plan, describeRequests(rs)))
				}
			}
		}
		if want == 1 && releases == 0 {
			rep.lose(c.invoice, fmt.Sprintf("CUPS %s cut and neither reconnected nor its request cancelled", cp))
		}
		delete(cutsByCups, cp)
	}
	for cp, cuts := range cutsByCups {
		rep.dup(len(cuts), "cut requests for CUPS %s that no case of the run has: %s", cp, describeRequests(cuts))
	}

	// The ledger's refusals of cut requests, for the log.
	if rep.refusals, err = r.countByInvoice(ctx, `
		SELECT detail->>'reason', count(*) FROM audit WHERE action = 'cut_refused' GROUP BY 1`); err != nil {
		return nil, err
	}
	for _, c := range r.cases {
		rep.extraApprovals += max(c.approvals-1, 0)
		rep.refusedApprovals += c.refusedApprovals
	}

	// The proofs and the power limitations: the driver records one proof per
	// case (the same file again is no new one), no supply is cut without it,
	// and a Bono Social household has its power limited once, before its cut.
	proofs, err := r.countByInvoice(ctx, `SELECT invoice, count(*) FROM notice_proofs GROUP BY invoice`)
	if err != nil {
		return nil, err
	}
	limits, err := r.countByInvoice(ctx, `SELECT invoice, count(*) FROM power_limits GROUP BY invoice`)
	if err != nil {
		return nil, err
	}
	for _, q := range reqs {
		if q.Kind == "cut" && proofs[q.Invoice] == 0 {
			rep.problems = append(rep.problems, fmt.Sprintf("%s: CUPS %s cut (request #%d) with no proof of the formal notice in the ledger",
				q.Invoice, q.Cups, q.ID))
		}
	}
	for _, c := range r.cases {
		if n := proofs[c.invoice]; n > 1 {
			rep.dup(n-1, "%s: %d proofs of the formal notice recorded", c.invoice, n)
		}
		want := 0
		if c.bono && c.cutsSupply() {
			want = 1
		}
		switch n := limits[c.invoice]; {
		case n > want:
			rep.dup(n-want, "%s (%s): %d power limitations requested, want %d", c.invoice, c.plan, n, want)
		case n < want:
			rep.lose(c.invoice, "Bono Social household without its power limited to the Suministro Mínimo Vital before the cut")
		}
	}
	// The distributor's folders against the ledger.
	if rep.atr, err = r.checkATR(ctx, rep); err != nil {
		return nil, err
	}
	sort.Strings(rep.problems)
	return rep, nil
}

// countByInvoice runs a query of (invoice, count) rows.
func (r *run) countByInvoice(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, err := r.s.db.Pool().Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for rows.Next() {
		var inv string
		var n int
		if err := rows.Scan(&inv, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[inv] = n
	}
	return out, rows.Err()
}

// checkOutbox checks one case's outbox rows and their e-mails.
func (r *run) checkOutbox(rep *report, c *fcase, rows []store.OutboxRow, accepted map[string]int, evidence map[int64]bool) {
	count := map[string]int{}
	var kinds []string
	for _, o := range rows {
		count[o.Kind+"/"+o.Channel]++
		if !slices.Contains(kinds, o.Kind) {
			kinds = append(kinds, o.Kind)
		}
		email := o.Channel == activities.ChannelEmail || o.Channel == activities.ChannelCertified
		switch {
		case !email:
			if n := accepted[o.IdempotencyKey]; n > 0 {
				rep.dup(n, "%s: %s/%s is not an e-mail but was e-mailed %d time(s)", c.invoice, o.Kind, o.Channel, n)
			}
		case o.Status == activities.StatusSending && accepted[o.IdempotencyKey] == 1:
			// The customer has it once, but the design says its event settles it.
			rep.problems = append(rep.problems, fmt.Sprintf("%s: e-mail %s/%s (outbox #%d) received once but left 'sending': %s",
				c.invoice, o.Kind, o.Channel, o.ID, o.StatusDetail))
		case o.Status == activities.StatusSending && accepted[o.IdempotencyKey] > 1:
			n := accepted[o.IdempotencyKey]
			rep.dup(n-1, "%s: e-mail %s/%s (outbox #%d, key %s) left 'sending' and accepted %d times by the provider; attempts %d",
				c.invoice, o.Kind, o.Channel, o.ID, o.IdempotencyKey, n, o.Attempts)
		case o.Status != activities.StatusSent:
			rep.lose(c.invoice, fmt.Sprintf("e-mail %s/%s (outbox #%d) is %s: %s", o.Kind, o.Channel, o.ID, o.Status, o.StatusDetail))
		case accepted[o.IdempotencyKey] == 0:
			rep.lose(c.invoice, fmt.Sprintf("e-mail %s/%s (outbox #%d) marked sent but the provider never got it", o.Kind, o.Channel, o.ID))
		case accepted[o.IdempotencyKey] > 1:
			n := accepted[o.IdempotencyKey]
			rep.dup(n-1, "%s: e-mail %s/%s (outbox #%d, key %s) accepted %d times by the provider; attempts %d",
				c.invoice, o.Kind, o.Channel, o.ID, o.IdempotencyKey, n, o.Attempts)
		}
		if o.Channel == activities.ChannelCertified && o.Status == activities.StatusSent && !evidence[o.ID] {
			rep.lose(c.invoice, fmt.Sprintf("certified %s (outbox #%d) sent without evidence", o.Kind, o.ID))
		}
	}
	// Rows beyond the first of a notice and channel are duplicates.
	for k, n := range count {
		if n > 1 {
			rep.dup(n-1, "%s: outbox holds %s %d times", c.invoice, k, n)
		}
	}
	before, closing := c.wantNotices()
	var want []string
	switch c.plan {
	case planPaidEarly:
		// Paid somewhere between the first notices and the review: the
		// notices sent by then, then the payment's.
		n := min(max(len(kinds)-1, 0), len(before))
		want = append(slices.Clone(before[:n]), closing)
		// The driver pays once aviso 2 (domestic) or the cut letter (business) is out.
		least := 2
		if c.segment == activities.SegmentBusiness {
			least = 1
		}
		if n < least {
			rep.lose(c.invoice, fmt.Sprintf("paid after the first notices, but the outbox holds only %v", kinds))
		}
	default:
		want = append(slices.Clone(before), closing)
	}
	if !slices.Equal(kinds, want) {
		rep.lose(c.invoice, fmt.Sprintf("%s case: outbox notices %v, want %v", c.plan, kinds, want))
		return
	}
	for _, kind := range want {
		for _, ch := range channels[kind] {
			if count[kind+"/"+ch] == 0 {
				rep.lose(c.invoice, fmt.Sprintf("outbox lacks %s/%s", kind, ch))
			}
		}
	}
}

func describeRequests(rs []store.DistributorRequest) string {
	parts := make([]string, 0, len(rs))
	for _, q := range rs {
		parts = append(parts, fmt.Sprintf("#%d %s cut %d by %s run %s at %s", q.ID, q.Kind, q.CutID, q.Invoice,
			q.RunID, q.CreatedAt.Format(time.RFC3339Nano)))
	}
	return strings.Join(parts, "; ")
}
