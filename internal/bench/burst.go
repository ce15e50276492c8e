package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// burstFigure is figure 7, a bad month: a TRADE export of thousands of
// returned invoices imported as `starter import` imports it (imports.Returns:
// read, validate and store the returns, then start a case for each, 32 at a
// time), in a child process, onto a worker of its own that runs every case to
// its first sleep. It measures the wall time from the import's start until
// the last case sleeps, the CPU each case cost the server, the worker and the
// database, and the peak memory of each of them and of the importing process.
func (b *bench) burstFigure(ctx context.Context) error {
	n := b.opts.sizes.burstRows
	path := filepath.Join(b.tmp, "trade_mes_malo.xlsx")
	// The run's token in the invoice numbers keeps the cases' workflow ids
	// apart from another run's on the stack's server.
	if err := writeExport(path, n, "FB"+b.run+"-"); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	db, dsn, err := b.isolated(ctx, "bench_burst")
	if err != nil {
		return err
	}
	// Every supply point has a domestic contract, as figure 6's cases have:
	// each case sends aviso 1 and sleeps until aviso 2.
	// The import's child starts the cases: their ids are tracked here, so that
	// on a server the bench did not start they are terminated at the end.
	var contracts []activities.Contract
	if _, err := sheets.ReadReturns(path, sheets.Options{}, func(r sheets.Return) error {
		contracts = append(contracts, contractFor(workflows.Input{Customer: r.Customer, Cups: r.Cups}, activities.SegmentDomestic))
		b.track(workflows.WorkflowID(r.Invoice))
		return nil
	}); err != nil {
		return err
	}
	if _, err := concurrently(ctx, len(contracts), func(ctx context.Context, i int) error {
		return db.UpsertContract(ctx, contracts[i])
	}); err != nil {
		return err
	}

	queue := b.queue("burst")
	workerDSN, err := withParam(dsn, "application_name", childApp("burst-worker"))
	if err != nil {
		return err
	}
	w, err := b.startWorker(ctx, workerDSN, queue, "burst-worker")
	if err != nil {
		return err
	}
	defer w.stop()
	if w.meter, err = startMeter(ctx, workerDSN, "burst-worker"); err != nil {
		return err
	}
	defer w.meter.close()
	mem, err := sampleBackendMemory(ctx, dsn, childApp("burst-worker"), childApp("burst"))
	if err != nil {
		return err
	}
	defer mem.stop()
	// The server's peak so far was the other figures'; from here it is the burst's.
	serverPeakReset := b.measuresServer()
	for _, p := range b.procs {
		if resetPeakRSS(p.pid) != nil {
			serverPeakReset = false
		}
	}

	progress("figure 7: importing %d returned invoices onto worker pid %d, task queue %s", n, w.cmd.Process.Pid, queue)
	server0 := b.serverCPU()
	worker0, err := cpuSeconds(w.cmd.Process.Pid)
	if err != nil {
		return err
	}
	db0 := w.meter.backends(ctx)
	// The whole database too: on a cluster its Temporal persistence as well,
	// whose pools open and close backends as they go.
	pg0, pgErr := postgresCPU(ctx, w.meter.conn)
	t := time.Now()
	a := childArgs{what: "burst", file: path, dsn: dsn, queue: queue}
	if b.opts.profileDir != "" {
		a.profile = profilePath(b.opts.profileDir, "burst")
	}
	imp, _, err := runChild(ctx, a)
	if err != nil {
		return err
	}
	if imp.Rows != n || imp.Stored != n || imp.Started != n {
		return fmt.Errorf("the import read %d rows, stored %d and started %d cases, want %d: %s", imp.Rows, imp.Stored, imp.Started, n, imp.Detail)
	}
	imported := time.Since(t)
	progress("figure 7: %d returns imported and their cases started in %s; waiting for them to sleep", n, imported.Round(time.Millisecond))
	// The wait can be long (minutes at full scale): waitCount gives up after
	// two minutes without progress, the run after maxRuntime.
	if err := b.waitAsleep(ctx, queue, n, countEvery, maxRuntime); err != nil {
		return err
	}
	wall := time.Since(t)
	worker1, err := cpuSeconds(w.cmd.Process.Pid)
	if err != nil {
		return err
	}
	server := b.serverCPU() - server0
	var pgCPU float64
	if pgErr == nil {
		var pg1 float64
		pg1, pgErr = postgresCPU(ctx, w.meter.conn)
		pgCPU = pg1 - pg0
	}
	dbCPU := imp.DBCPUSeconds
	for pid, t := range w.meter.backends(ctx) {
		dbCPU += t - db0[pid]
	}
	workerHWM, err := statusKB(w.pid(), "VmHWM")
	if err != nil {
		return err
	}
	dbPeak := mem.stop()
	progress("figure 7: %d cases asleep %s after the import began (%.0f cases/s)", n, wall.Round(time.Second), float64(n)/wall.Seconds())

	perCase := func(seconds float64) float64 { return seconds * 1000 / float64(n) }
	b.res.add(figure{fig: "7", name: "burst_wall_s", value: wall.Seconds(), unit: "s"})
	if b.measuresServer() {
		b.res.add(figure{fig: "7", name: "burst_server_cpu_ms_per_case", value: perCase(server), unit: "ms", digits: 1})
	}
	if pgErr == nil {
		b.res.add(figure{fig: "7", name: "burst_postgres_cpu_ms_per_case", value: perCase(pgCPU), unit: "ms", digits: 1})
	} else {
		b.res.note("figure 7: the whole database's CPU not measured: %v", pgErr)
	}
	b.res.add(figure{fig: "7", name: "burst_worker_cpu_ms_per_case", value: perCase(worker1 - worker0), unit: "ms", digits: 1})
	b.res.add(figure{fig: "7", name: "burst_database_cpu_ms_per_case", value: perCase(dbCPU), unit: "ms", digits: 1})
	if b.measuresServer() {
		// Each process's own peak; their sum bounds what they held at once.
		var sum int64
		var each []string
		for _, p := range b.procs {
			hwm, err := statusKB(strconv.Itoa(p.pid), "VmHWM")
			if err != nil {
				return err
			}
			sum += hwm
			each = append(each, fmt.Sprintf("%s %.0f", p.name, mb(hwm)))
		}
		b.res.add(figure{fig: "7", name: "burst_server_peak_rss_mb", value: mb(sum), unit: "MB"})
		if len(b.procs) > 1 {
			b.res.note("figure 7: the server's peak RSS is the sum of its processes' peaks (MB): %s", strings.Join(each, ", "))
		}
		if !serverPeakReset {
			b.res.note("figure 7: the server's peak RSS could not be reset before the burst: it is the peak of the whole run")
		}
	}
	b.res.add(figure{fig: "7", name: "burst_worker_peak_rss_mb", value: mb(workerHWM), unit: "MB"})
	b.res.add(figure{fig: "7", name: "burst_import_peak_rss_mb", value: mb(imp.PeakRSSKB), unit: "MB"})
	b.res.add(figure{fig: "7", name: "burst_database_peak_rss_mb", value: mb(dbPeak), unit: "MB"})
	b.res.note("figure 7: %d returns read, stored and their cases started in %.1f s (%.2f CPU-s in the import, %.2f in its database backends), every case asleep after %.0f s",
		n, imported.Seconds(), imp.CPUSeconds, imp.DBCPUSeconds, wall.Seconds())
	return nil
}

// burstChild imports a TRADE export as `starter import` does
// (imports.Returns with the default policy): the returns read, validated and
// stored, then one case started per new return on the task queue.
func burstChild(ctx context.Context, file, dsn, queue string, meter *cpuMeter) (childResult, error) {
	cfg := engine.FromEnv()
	policy, err := cfg.Policy("default")
	if err != nil {
		return childResult{}, err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	c, err := engine.Dial(ctx)
	if err != nil {
		return childResult{}, err
	}
	defer c.Close()
	start := time.Now()
	res, err := imports.Returns(ctx, imports.Target{DB: db, Temporal: c, TaskQueue: queue, Policy: policy}, file, sheets.Options{}, false)
	if err != nil {
		return childResult{}, err
	}
	out := childResult{Rows: res.RowsRead, Stored: res.New, Started: res.Started, Seconds: time.Since(start).Seconds()}
	meter.read(ctx, &out)
	switch {
	case len(res.Rejected) > 0:
		out.Detail = fmt.Sprintf("%d rows rejected, the first: row %d: %s", len(res.Rejected), res.Rejected[0].Row, res.Rejected[0].Reason)
	case len(res.Failed) > 0:
		out.Detail = fmt.Sprintf("%d cases not started, the first: %s: %s", len(res.Failed), res.Failed[0].Invoice, res.Failed[0].Error)
	}
	return out, nil
}

// resetPeakRSS sets a process's VmHWM back to its current RSS, so that the
// next reading is the peak from now on.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// backendMemory follows the private memory of the database backends serving
// some applications: every second, the RssAnon of each (its own memory, not
// the shared buffers every backend maps), keeping each backend's highest.
type backendMemory struct {
	conn    *pgx.Conn
	apps    []string
	mu      sync.Mutex
	peak    map[int32]int64 // kB
	quit    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func sampleBackendMemory(ctx context.Context, dsn string, apps ...string) (*backendMemory, error) {
	memDSN, err := withParam(dsn, "application_name", childApp("memory"))
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, memDSN)
	if err != nil {
		return nil, err
	}
	m := &backendMemory{conn: conn, apps: apps, peak: map[int32]int64{}, quit: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			m.sample(ctx)
			select {
			case <-m.quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return m, nil
}

func (m *backendMemory) sample(ctx context.Context) {
	rows, err := m.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = ANY($1)", m.apps)
	if err != nil {
		return
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, pid := range pids {
		if kb, err := statusKB(fmt.Sprint(pid), "RssAnon"); err == nil {
			m.peak[pid] = max(m.peak[pid], kb)
		}
	}
}

// stop ends the sampling and returns the sum of the backends' highest
// private memory, in kB; a database on another machine counts as none.
func (m *backendMemory) stop() int64 {
	m.once.Do(func() {
		close(m.quit)
		<-m.stopped
		_ = m.conn.Close(context.Background())
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum int64
	for _, kb := range m.peak {
		sum += kb
	}
	return sum
}
