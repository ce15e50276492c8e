package clusterfaults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// faultMix is the run of the fault test: 200 cases, domestic and business,
// most cut and reconnected, some paid before their cut, and pairs of
// invoices on one supply point.
var faultMix = mix{
	domesticCut: 50, businessCut: 50,
	domesticEarly: 20, businessEarly: 20,
	domesticPairs: 15, businessPairs: 15,
}

// TestFaultClusterHistoryKill: while 200 cases run, one history service of
// the cluster is killed with SIGKILL (its shards move to the other one) and,
// before it is back, one of the two impagos workers is killed too; both come
// back a few seconds later. No case may be lost and nothing may be done twice.
func TestFaultClusterHistoryKill(t *testing.T) {
	requireCluster(t, "IMPAGOS_CLUSTER_FAULTS")
	outbox := requireDistributor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := dial(t, ctx)
	db := openStore(t, ctx)
	queue := engine.FromEnv().TaskQueue // the cluster's workers' queue

	all, contracts := planCases(t, "CF-"+token(3), faultMix)
	storeContracts(t, ctx, db, contracts)

	d := newDriver(c, db, queue, all)
	driveCtx, stopDriving := context.WithCancel(ctx)
	defer stopDriving()
	driven := make(chan error, 1)
	go func() { driven <- d.run(driveCtx) }()

	// The faults, once half the cases are started: the run is then in full
	// swing (starts, timers, activities and signals all at once).
	var started atomic.Int64
	faults := make(chan error, 1)
	go func() { faults <- breakCluster(ctx, t, d, &started, len(all)/2) }()
	// Whatever happens to the test, the cluster is left with every process
	// running.
	t.Cleanup(func() {
		if err := revive(); err != nil {
			t.Error(err)
		}
	})

	t0 := time.Now()
	if err := startAll(ctx, c, queue, all, 16, &started); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d cases started in %s", len(all), time.Since(t0).Round(time.Millisecond))
	select {
	case err := <-faults:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the faults did not finish")
	}

	select {
	case <-d.finished():
		p50, p95, longest := durations(all)
		t.Logf("every case closed %s after the first start; a case took %s (median), %s (95%%), %s (longest); %d signals failed and were sent again",
			time.Since(t0).Round(100*time.Millisecond), p50, p95, longest, d.failed.Load())
	case <-time.After(8 * time.Minute):
		t.Logf("%d cases still open 8 minutes after the first start", d.openCount())
	case err := <-driven:
		t.Logf("driver stopped: %v", err)
	}
	stopDriving()

	lost, duplicates := check(t, ctx, db, all, results(ctx, c, all))
	atrLost, atrDuplicates := checkATR(t, ctx, db, all, outbox)
	lost, duplicates = lost+atrLost, duplicates+atrDuplicates
	fmt.Printf("FAULT cluster-history-kill cases=%d lost=%d duplicates=%d\n", len(all), lost, duplicates)
	if lost > 0 || duplicates > 0 {
		t.Errorf("lost %d, duplicates %d (cluster logs in .data/cluster/log/)", lost, duplicates)
	}
}

// breakCluster waits until `after` cases are started, so that the run is in
// full swing (starts, timers, activities and signals all at once), kills
// history-2, three seconds later impagos-worker-1, and five seconds later
// starts both again.
func breakCluster(ctx context.Context, t *testing.T, d *driver, started *atomic.Int64, after int) error {
	for started.Load() < int64(after) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	at := time.Now()
	open, n := d.openCount(), started.Load()
	h, err := kill("history-2")
	if err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	w, err := kill("impagos-worker-1")
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	if err := revive(); err != nil {
		return err
	}
	t.Logf("history-2 (pid %d) killed with %d cases started and %d open; impagos-worker-1 (pid %d) killed 3s later; both running again %s after the first kill",
		h, n, open-(len(d.cases)-int(n)), w, time.Since(at).Round(100*time.Millisecond))
	return nil
}

// check compares what every case did with what it should have done. lost
// counts cases not in their end state and supply points missing a request;
// duplicates counts outbox rows beyond one per invoice, kind and channel,
// proofs of a formal notice beyond one per invoice (the driver records the
// same one), and distributor requests beyond one cut and one reconnection per
// supply point cut (and any for a supply point never to be cut).
func check(t *testing.T, ctx context.Context, db *store.Store, all []*invoiceCase, res map[string]workflows.Result) (lost, duplicates int) {
	t.Helper()
	var invoices, supplies []string
	cut := map[string]bool{} // supply point → must have been cut
	for _, k := range all {
		invoices = append(invoices, k.in.Invoice)
		if _, seen := cut[k.in.Cups]; !seen {
			supplies = append(supplies, k.in.Cups)
		}
		cut[k.in.Cups] = k.path != paidEarly
	}

	for _, k := range all {
		r, ok := res[k.in.Invoice]
		switch {
		case !ok:
			lost++
			t.Errorf("%s: not closed", k.in.Invoice)
		case k.path == cutThenPaid && (r.Stage != workflows.StageReconnected || r.CutAt == nil || r.ReconnectAt == nil),
			k.path == paidEarly && (r.Stage != workflows.StagePaid || r.CutAt != nil),
			k.path == pairMember && r.Stage != workflows.StagePaid && r.Stage != workflows.StageReconnected:
			lost++
			t.Errorf("%s (%s, path %d): result %+v", k.in.Invoice, k.segment, k.path, r)
		case k.path == pairMember:
			// One of the two closes the supply point: exactly one reconnected.
			if p, ok := res[k.partner.in.Invoice]; ok && k.in.Invoice < k.partner.in.Invoice &&
				(r.Stage == workflows.StageReconnected) == (p.Stage == workflows.StageReconnected) {
				lost++
				t.Errorf("pair %s/%s on %s ended %s and %s, want one paid and one reconnected",
					k.in.Invoice, k.partner.in.Invoice, k.in.Cups, r.Stage, p.Stage)
			}
		}
	}

	var extra int
	if err := db.Pool().QueryRow(ctx, `
		SELECT coalesce(sum(n - 1), 0) FROM (
			SELECT count(*) AS n FROM outbox WHERE invoice = ANY($1) GROUP BY invoice, kind, channel
		) per_notice`, invoices).Scan(&extra); err != nil {
		t.Fatal(err)
	}
	if extra > 0 {
		t.Errorf("%d outbox rows repeat a notice of the same invoice, kind and channel", extra)
	}
	duplicates += extra

	if err := db.Pool().QueryRow(ctx, `
		SELECT coalesce(sum(n - 1), 0) FROM (
			SELECT count(*) AS n FROM notice_proofs WHERE invoice = ANY($1) GROUP BY invoice
		) per_invoice`, invoices).Scan(&extra); err != nil {
		t.Fatal(err)
	}
	if extra > 0 {
		t.Errorf("%d proofs of a formal notice beyond one per invoice", extra)
	}
	duplicates += extra

	rows, err := db.Pool().Query(ctx, `SELECT cups, kind, count(*) FROM distributor_requests WHERE cups = ANY($1) GROUP BY cups, kind`, supplies)
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]map[string]int{}
	for rows.Next() {
		var cups, kind string
		var n int
		if err := rows.Scan(&cups, &kind, &n); err != nil {
			t.Fatal(err)
		}
		if requests[cups] == nil {
			requests[cups] = map[string]int{}
		}
		requests[cups][kind] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range supplies {
		got := requests[s]
		for _, kind := range []string{"cut", "reconnect"} {
			n := got[kind]
			switch {
			case !cut[s] && n > 0:
				duplicates += n
				t.Errorf("%s: %d %s requests for a supply point paid before its cut", s, n, kind)
			case cut[s] && n == 0:
				lost++
				t.Errorf("%s: no %s request", s, kind)
			case cut[s] && n > 1:
				duplicates += n - 1
				t.Errorf("%s: %d %s requests", s, n, kind)
			}
		}
	}
	return lost, duplicates
}

// checkATR compares the B1 messages the ledger committed for the run's supply
// points with the workers' outbox folder: each is marked sent and in the
// folder, byte for byte; and each request has the answer that ends it (a cut
// executed, a reconnection accepted). A message the stack's own worker took
// from the shared ledger into the stack's outbox would count as lost here:
// run the test with the stack's worker stopped.
func checkATR(t *testing.T, ctx context.Context, db *store.Store, all []*invoiceCase, outbox string) (lost, duplicates int) {
	t.Helper()
	supplies := map[string]bool{}
	var list []string
	for _, k := range all {
		if !supplies[k.in.Cups] {
			supplies[k.in.Cups] = true
			list = append(list, k.in.Cups)
		}
	}
	rows, err := db.Pool().Query(ctx, `
		SELECT file_name, body, sent_at IS NOT NULL FROM atr_messages
		WHERE direction = 'out' AND cups = ANY($1) ORDER BY id`, list)
	if err != nil {
		t.Fatal(err)
	}
	committed, found := 0, 0
	for rows.Next() {
		var name string
		var body []byte
		var sent bool
		if err := rows.Scan(&name, &body, &sent); err != nil {
			t.Fatal(err)
		}
		committed++
		file, err := os.ReadFile(filepath.Join(outbox, name))
		switch {
		case err != nil:
			lost++
			t.Errorf("B1 %s committed but not in the outbox (marked sent: %t): %v", name, sent, err)
		case !bytes.Equal(file, body):
			duplicates++
			t.Errorf("B1 %s: the outbox holds another file of that name", name)
		case !sent:
			t.Errorf("B1 %s in the outbox but not marked sent", name)
		default:
			found++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var unanswered int
	if err := db.Pool().QueryRow(ctx, `
		SELECT count(*) FROM distributor_requests WHERE cups = ANY($1)
		AND NOT ((kind = 'cut' AND status = 'executed') OR (kind <> 'cut' AND status = 'accepted'))`, list).Scan(&unanswered); err != nil {
		t.Fatal(err)
	}
	if unanswered > 0 {
		lost += unanswered
		t.Errorf("%d requests to the distributor without the answer that ends them", unanswered)
	}
	t.Logf("distributor: %d B1 messages committed for the run's supply points, %d in the outbox as committed; %d requests unanswered",
		committed, found, unanswered)
	return lost, duplicates
}
