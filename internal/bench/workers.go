package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr/standin"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/metrics"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// workerFigures runs figures 4 and 6 on the real worker binary, started as a
// child process on its own schema and this run's task queue. The cases
// figure 2 left open are its first load; they go to sleep on their first
// timer (aviso 1 sent, aviso 2 a week away), and stay open as the others of
// figure 4; then more cases join them for figure 6.
func (b *bench) workerFigures(ctx context.Context) error {
	s := b.opts.sizes
	queue := b.queue("cases")
	policy, err := b.cfg.Policy("default")
	if err != nil {
		return err
	}
	if len(b.openCases) == 0 { // figure 2 did not run: start its cases unmeasured
		others := b.caseInputs("s", s.starts, policy)
		if _, err := b.startCases(ctx, queue, others); err != nil {
			return err
		}
		b.openCases = others
	}
	others := b.openCases
	more := b.caseInputs("o", max(0, s.openCases-len(others)), policy)
	cut := b.caseInputs("c", s.cutCases, fastPolicy())

	db, dsn, err := b.isolated(ctx, "bench_worker")
	if err != nil {
		return err
	}
	var contracts []activities.Contract
	for _, in := range append(append([]workflows.Input(nil), others...), more...) {
		contracts = append(contracts, contractFor(in, activities.SegmentDomestic))
	}
	for _, in := range cut {
		contracts = append(contracts, contractFor(in, activities.SegmentBusiness))
	}
	if _, err := concurrently(ctx, len(contracts), func(ctx context.Context, i int) error {
		return db.UpsertContract(ctx, contracts[i])
	}); err != nil {
		return err
	}

	// The worker's connections carry a name, to find their backends' CPU time.
	if dsn, err = withParam(dsn, "application_name", childApp("worker")); err != nil {
		return err
	}
	w, err := b.startWorker(ctx, dsn, queue, "worker")
	if err != nil {
		return err
	}
	// Figures 4 and 6 are the worker's last: once they are measured it stops,
	// and leaves the machine to figure 7's worker. Its cases sleep a week.
	defer w.stop()
	if w.meter, err = startMeter(ctx, dsn, "worker"); err != nil {
		return err
	}
	defer w.meter.close()
	t := time.Now()
	if err := b.waitAsleep(ctx, queue, len(others), countEvery, 8*time.Minute); err != nil {
		return err
	}
	d := time.Since(t)
	progress("worker: the %d open cases sent aviso 1 and fell asleep in %s (%.0f cases/s)", len(others), d.Round(time.Millisecond), float64(len(others))/d.Seconds())
	b.res.add(figure{fig: "6", name: "worker_first_notice_per_s", value: float64(len(others)) / d.Seconds(), unit: "cases/s"})

	if b.opts.want(4) {
		if err := b.paidToReconnect(ctx, db, queue, cut, len(others)); err != nil {
			return err
		}
	}
	if b.opts.want(6) {
		if err := b.workerMemory(ctx, w, queue, more, len(others)); err != nil {
			return err
		}
	}
	return nil
}

// paidToReconnect is figure 4: cut cases are paid one at a time; the first
// latency runs from sending paid until the reconnection request (B1 03) is
// stored, the second until the distributor's acceptance of it (04) is
// recorded: the worker has written the 03 to the outbox, the stand-in read
// it and answered, and the worker read the answer. The cut cases run on the
// fast policy (a day lasts a tenth of a second) to reach their cut in
// seconds; the path from paid to reconnection has no timer, so the policy
// does not change what is measured.
//
// Two thirds of the cases are paid one every paymentEvery: the latency of a
// payment the server meets with its queues at rest, the target. The last
// third are paid back to back, each as soon as the one before closed: the
// same path on a server reading its queues as fast as it lets itself.
func (b *bench) paidToReconnect(ctx context.Context, db *store.Store, queue string, cut []workflows.Input, others int) error {
	if _, err := b.startCases(ctx, queue, cut); err != nil {
		return err
	}
	invoices := make([]string, len(cut))
	for i, in := range cut {
		invoices[i] = in.Invoice
	}
	k := newClerk(b.c, db)
	err := poll(ctx, 3*time.Minute, 200*time.Millisecond, "cut cases", func() (bool, error) {
		rows, err := db.Pool().Query(ctx, `SELECT invoice, stage FROM invoices WHERE invoice = ANY($1)`, invoices)
		if err != nil {
			return false, err
		}
		stages, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Invoice, Stage string }])
		if err != nil {
			return false, err
		}
		nCut := 0
		for _, r := range stages {
			if workflows.Stage(r.Stage) == workflows.StageCut {
				nCut++
				continue
			}
			if err := k.act(ctx, r.Invoice, workflows.Stage(r.Stage)); err != nil {
				return false, err
			}
		}
		return nCut == len(cut), nil
	})
	if err != nil {
		return err
	}
	if n := k.extraApprovals(); n > 0 {
		b.res.note("figure 4: %d cuts approved again after the ledger refused the request (the day ended on the fast clock)", n)
	}
	// Cut in the ledger is not yet idle: wait until every case shows the cut
	// stage to the UI, which it publishes as it starts waiting for payment.
	q := fmt.Sprintf(`TaskQueue = %q AND ExecutionStatus = "Running" AND Stage = "cut"`, queue)
	if err := b.waitCount(ctx, q, len(cut), countEvery, time.Minute); err != nil {
		return err
	}
	paced, rushed := cut[:len(cut)*2/3], cut[len(cut)*2/3:]
	progress("figure 4: %d cases cut and waiting for payment, %d other cases open; paying %d of them one every %s, then %d back to back",
		len(cut), others, len(paced), paymentEvery, len(rushed))

	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	// The cut cases' last tasks have read the server's queues at their
	// fastest: a pause lets the first payment meet them at rest.
	time.Sleep(paymentEvery + time.Second)
	var calm, rush payments
	for _, in := range paced {
		next := time.Now().Add(paymentEvery)
		if err := calm.pay(ctx, b, conn, in); err != nil {
			return err
		}
		time.Sleep(time.Until(next))
	}
	time.Sleep(paymentEvery + time.Second)
	for _, in := range rushed {
		if err := rush.pay(ctx, b, conn, in); err != nil {
			return err
		}
	}

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	sorted := sortedDurations(calm.stored)
	p50, p99 := percentile(sorted, 50), percentile(sorted, 99)
	progress("figure 4: paid→reconnect p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d payments",
		ms(p50), ms(p99), ms(sorted[len(sorted)-1]), len(sorted))
	b.res.add(figure{fig: "4", name: "paid_to_reconnect_ms_p50", value: ms(p50), unit: "ms"})
	// The payment's one workflow task: its dispatch, then the ledger's two
	// transactions as local activities (docs/benchmarks.md, 4).
	b.res.addTarget(figure{fig: "4", name: "paid_to_reconnect_ms_p99", value: ms(p99), unit: "ms"}, 50, false)
	b.res.note("figure 4: %d payments, one every %s, with %d other cases open; max %.0f ms", len(sorted), paymentEvery, others, ms(sorted[len(sorted)-1]))
	sorted = sortedDurations(calm.accepted)
	p50, p99 = percentile(sorted, 50), percentile(sorted, 99)
	progress("figure 4: paid→reconnection accepted p50 %.0f ms, p99 %.0f ms, max %.0f ms", ms(p50), ms(p99), ms(sorted[len(sorted)-1]))
	b.res.add(figure{fig: "4", name: "paid_to_reconnect_accepted_ms_p50", value: ms(p50), unit: "ms"})
	b.res.add(figure{fig: "4", name: "paid_to_reconnect_accepted_ms_p99", value: ms(p99), unit: "ms"})
	b.res.note("figure 4: the acceptance (04) adds two polls of %s at most: the stand-in reads the outbox, the worker the inbox; max %.0f ms",
		benchATRPoll, ms(sorted[len(sorted)-1]))
	sorted = sortedDurations(rush.stored)
	p50, p99 = percentile(sorted, 50), percentile(sorted, 99)
	progress("figure 4: paid back to back, paid→reconnect p50 %.0f ms, p99 %.0f ms over %d payments", ms(p50), ms(p99), len(sorted))
	b.res.add(figure{fig: "4", name: "paid_back_to_back_to_reconnect_ms_p50", value: ms(p50), unit: "ms"})
	b.res.add(figure{fig: "4", name: "paid_back_to_back_to_reconnect_ms_p99", value: ms(p99), unit: "ms"})
	for _, set := range []struct {
		what  string
		cases []workflows.Input
	}{{"one every " + paymentEvery.String(), paced}, {"back to back", rushed}} {
		dispatch, run, err := b.paymentTasks(ctx, set.cases)
		if err != nil {
			return err
		}
		dispatch, run = sortedDurations(dispatch), sortedDurations(run)
		b.res.note("figure 4: paid %s, the payment's workflow task, from each case's history: from the signal to the task's start p50 %.1f / p99 %.1f ms (the server's dispatch), then to its completion p50 %.1f / p99 %.1f ms (the worker: the ledger's local activities)",
			set.what, ms(percentile(dispatch, 50)), ms(percentile(dispatch, 99)), ms(percentile(run, 50)), ms(percentile(run, 99)))
	}
	return nil
}

// paymentEvery paces figure 4's payments. A paid case has the server read
// its transfer queue three or four times (the payment's workflow task, the
// distributor's answer, the close); the dev server has one history shard,
// which reads that queue at most 20 times a second
// (history.transferProcessorMaxPollRPS), so payments closer than about
// 200 ms apart wait for those reads (docs/benchmarks.md, 4).
const paymentEvery = 250 * time.Millisecond

// payments are figure 4's latencies, paid→reconnection stored and accepted.
type payments struct{ stored, accepted []time.Duration }

// pay pays a cut case, waits for its reconnection to be requested and
// accepted, then for the case to close: its last task (the reconnection
// notice) ends before the next payment.
func (p *payments) pay(ctx context.Context, b *bench, conn *pgxpool.Conn, in workflows.Input) error {
	t := time.Now()
	// Dated, as the payments import tells a case of its bank's transfer.
	if err := b.c.SignalWorkflow(ctx, workflows.WorkflowID(in.Invoice), "", workflows.SignalPaid,
		workflows.PaidSignal{AmountCents: in.AmountCents, PaidAt: t, Reference: "TR-" + in.Invoice}); err != nil {
		return err
	}
	for seen := false; ; {
		var status string
		err := conn.QueryRow(ctx, `SELECT status FROM distributor_requests WHERE kind = 'reconnect' AND invoice = $1`,
			in.Invoice).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case !seen:
			seen = true
			p.stored = append(p.stored, time.Since(t))
		}
		if status == activities.RequestAccepted {
			p.accepted = append(p.accepted, time.Since(t))
			break
		}
		if status == activities.RequestRejected {
			return fmt.Errorf("invoice %s: the stand-in rejected the reconnection", in.Invoice)
		}
		if time.Since(t) > time.Minute {
			return fmt.Errorf("invoice %s: reconnection request %q a minute after paid, want it accepted", in.Invoice, status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := b.c.GetWorkflow(wctx, workflows.WorkflowID(in.Invoice), "").Get(wctx, nil); err != nil {
		return fmt.Errorf("invoice %s: the case did not close after its reconnection: %w", in.Invoice, err)
	}
	return nil
}

// paymentTasks reads from each case's history the workflow task its payment
// woke: how long from the signal to the task's start, and from there to its
// completion.
func (b *bench) paymentTasks(ctx context.Context, cases []workflows.Input) (dispatch, run []time.Duration, err error) {
	for _, in := range cases {
		it := b.c.GetWorkflowHistory(ctx, workflows.WorkflowID(in.Invoice), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var signalled, started time.Time
	events:
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return nil, nil, fmt.Errorf("history of %s: %w", in.Invoice, err)
			}
			at := e.GetEventTime().AsTime()
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				if signalled.IsZero() && e.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == workflows.SignalPaid {
					signalled = at
				}
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
				if !signalled.IsZero() && started.IsZero() {
					started = at
				}
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				if !started.IsZero() {
					dispatch = append(dispatch, started.Sub(signalled))
					run = append(run, at.Sub(started))
					break events
				}
			}
		}
	}
	if len(dispatch) == 0 {
		return nil, nil, errors.New("no payment's workflow task in the histories of figure 4")
	}
	return dispatch, run, nil
}

// workerMemory is figure 6: the worker's resident memory once the open cases
// all sleep on a timer. On the way, the cases it starts measure what a case
// costs from its start to its first sleep, in rounds beside their baselines
// (firstNoticeRounds).
func (b *bench) workerMemory(ctx context.Context, w *workerProc, queue string, more []workflows.Input, before int) error {
	t := time.Now()
	cost, rounds, err := b.firstNoticeRounds(ctx, w, queue, more, before)
	if err != nil {
		return err
	}
	b.addFirstNoticeRatio(rounds)
	total := before + len(more)
	if n := float64(len(more)); n > 0 {
		b.res.add(figure{fig: "6", name: "worker_cpu_ms_per_case", value: cost.worker * 1000 / n, unit: "ms", digits: 1})
		b.res.add(figure{fig: "6", name: "database_cpu_ms_per_case", value: cost.db * 1000 / n, unit: "ms", digits: 1})
		if b.measuresServer() {
			b.res.add(figure{fig: "6", name: "server_cpu_ms_per_case", value: cost.server * 1000 / n, unit: "ms", digits: 1})
		}
	}
	b.addServerCaseRatio(rounds)
	progress("figure 6: %d more cases started in %d rounds beside their baselines, in %s; %d cases asleep",
		len(more), len(rounds), time.Since(t).Round(time.Millisecond), total)
	// Let the last tasks and the garbage collector settle before reading.
	time.Sleep(3 * time.Second)
	rss, err := statusKB(w.pid(), "VmRSS")
	if err != nil {
		return err
	}
	hwm, err := statusKB(w.pid(), "VmHWM")
	if err != nil {
		return err
	}
	b.res.add(figure{fig: "6", name: "worker_rss_mb", value: mb(rss), unit: "MB"})
	b.res.note("figure 6: worker RSS %.0f MB with %d cases asleep; its peak while they were started was %.0f MB", mb(rss), total, mb(hwm))
	return nil
}

// waitAsleep waits until n cases of the queue have sent aviso 1 and sleep on
// the timer of aviso 2: the UI shows them in notice_1 with a next action. It
// counts them every interval, and gives up after timeout.
func (b *bench) waitAsleep(ctx context.Context, queue string, n int, every, timeout time.Duration) error {
	q := fmt.Sprintf(`TaskQueue = %q AND ExecutionStatus = "Running" AND Stage = "notice_1" AND NextActionAt IS NOT NULL`, queue)
	return b.waitCount(ctx, q, n, every, timeout)
}

// countEvery is how often the bench counts workflows by a visibility query,
// which the server's visibility store answers while it serves the cases
// counted: once a second, unless a figure times the wait (countEveryTimed).
const (
	countEvery      = time.Second
	countEveryTimed = 250 * time.Millisecond
)

// waitCount waits until a visibility query counts n workflows, asking every
// interval.
func (b *bench) waitCount(ctx context.Context, query string, n int, every, timeout time.Duration) error {
	last, lastChange := int64(-1), time.Now()
	return poll(ctx, timeout, every, query, func() (bool, error) {
		resp, err := b.c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: Namespace, Query: query})
		if err != nil {
			return false, err
		}
		got := resp.GetCount()
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > 2*time.Minute {
			return false, fmt.Errorf("%d of %d workflows after no progress for 2 minutes (%s)", got, n, query)
		}
		return got >= int64(n), nil
	})
}

// workerProc is the real worker binary running as a child of the bench.
type workerProc struct {
	cmd   *exec.Cmd
	log   string
	done  chan error
	meter *cpuMeter // CPU time of its database backends

	stopOnce sync.Once
	stopErr  error
}

func (w *workerProc) pid() string { return strconv.Itoa(w.cmd.Process.Pid) }

// startWorker builds ./worker (once a run) and runs it on the bench
// namespace, the given schema and task queue, with a distributor of its own;
// name tells its log and its distributor's folders from another worker's. It
// sends no e-mail and serves no codec server, whatever the environment says.
func (b *bench) startWorker(ctx context.Context, dsn, queue, name string) (*workerProc, error) {
	bin := filepath.Join(b.tmp, "impagos-worker")
	if _, err := os.Stat(bin); err != nil {
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./worker")
		build.Dir = b.root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build the worker: %v\n%s", err, out)
		}
	}
	logPath := filepath.Join(b.tmp, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(workerEnv(os.Environ()),
		"DATABASE_URL="+dsn, "TEMPORAL_NAMESPACE="+Namespace, "IMPAGOS_TASK_QUEUE="+queue),
		b.workerATREnv(name)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	w := &workerProc{cmd: cmd, log: logPath, done: make(chan error, 1)}
	go func() { w.done <- cmd.Wait(); logf.Close() }()
	progress("worker started (pid %d) on task queue %s", cmd.Process.Pid, queue)
	b.onClose(func() error {
		if err := b.deleteSchedule(queue); err != nil {
			progress("cleanup: %v", err)
		}
		return w.stop()
	})
	select {
	case err := <-w.done:
		return nil, fmt.Errorf("the worker exited at start (%v): %s", err, tail(logPath))
	case <-time.After(2 * time.Second):
	}
	return w, nil
}

// stop asks the worker to stop, as make down does, and kills it after 20 s.
// The second call returns what the first did.
func (w *workerProc) stop() error {
	w.stopOnce.Do(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-w.done:
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				w.stopErr = err
			}
		case <-time.After(20 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.done
			w.stopErr = errors.New("the worker did not stop in 20 s and was killed")
		}
	})
	return w.stopErr
}

// deleteSchedule deletes the digest schedule the worker creates for its
// task queue.
func (b *bench) deleteSchedule(queue string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := engine.DigestScheduleID(queue)
	if err := b.c.ScheduleClient().GetHandle(ctx, id).Delete(ctx); err != nil {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}

// workerEnv is the environment of the bench without what would make the
// worker send real e-mail, listen on the stack's codec or metrics port, or
// share the stack's distributor folders from a ledger of its own (it would
// take the stack's answers for files no request of its own explains, and the
// stack's stand-in would answer its messages): workerATREnv gives it its own.
func workerEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SENDGRID_") || strings.HasPrefix(k, "IMPAGOS_CODEC_") || strings.HasPrefix(k, "IMPAGOS_ATR_") ||
			k == metrics.EnvAddr {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// benchATRPoll is how often the bench worker reads its inbox and sends what
// its ledger holds unsent, and how often its stand-in reads the outbox.
const benchATRPoll = 20 * time.Millisecond

// workerATREnv gives a bench worker a distributor of its own: folders under
// the run's directory and the stand-in beside it, answering at once.
func (b *bench) workerATREnv(name string) []string {
	dir := filepath.Join(b.tmp, "atr-"+name)
	return []string{
		distributor.EnvOutbox + "=" + filepath.Join(dir, "outbox"),
		distributor.EnvInbox + "=" + filepath.Join(dir, "inbox"),
		distributor.EnvREECode + "=" + distributor.LocalREECode,
		distributor.EnvPoll + "=" + benchATRPoll.String(),
		standin.EnvEnabled + "=1",
		standin.EnvAcceptAfter + "=0s",
		standin.EnvActivateAfter + "=0s",
		standin.EnvPoll + "=" + benchATRPoll.String(),
	}
}

// tail returns the last lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
