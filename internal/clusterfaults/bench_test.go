package clusterfaults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// benchNamespace keeps the bench's thousands of made-up cases out of the
// namespace the supervisor looks at, on both servers.
const benchNamespace = "impagos-cluster-bench"

// TestBenchClusterAndDevServer starts IMPAGOS_BENCH_CASES cases (default
// 2,000: half domestic, half business, each to be cut and reconnected) with
// IMPAGOS_BENCH_STARTERS concurrent cases.Start calls (default 32), first on
// the cluster (TEMPORAL_ADDRESS) and then on the dev server
// (IMPAGOS_BENCH_DEV_ADDRESS, default 127.0.0.1:7233), each time with two
// worker processes of the bench's own on a task queue of its own, rows in a
// schema of its own and a distributor of its own (distributor.Local: folders
// under the test's temporary directory and a stand-in answering at once). It reports for each the start rate, and the
// completion rate: cases closed per second from the first start until every
// case closed or IMPAGOS_BENCH_WINDOW (default 10m) passed, whichever comes
// first; the cases still open then are terminated.
func TestBenchClusterAndDevServer(t *testing.T) {
	requireCluster(t, "IMPAGOS_CLUSTER_BENCH")
	n := envInt(t, "IMPAGOS_BENCH_CASES", 2000)
	starters := envInt(t, "IMPAGOS_BENCH_STARTERS", 32)
	bin := filepath.Join(t.TempDir(), "impagos-worker")
	build := exec.Command("go", "build", "-o", bin, "./worker")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build worker: %v\n%s", err, out)
	}
	window := 10 * time.Minute
	if v := os.Getenv("IMPAGOS_BENCH_WINDOW"); v != "" {
		var err error
		if window, err = time.ParseDuration(v); err != nil {
			t.Fatalf("IMPAGOS_BENCH_WINDOW=%q: %v", v, err)
		}
	}
	dev := os.Getenv("IMPAGOS_BENCH_DEV_ADDRESS")
	if dev == "" {
		dev = "127.0.0.1:7233"
	}
	var lines []string
	for _, target := range []struct{ name, address string }{
		{"cluster", os.Getenv("TEMPORAL_ADDRESS")},
		{"devserver", dev},
	} {
		t.Run(target.name, func(t *testing.T) {
			lines = append(lines, benchOne(t, target.name, target.address, bin, n, starters, window))
		})
	}
	for _, l := range lines {
		fmt.Println(l)
	}
}

func benchOne(t *testing.T, name, address, workerBin string, n, starters int, window time.Duration) string {
	ctx, cancel := context.WithTimeout(context.Background(), window+20*time.Minute)
	defer cancel()
	logFile, err := os.OpenFile(filepath.Join(clusterDir(), "log", "bench-"+name+"-client.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := client.DialContext(ctx, client.Options{HostPort: address, Namespace: benchNamespace, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ensureNamespace(ctx, c); err != nil {
		t.Fatal(err)
	}
	db, dsn := isolatedStore(t, ctx)

	queue := "impagos-bench-" + token(4)
	// Each worker creates its queue's digest schedule at start; the bench's
	// must not stay behind.
	defer func() {
		_ = c.ScheduleClient().GetHandle(context.Background(), engine.DigestScheduleID(queue)).Delete(context.Background())
	}()
	// A distributor of the run's own: the workers write their B1 messages
	// to its outbox; the test reads the answers of its stand-in, which
	// accepts and cuts at once.
	dist := distributor.NewLocal(t.TempDir(), db, c, 0, 0)
	distCtx, stopDist := context.WithCancel(ctx)
	distDone := make(chan error, 1)
	go func() { distDone <- dist.Run(distCtx) }()
	t.Cleanup(func() {
		stopDist()
		if err := <-distDone; err != nil {
			t.Error(err)
		}
	})
	for i := 1; i <= 2; i++ {
		runWorker(t, fmt.Sprintf("bench-%s-worker-%d", name, i), workerBin,
			"TEMPORAL_ADDRESS="+address, "TEMPORAL_NAMESPACE="+benchNamespace,
			"DATABASE_URL="+dsn, "IMPAGOS_TASK_QUEUE="+queue,
			distributor.EnvOutbox+"="+dist.Folder.Dir, distributor.EnvInbox+"=",
			distributor.EnvREECode+"="+distributor.LocalREECode)
	}

	all, contracts := planCases(t, "CB-"+token(3), mix{domesticCut: n / 2, businessCut: n - n/2})
	storeContracts(t, ctx, db, contracts)

	d := newDriver(c, db, queue, all)
	driveCtx, stopDriving := context.WithCancel(ctx)
	defer stopDriving()
	driven := make(chan struct{})
	go func() { _ = d.run(driveCtx); close(driven) }()

	var started atomic.Int64
	t0 := time.Now()
	if err := startAll(ctx, c, queue, all, starters, &started); err != nil {
		t.Fatal(err)
	}
	startSecs := time.Since(t0).Seconds()
	select {
	case <-d.finished():
	case <-time.After(time.Until(t0.Add(window))):
	}
	stopDriving()
	<-driven

	end := time.Now()
	closed := 0
	var open []*invoiceCase
	for _, k := range all {
		if !k.closed {
			open = append(open, k)
			continue
		}
		closed++
	}
	if len(open) == 0 {
		end = time.Time{}
		for _, k := range all {
			if k.closedAt.After(end) {
				end = k.closedAt
			}
		}
	}
	terminate(c, open)
	events := historyEvents(ctx, d, len(all)) - int64(len(open)) // a termination is one event more
	p50, p95, _ := durations(all)
	completeSecs := end.Sub(t0).Seconds()
	line := fmt.Sprintf("BENCH %s cases=%d starters=%d start_rate=%.1f/s completion_rate=%.2f/s events=%.0f/s closed=%d in %.0fs (start %.1fs; closed cases took p50 %.0fs, p95 %.0fs)",
		name, n, starters, float64(n)/startSecs, float64(closed)/completeSecs, float64(events)/completeSecs,
		closed, completeSecs, startSecs, p50.Seconds(), p95.Seconds())
	t.Log(line)
	return line
}

// historyEvents is the number of history events the run's cases wrote, once
// visibility shows every one of them closed (after their termination): all
// the work the cases did, finished or not, which is the throughput a
// completion rate alone understates when the window ends mid-run.
func historyEvents(ctx context.Context, d *driver, n int) int64 {
	query := fmt.Sprintf(`WorkflowType = %q AND TaskQueue = %q AND ExecutionStatus != "Running"`, workflows.WorkflowType, d.queue)
	var sum int64
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		rows, err := d.list(ctx, query)
		if err != nil {
			continue
		}
		sum = 0
		for _, r := range rows {
			sum += r.events
		}
		if len(rows) >= n {
			break
		}
	}
	return sum
}

// ensureNamespace registers the bench namespace and the cases' search
// attributes in it, and waits until a visibility query on them is accepted.
func ensureNamespace(ctx context.Context, c client.Client) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: benchNamespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", benchNamespace, err)
	}
	types := map[string]enumspb.IndexedValueType{
		"Keyword": enumspb.INDEXED_VALUE_TYPE_KEYWORD, "Double": enumspb.INDEXED_VALUE_TYPE_DOUBLE,
		"Datetime": enumspb.INDEXED_VALUE_TYPE_DATETIME,
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := func() error {
			have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: benchNamespace})
			if err != nil {
				return err
			}
			want := map[string]enumspb.IndexedValueType{}
			for _, a := range workflows.SearchAttributeTypes {
				if _, ok := have.GetCustomAttributes()[a.Name]; !ok {
					want[a.Name] = types[a.Type]
				}
			}
			if len(want) > 0 {
				if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
					Namespace: benchNamespace, SearchAttributes: want,
				}); err != nil {
					return err
				}
			}
			_, err = c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: benchNamespace,
				Query: `Stage = "x" AND Cups = "x" AND AmountDue > 0 AND CutDate > "2000-01-01T00:00:00Z"`})
			return err
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s not usable: %w", benchNamespace, err)
		}
		time.Sleep(time.Second)
	}
}

// isolatedStore opens a migrated schema of the bench's own in the
// application's database, dropped at the end, and returns its URL.
func isolatedStore(t *testing.T, ctx context.Context) (*store.Store, string) {
	t.Helper()
	admin := openStore(t, ctx)
	schema := "clusterbench_" + token(4)
	if _, err := admin.Pool().Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Pool().Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(engine.FromEnv().DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db, u.String()
}

// runWorker runs a worker process until the test ends, with nothing of the
// caller's environment that configures the system but the given variables.
func runWorker(t *testing.T, name, bin string, env ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(clusterDir(), "log", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var clean []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "IMPAGOS_") || strings.HasPrefix(k, "SENDGRID_") ||
			strings.HasPrefix(k, "MAIL_") || k == "DATABASE_URL" {
			continue
		}
		clean = append(clean, kv)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(clean, env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.Close()
	})
}

// terminate ends the cases still open when the bench's time is up.
func terminate(c client.Client, open []*invoiceCase) {
	jobs := make(chan *invoiceCase)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				_ = c.TerminateWorkflow(context.Background(), k.id(), "", "bench over")
			}
		}()
	}
	for _, k := range open {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
}

func envInt(t *testing.T, key string, def int) int {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive whole number", key, v)
	}
	return n
}
