package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// Namespace is where the bench runs its cases, on its own server or, with
// -temporal stack, on the stack's: never in the stack's namespace, whose
// supervisor would see thousands of made-up cases.
const Namespace = "impagos-bench"

// retention keeps the closed cases of a run on the stack's server for a day;
// the open ones are terminated at the end of the run.
const retention = 24 * time.Hour

// bench is one run: its clients, its schemas and what it started, so that
// close can take it all away again.
type bench struct {
	opts    options
	began   time.Time
	cfg     engine.Config
	c       client.Client // on Namespace
	run     string        // a token naming this run's task queues and invoices
	root    string        // the module's directory, where ./worker and bin/ are
	tmp     string
	machine machine
	res     *results
	server  *devServer // nil on the stack's server
	// procs are the server's processes the bench measures: its own dev
	// server, or those -server-pids names; none otherwise.
	procs []serverProc
	load  *loadSampler

	mu      sync.Mutex
	drops   []func() error // isolated schemas to drop
	started []string       // ids of the workflows started, to terminate if still open
	closers []func() error // workers and children to stop, last started first

	// openCases are the domestic cases figure 2 started and left open.
	openCases []workflows.Input
}

func newBench(ctx context.Context, cancel context.CancelFunc, opts options) (_ *bench, err error) {
	b := &bench{opts: opts, began: began, cfg: engine.FromEnv(), run: token(3), res: &results{}, load: sampleLoad()}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.close())
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "impagos-bench-"); err != nil {
		return nil, err
	}
	if b.root, err = moduleRoot(ctx); err != nil {
		return nil, err
	}
	if opts.temporal == "private" {
		cli := opts.temporalCLI
		if !filepath.IsAbs(cli) {
			cli = filepath.Join(b.root, cli)
		}
		if b.server, err = startDevServer(ctx, cli, b.tmp); err != nil {
			return nil, err
		}
		if err := usePrivateServer(b.server.address, b.tmp); err != nil {
			return nil, err
		}
		progress("Temporal dev server of the bench started on %s", b.server.address)
		go func() {
			select {
			case <-b.server.exited:
				progress("the Temporal dev server of the bench exited (%v): stopping", b.server.err)
				cancel()
			case <-b.server.stopping:
			case <-ctx.Done():
			}
		}()
	}
	progress("scale %s, run %s, namespace %s on %s", opts.sizes.name, b.run, Namespace, envOr("TEMPORAL_ADDRESS", "localhost:7233"))
	if err := ensureNamespace(ctx); err != nil {
		return nil, err
	}
	// engine.Dial reads the namespace from the environment like the worker
	// does, and so does the worker the bench starts: both get the same
	// connection settings and data converter as the stack's own.
	if err := os.Setenv("TEMPORAL_NAMESPACE", Namespace); err != nil {
		return nil, err
	}
	if b.c, err = engine.Dial(ctx); err != nil {
		return nil, err
	}
	if err := ensureSearchAttributes(ctx, b.c); err != nil {
		return nil, err
	}
	b.machine = describeMachine(ctx, b.cfg.DatabaseURL, b.c)
	if b.server != nil {
		b.machine.temporal += ", dev server of the bench (SQLite in memory)"
		b.procs = []serverProc{{name: "temporal", pid: b.server.cmd.Process.Pid}}
	} else {
		b.machine.temporal += " at " + envOr("TEMPORAL_ADDRESS", "localhost:7233")
		if b.procs, err = serverProcs(opts.serverPIDs); err != nil {
			return nil, err
		}
		if len(b.procs) > 0 {
			names := make([]string, len(b.procs))
			for i, p := range b.procs {
				names[i] = p.name
			}
			b.machine.temporal += fmt.Sprintf(", %d processes measured (%s)", len(b.procs), strings.Join(names, ", "))
		}
	}
	progress("machine: %s", b.machine.summary())
	return b, nil
}

// moduleRoot is the directory of the module the bench belongs to, as the go
// command sees it from the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the bench from inside the impagos repository (make bench does)")
	}
	return filepath.Dir(mod), nil
}

// close stops what the run started, terminates its open workflows (on the
// stack's server) and drops its schemas, reporting every error.
func (b *bench) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var errs []error
	b.mu.Lock()
	closers, drops, started := b.closers, b.drops, b.started
	b.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		errs = append(errs, closers[i]())
	}
	if b.c != nil {
		// On the bench's own server everything goes with the server.
		if b.server == nil {
			t := time.Now()
			n, err := terminateOpen(ctx, b.c, started)
			errs = append(errs, err)
			progress("cleanup: %d open workflows terminated in %s", n, time.Since(t).Round(100*time.Millisecond))
		}
		b.c.Close()
	}
	errs = append(errs, b.stopServer())
	for _, drop := range drops {
		errs = append(errs, drop())
	}
	errs = append(errs, os.RemoveAll(b.tmp))
	b.machine.during = b.load.done()
	return errors.Join(errs...)
}

// serverProc is a process of the Temporal server the bench measures.
type serverProc struct {
	name string
	pid  int
}

// serverProcs reads -server-pids: pid files (named after their process) or
// pids, separated by commas. Each must be a running process.
func serverProcs(list string) ([]serverProc, error) {
	var procs []serverProc
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		p := serverProc{name: strings.TrimSuffix(filepath.Base(f), ".pid")}
		text := f
		if _, err := strconv.Atoi(f); err != nil {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("-server-pids: %w", err)
			}
			text = strings.TrimSpace(string(b))
		}
		pid, err := strconv.Atoi(text)
		if err != nil {
			return nil, fmt.Errorf("-server-pids: %s holds %q, not a pid", f, text)
		}
		if _, err := cpuSeconds(pid); err != nil {
			return nil, fmt.Errorf("-server-pids: %s: process %d is not running", f, pid)
		}
		p.pid = pid
		procs = append(procs, p)
	}
	return procs, nil
}

// measuresServer reports whether the bench can read the server's CPU and
// memory: its own dev server, or the processes -server-pids names.
func (b *bench) measuresServer() bool { return len(b.procs) > 0 }

// serverCPU is the CPU time the server's processes have used, 0 when the
// bench does not measure the server.
func (b *bench) serverCPU() float64 {
	var sum float64
	for _, p := range b.procs {
		t, _ := cpuSeconds(p.pid)
		sum += t
	}
	return sum
}

func (b *bench) stopServer() error {
	if b.server == nil {
		return nil
	}
	return b.server.stop()
}

func (b *bench) onClose(fn func() error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closers = append(b.closers, fn)
}

// track records workflows the run started, to terminate them at the end.
func (b *bench) track(ids ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.started = append(b.started, ids...)
}

// queue names one of this run's task queues.
func (b *bench) queue(what string) string { return "bench-" + b.run + "-" + what }

// isolated opens a new migrated schema for the run and returns its store and
// a connection string whose search_path is that schema, for child processes.
func (b *bench) isolated(ctx context.Context, prefix string) (*store.Store, string, error) {
	db, drop, err := store.OpenIsolated(ctx, b.cfg.DatabaseURL, prefix)
	if err != nil {
		return nil, "", err
	}
	b.mu.Lock()
	b.drops = append(b.drops, drop)
	b.mu.Unlock()
	var schema string
	if err := db.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, "", err
	}
	dsn, err := withSearchPath(b.cfg.DatabaseURL, schema)
	return db, dsn, err
}

// withSearchPath sets search_path in a connection string in URL or
// keyword/value form, as store.OpenIsolated does for its own pool.
func withSearchPath(dsn, schema string) (string, error) { return withParam(dsn, "search_path", schema) }

// withParam sets a run-time parameter in a connection string in URL or
// keyword/value form.
func withParam(dsn, key, value string) (string, error) {
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ensureNamespace registers the bench namespace unless it exists, and waits
// until the server answers for it.
func ensureNamespace(ctx context.Context) error {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return fmt.Errorf("temporal configuration: %w", err)
	}
	opts.Logger = tlog.NewStructuredLogger(slog.Default())
	nc, err := client.NewNamespaceClient(opts)
	if err != nil {
		return err
	}
	defer nc.Close()
	err = nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        Namespace,
		Description:                      "make bench: made-up cases, terminated at the end of each run",
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	switch {
	case err == nil:
		progress("namespace %s created", Namespace)
	case errors.As(err, &exists):
	default:
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	return poll(ctx, time.Minute, 500*time.Millisecond, "namespace "+Namespace, func() (bool, error) {
		_, err := nc.Describe(ctx, Namespace)
		return err == nil, nil
	})
}

// ensureSearchAttributes adds the cases' search attributes the namespace
// lacks, and waits until a query on them is accepted.
func ensureSearchAttributes(ctx context.Context, c client.Client) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: Namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	add := map[string]enumspb.IndexedValueType{}
	for _, sa := range workflows.SearchAttributeTypes {
		t := enumspb.IndexedValueType(enumspb.IndexedValueType_value["INDEXED_VALUE_TYPE_"+strings.ToUpper(sa.Type)])
		if t == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return fmt.Errorf("search attribute %s: unknown type %s", sa.Name, sa.Type)
		}
		if got, ok := have.GetCustomAttributes()[sa.Name]; !ok {
			add[sa.Name] = t
		} else if got != t {
			return fmt.Errorf("search attribute %s is %s in %s, the cases need %s", sa.Name, got, Namespace, t)
		}
	}
	if len(add) > 0 {
		if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: Namespace, SearchAttributes: add,
		}); err != nil {
			return fmt.Errorf("add search attributes: %w", err)
		}
		progress("search attributes added to %s", Namespace)
	}
	q := `Stage = "x" AND Segment = "x" AND InvoiceNumber = "x" AND Cups = "x" AND Customer = "x" AND AmountDue > 0 AND CutDate IS NULL AND NextActionAt IS NULL`
	return poll(ctx, time.Minute, 500*time.Millisecond, "search attributes", func() (bool, error) {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: Namespace, Query: q})
		return err == nil, nil
	})
}

// terminateOpen terminates the workflows of ids that are still running.
func terminateOpen(ctx context.Context, c client.Client, ids []string) (int, error) {
	var mu sync.Mutex
	n := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startConcurrency)
	for _, id := range ids {
		g.Go(func() error {
			err := c.TerminateWorkflow(gctx, id, "", "end of make bench")
			var nf *serviceerror.NotFound
			switch {
			case err == nil:
				mu.Lock()
				n++
				mu.Unlock()
			case errors.As(err, &nf): // closed already
			default:
				return fmt.Errorf("terminate %s: %w", id, err)
			}
			return nil
		})
	}
	return n, g.Wait()
}

// poll calls check every interval until it reports done, fails, or the
// timeout passes.
func poll(ctx context.Context, timeout, interval time.Duration, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not ready after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
