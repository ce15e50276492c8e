package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/sync/errgroup"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/workflows"
)

// noop is the workflow of figure 2's baseline: the cheapest start there is.
func noop(workflow.Context) error { return nil }

// startRound is the size of figure 2's rounds, which alternate the real
// starts and the baseline so that neither always meets a fuller server;
// smaller rounds would be mostly the ramp up and down of the 32 in flight.
const startRound = 200

// startFigure is figure 2: cases started the way the import starts them
// (cases.Start with the real input and policy, 32 at a time) against bare
// ExecuteWorkflow calls of a no-op workflow at the same concurrency. No worker
// polls either task queue meanwhile, so both measure the start alone. The
// cases stay open: they are the other open cases of figures 4 and 6.
func (b *bench) startFigure(ctx context.Context) error {
	n := b.opts.sizes.starts
	policy, err := b.cfg.Policy("default")
	if err != nil {
		return err
	}
	inputs := b.caseInputs("s", n, policy)
	rounds := max(2, n/startRound)
	per := (n + rounds - 1) / rounds
	var took [2]time.Duration // [0] cases, [1] baseline
	var serverCPU [2]float64
	for r := 0; r < rounds; r++ {
		lo, hi := r*per, min((r+1)*per, n)
		batch := inputs[lo:hi]
		kinds := []int{0, 1}
		if r%2 == 1 {
			kinds = []int{1, 0}
		}
		for _, k := range kinds {
			var d time.Duration
			var err error
			cpu0 := b.serverCPU()
			if k == 0 {
				d, err = b.startCases(ctx, b.queue("cases"), batch)
			} else {
				d, err = b.startNoops(ctx, "s", lo, hi)
			}
			if err != nil {
				return err
			}
			took[k] += d
			serverCPU[k] += b.serverCPU() - cpu0
		}
	}
	b.openCases = append(b.openCases, inputs...)
	rate := float64(n) / took[0].Seconds()
	base := float64(n) / took[1].Seconds()
	progress("figure 2: %d cases started in %s (%.0f/s), %d no-op workflows in %s (%.0f/s)",
		n, took[0].Round(time.Millisecond), rate, n, took[1].Round(time.Millisecond), base)
	b.res.add(figure{fig: "2", name: "start_per_s", value: rate, unit: "starts/s"})
	b.res.add(figure{fig: "2", name: "start_baseline_per_s", value: base, unit: "starts/s"})
	b.res.addTarget(figure{fig: "2", name: "start_ratio", value: ratio(rate, base), unit: "ratio", digits: 3}, 0.9, true)
	if b.measuresServer() {
		b.res.note("figure 2: the server spent %.2f ms of CPU per case started, %.2f ms per no-op workflow",
			serverCPU[0]*1000/float64(n), serverCPU[1]*1000/float64(n))
	}
	return nil
}

// startCases starts cases through the starter's path, startConcurrency at a
// time, and returns how long it took.
func (b *bench) startCases(ctx context.Context, queue string, inputs []workflows.Input) (time.Duration, error) {
	ids := make([]string, len(inputs))
	for i, in := range inputs {
		ids[i] = workflows.WorkflowID(in.Invoice)
	}
	b.track(ids...)
	return concurrently(ctx, len(inputs), func(ctx context.Context, i int) error {
		// reopen, as the import starts a return it did not know.
		out, err := cases.Start(ctx, b.c, queue, inputs[i], true)
		if err == nil && out != cases.Started {
			err = fmt.Errorf("invoice %s: %s, want started", inputs[i].Invoice, out)
		}
		return err
	})
}

// startNoops starts the no-op workflows lo to hi-1 of a baseline, kind
// keeping the ids of one figure's apart from another's. No worker polls their
// task queue: they stay open, started and never run.
func (b *bench) startNoops(ctx context.Context, kind string, lo, hi int) (time.Duration, error) {
	ids := make([]string, hi-lo)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-noop-%s-%s%05d", b.run, kind, lo+i)
	}
	b.track(ids...)
	queue := b.queue("noop")
	return concurrently(ctx, len(ids), func(ctx context.Context, i int) error {
		_, err := b.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: ids[i], TaskQueue: queue}, noop)
		return err
	})
}

// concurrently runs fn for 0..n-1, startConcurrency at a time, and returns
// the wall time it took.
func concurrently(ctx context.Context, n int, fn func(ctx context.Context, i int) error) (time.Duration, error) {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startConcurrency)
	for i := 0; i < n; i++ {
		g.Go(func() error { return fn(gctx, i) })
	}
	err := g.Wait()
	return time.Since(start), err
}

// caseInputs makes n cases of one kind (a letter that keeps the kinds'
// invoices and supply points apart), each on a supply point of its own.
func (b *bench) caseInputs(kind string, n int, p workflows.Policy) []workflows.Input {
	out := make([]workflows.Input, n)
	base := int64(kind[0]) * 1_000_000
	for i := range out {
		out[i] = workflows.Input{
			Invoice:     fmt.Sprintf("BN%s-%s%05d", b.run, kind, i),
			Customer:    fmt.Sprintf("Cliente %s %d", kind, i),
			Cups:        supplyPoint("0021", base+int64(i)),
			AmountCents: 5000 + int64(i%5000),
			ReturnedAt:  time.Now(),
			Policy:      p,
		}
	}
	return out
}

// contractFor is the contract of a bench case's supply point: reachable by
// phone and e-mail, never protected, so the case runs the common path.
func contractFor(in workflows.Input, segment string) activities.Contract {
	return activities.Contract{
		Customer: in.Customer, Cups: in.Cups, Segment: segment, Phone: "+34600000000",
		Email: "cliente@example.com", Province: "Madrid", TaxID: "12345678Z",
	}
}
