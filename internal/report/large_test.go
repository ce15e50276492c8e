package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/report/reporttest"
	"github.com/elega/impagos/internal/store"
)

// The target for 100,000 rows on a two-core machine.
const (
	largeRows     = 100_000
	targetTime    = 3 * time.Second
	targetHeapMiB = 300
)

// TestReport100kRows writes the workbook of 100,000 invoices, checking its
// total, and reports the time and the peak heap. It fails over the memory
// target; time on a shared machine varies, so it only fails far over its
// target and logs the figure otherwise.
func TestReport100kRows(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 rows: skipped with -short")
	}
	db := newBenchStore(t)
	require.NoError(t, reporttest.SeedLedger(context.Background(), db, largeRows))
	out := filepath.Join(t.TempDir(), "impagos.xlsx")
	ctx := context.Background()

	// The first report also stores the lines of 100,000 invoices for the next
	// one to check against; the next, as on any day, changes those that moved.
	start := time.Now()
	first, err := Run(ctx, db, Options{Out: out, Record: true})
	require.NoError(t, err)
	require.Equal(t, largeRows, first.Totals.Invoices)
	t.Logf("first report, storing every line: %v", time.Since(start).Round(time.Millisecond))

	runtime.GC()
	peak := watchHeap()
	cpu := watchCPU(t, db)
	start = time.Now()
	res, err := Run(ctx, db, Options{Out: out, Record: true})
	elapsed := time.Since(start)
	heap, sys := peak()
	goCPU, pgCPU := cpu()
	require.NoError(t, err)
	require.Equal(t, CheckBalanced, res.Check.Status)
	require.Equal(t, first.Totals.PendingCents, res.Check.TotalCents)
	info, err := os.Stat(out)
	require.NoError(t, err)
	t.Logf("%d rows in %v (%.0f rows/s); peak heap %d MiB, memory from the OS %d MiB; workbook %.1f MB",
		largeRows, elapsed.Round(time.Millisecond), largeRows/elapsed.Seconds(), heap>>20, sys>>20, float64(info.Size())/1e6)
	if pgCPU >= 0 {
		// On a shared machine the wall time says little; the CPU time does.
		t.Logf("CPU time: this process %v, its Postgres backends %v", goCPU.Round(time.Millisecond), pgCPU.Round(time.Millisecond))
	}
	require.Less(t, heap>>20, uint64(targetHeapMiB), "peak heap")
	if elapsed > targetTime {
		t.Logf("slower than the %v target (a busy machine, or a regression)", targetTime)
	}
	require.Less(t, elapsed, 5*targetTime, "far slower than the target")
}

// BenchmarkReport100k: go test -run '^$' -bench Report100k ./internal/report/
func BenchmarkReport100k(b *testing.B) {
	db := newBenchStore(b)
	require.NoError(b, reporttest.SeedLedger(context.Background(), db, largeRows))
	out := filepath.Join(b.TempDir(), "impagos.xlsx")
	ctx := context.Background()
	_, err := Run(ctx, db, Options{Out: out, Record: true})
	require.NoError(b, err)
	runtime.GC()
	peak := watchHeap()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(ctx, db, Options{Out: out, Record: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	heap, _ := peak()
	b.ReportMetric(float64(largeRows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(heap>>20), "peak-heap-MiB")
}

// watchHeap samples the heap until the returned function is called, which
// gives the peak of HeapAlloc and the memory obtained from the OS.
func watchHeap() func() (heap, sys uint64) {
	var mu sync.Mutex
	var peak, sys uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	sample := func() {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		peak, sys = max(peak, m.HeapAlloc), max(sys, m.Sys)
		mu.Unlock()
	}
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-stopped
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak, sys
	}
}

// watchCPU measures the CPU time this process and the store's Postgres
// backends (found by application name) spend until the returned function is
// called. The backends' time is -1 unless Postgres runs on this machine.
func watchCPU(t testing.TB, db *store.Store) func() (self, backends time.Duration) {
	t.Helper()
	ctx := context.Background()
	cpuOf := func() map[int]time.Duration {
		rows, err := db.Pool().Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, benchApp)
		require.NoError(t, err)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		require.NoError(t, err)
		out := map[int]time.Duration{}
		for _, pid := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				return nil // not this machine's process
			}
			// utime and stime, in clock ticks (USER_HZ, 100 on Linux), are the
			// 12th and 13th fields after the command in parentheses.
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			out[pid] = time.Duration(u+s) * 10 * time.Millisecond
		}
		return out
	}
	self := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b0, s0 := cpuOf(), self()
	return func() (time.Duration, time.Duration) {
		s1 := self() - s0
		b1 := cpuOf()
		if b0 == nil || b1 == nil {
			return s1, -1
		}
		var sum time.Duration
		for pid, cpu := range b1 {
			sum += cpu - b0[pid]
		}
		return s1, sum
	}
}

// benchApp names the large tests' database connections, so their backends
// can be told from everyone else's.
const benchApp = "impagos-report-bench"

// newBenchStore is newStore with connections named benchApp.
func newBenchStore(t testing.TB) *store.Store {
	t.Helper()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set")
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if !strings.Contains(dsn, "://") {
		sep = " "
	}
	s, done, err := store.OpenIsolated(context.Background(), dsn+sep+"application_name="+benchApp, "report_bench")
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := done(); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	return s
}
