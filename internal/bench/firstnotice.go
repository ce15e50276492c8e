package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/workflows"
)

// firstNoticeRoundCount is how many rounds figure 6 splits its cases into. Each
// round also starts bare no-op workflows and runs bare one-activity workflows
// on the same server, and each ratio of the figure is the median of the
// rounds' own: a round that met a busier machine moves neither.
const firstNoticeRoundCount = 3

// minNoopBatch is the fewest no-op starts a round of figure 6 measures: a
// few milliseconds of the server's CPU each, fewer would be read in too few
// of the kernel's 10 ms ticks, and the server's own background work would
// weigh more.
const minNoopBatch = 2 * startRound

// oneActivity is the workflow of figure 6's bare baseline: one activity that
// does nothing, the least a workflow that reaches a worker can do.
func oneActivity(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctx, noopActivity).Get(ctx, nil)
}

func noopActivity(context.Context) error { return nil }

// caseCost is the CPU, in seconds, that cases took from their start to their
// first sleep: in the Temporal server, the worker and the database.
type caseCost struct{ server, worker, db float64 }

// firstNoticeRound is what one round of figure 6 measured.
type firstNoticeRound struct {
	cases      int
	caseTook   time.Duration // from the first start until every case of the round sleeps
	caseServer float64       // the server's CPU seconds meanwhile
	noops      int
	noopServer float64 // the server's CPU seconds to start the no-op workflows
	bare       int
	bareTook   time.Duration // from the first start until every one-activity workflow completed
}

// serverRatio is the server's CPU per case over its CPU per no-op start.
func (r firstNoticeRound) serverRatio() float64 {
	if r.cases == 0 || r.noops == 0 {
		return 0
	}
	return ratio(r.caseServer/float64(r.cases), r.noopServer/float64(r.noops))
}

func (r firstNoticeRound) caseRate() float64 { return float64(r.cases) / r.caseTook.Seconds() }
func (r firstNoticeRound) bareRate() float64 { return float64(r.bare) / r.bareTook.Seconds() }

// firstNoticeRounds measures figure 6's cases in rounds and returns what they
// cost and what each round measured. In each round, on the same server and one right after the other:
//   - as many bare no-op workflows started as the round has cases (at least
//     minNoopBatch), with no worker polling their task queue (figure 2's
//     baseline): the server's CPU per start;
//   - the round's cases started the way the import starts them, until each
//     has sent aviso 1 and sleeps (the worker runs all along);
//   - as many bare workflows of one no-op activity, started at the same
//     concurrency on a task queue of their own and run by a bare SDK worker
//     in the bench, until each completed.
//
// The order alternates from one round to the next (no-op starts, cases,
// one-activity workflows; then the other way round), so that neither side
// always meets a fuller server.
func (b *bench) firstNoticeRounds(ctx context.Context, w *workerProc, queue string, more []workflows.Input, before int) (caseCost, []firstNoticeRound, error) {
	var cost caseCost
	bareQueue := b.queue("bare")
	bw := worker.New(b.c, bareQueue, worker.Options{})
	bw.RegisterWorkflow(oneActivity)
	bw.RegisterActivity(noopActivity)
	if err := bw.Start(); err != nil {
		return cost, nil, fmt.Errorf("start the bare worker: %w", err)
	}
	defer bw.Stop()
	bareCompleted := fmt.Sprintf(`TaskQueue = %q AND ExecutionStatus = "Completed"`, bareQueue)

	var rounds []firstNoticeRound
	asleep, completed, noops := before, 0, 0
	per := (len(more) + firstNoticeRoundCount - 1) / firstNoticeRoundCount
	for r := 0; r < firstNoticeRoundCount && r*per < len(more); r++ {
		lo, hi := r*per, min((r+1)*per, len(more))
		batch := more[lo:hi]
		steps := []string{"noop", "cases", "bare"}
		if r%2 == 1 {
			steps = []string{"bare", "cases", "noop"}
		}
		var fr firstNoticeRound
		for _, step := range steps {
			switch step {
			case "noop":
				if !b.measuresServer() { // no server CPU to read
					continue
				}
				k := max(hi-lo, minNoopBatch)
				cpu0 := b.serverCPU()
				if _, err := b.startNoops(ctx, "f", noops, noops+k); err != nil {
					return cost, nil, err
				}
				fr.noops, fr.noopServer = k, b.serverCPU()-cpu0
				noops += k
			case "cases":
				server0 := b.serverCPU()
				worker0, err := cpuSeconds(w.cmd.Process.Pid)
				if err != nil {
					return cost, nil, err
				}
				db0 := w.meter.backends(ctx)
				t := time.Now()
				if _, err := b.startCases(ctx, queue, batch); err != nil {
					return cost, nil, err
				}
				asleep += len(batch)
				if err := b.waitAsleep(ctx, queue, asleep, countEveryTimed, 8*time.Minute); err != nil {
					return cost, nil, err
				}
				fr.cases, fr.caseTook = len(batch), time.Since(t)
				worker1, err := cpuSeconds(w.cmd.Process.Pid)
				if err != nil {
					return cost, nil, err
				}
				fr.caseServer = b.serverCPU() - server0
				cost.server += fr.caseServer
				cost.worker += worker1 - worker0
				for pid, t := range w.meter.backends(ctx) {
					cost.db += t - db0[pid]
				}
			case "bare":
				t := time.Now()
				if err := b.startOneActivity(ctx, bareQueue, lo, hi); err != nil {
					return cost, nil, err
				}
				completed += hi - lo
				if err := b.waitCount(ctx, bareCompleted, completed, countEveryTimed, 8*time.Minute); err != nil {
					return cost, nil, err
				}
				fr.bare, fr.bareTook = hi-lo, time.Since(t)
			}
		}
		progress("figure 6: round %d: %d cases to their first sleep in %s (%.1f/s), %d one-activity workflows in %s (%.1f/s); server CPU %.1f ms per case, %.2f ms per no-op start",
			r+1, fr.cases, fr.caseTook.Round(time.Millisecond), fr.caseRate(), fr.bare, fr.bareTook.Round(time.Millisecond), fr.bareRate(),
			fr.caseServer*1000/float64(fr.cases), fr.noopServer*1000/float64(max(fr.noops, 1)))
		rounds = append(rounds, fr)
	}
	return cost, rounds, nil
}

// addFirstNoticeRatio adds worker_first_notice_ratio: cases a second to
// their first sleep over one-activity workflows a second to completion, the
// median of the rounds'.
func (b *bench) addFirstNoticeRatio(rounds []firstNoticeRound) {
	if len(rounds) == 0 {
		return
	}
	var each []float64
	var rates, ratios []string
	for _, r := range rounds {
		each = append(each, ratio(r.caseRate(), r.bareRate()))
		rates = append(rates, fmt.Sprintf("%.1f/%.1f", r.caseRate(), r.bareRate()))
		ratios = append(ratios, fmt.Sprintf("%.3f", each[len(each)-1]))
	}
	b.res.add(figure{fig: "6", name: "worker_first_notice_ratio", value: median(each), unit: "ratio", digits: 3})
	b.res.note("figure 6: in %d rounds of %d cases, cases/s to the first sleep against one-activity workflows/s to completion: %s (ratios %s; the median counts)",
		len(rounds), rounds[0].cases, strings.Join(rates, ", "), strings.Join(ratios, ", "))
}

// addServerCaseRatio adds server_cpu_case_ratio: the server's CPU per case to
// its first sleep over its CPU per no-op start, the median of the rounds'.
func (b *bench) addServerCaseRatio(rounds []firstNoticeRound) {
	if len(rounds) == 0 || !b.measuresServer() {
		return
	}
	var each []float64
	var perCase, ratios []string
	for _, r := range rounds {
		each = append(each, r.serverRatio())
		perCase = append(perCase, fmt.Sprintf("%.1f/%.2f", r.caseServer*1000/float64(r.cases), r.noopServer*1000/float64(r.noops)))
		ratios = append(ratios, fmt.Sprintf("%.1f", each[len(each)-1]))
	}
	b.res.addTarget(figure{fig: "6", name: "server_cpu_case_ratio", value: median(each), unit: "ratio", digits: 1}, 5, false)
	b.res.note("figure 6: in %d rounds, the server's CPU ms per case to its first sleep against per no-op start: %s (ratios %s; the median counts)",
		len(rounds), strings.Join(perCase, ", "), strings.Join(ratios, ", "))
}

// startOneActivity starts the one-activity workflows lo to hi-1 of figure 6's
// baseline, startConcurrency at a time, as the cases are started.
func (b *bench) startOneActivity(ctx context.Context, queue string, lo, hi int) error {
	ids := make([]string, hi-lo)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-bare-%s-%05d", b.run, lo+i)
	}
	b.track(ids...)
	_, err := concurrently(ctx, len(ids), func(ctx context.Context, i int) error {
		_, err := b.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: queue}, oneActivity)
		return err
	})
	return err
}

// median is the middle value, or the mean of the two middle ones.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
