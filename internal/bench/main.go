// Command bench measures how fast and how cheap impagos is on this machine.
// Each speed is measured next to the raw limit it is bounded by, in the same
// run, so that a figure and its limit share the machine's mood:
//
//	go run ./internal/bench [-scale small|full] [-cpuprofile DIR] [-only LIST] [-doc FILE] [-temporal private|stack]
//
// It needs Postgres and the Temporal CLI in bin/ (make up provides both) and
// starts everything else itself: a Temporal dev server of its own, in memory
// (not the stack's, which serves everyone's tests), the real worker built
// from ./worker (with distributor folders under the run's directory and the
// stand-in answering in the distributor's place, never the stack's), and
// isolated schemas for its rows. Its cases run in the
// namespace impagos-bench. When it ends, the worker and the server are
// stopped and the schemas dropped. With -temporal stack it runs on
// TEMPORAL_ADDRESS instead, in that namespace, and terminates what is still
// open at the end. It prints a table and one line per figure,
// BENCH <name> <value> <unit>, and with -doc rewrites the results block of
// that file (full scale, every figure).
//
// The figures, numbered as docs/benchmarks.md numbers them:
//
//  1. import: a generated TRADE export read, validated and stored, against
//     excelize's row iterator feeding a bare COPY; each in a child process,
//     whose peak RSS is the import's alone.
//  2. starts: cases started through cases.Start, against bare ExecuteWorkflow
//     of a no-op workflow, at the same concurrency.
//  3. lifecycle: history length and billable actions of a domestic and a
//     business case run from start to reconnection, the distributor's
//     answers included.
//  4. paid→reconnect: from sending paid to a cut case until its reconnection
//     request is stored, and until the distributor's acceptance of it is
//     read, with other cases open.
//  5. report: the rows per second and peak RSS of a 100,000-row workbook.
//  6. worker memory: the worker's RSS with thousands of cases asleep; on the
//     way, what a case costs from its start to its first sleep, in rounds
//     beside bare no-op starts and bare one-activity workflows.
//  7. a bad month: a TRADE export of 20,000 returns imported as starter
//     import does, until every case sleeps after its first notice: the wall
//     time, the CPU per case and the peak memory of everything involved.
//
// BENCH_SCALE (or -scale) picks full (the default: the sizes, 20 to
// 30 minutes on two cores, most of it figure 7) or small (a tenth of the
// sizes, for a smoke run);
// BENCH_TEMPORAL (or -temporal) picks the server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCommand {
		os.Exit(childMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// sizes is how big each figure's run is.
type sizes struct {
	name string
	// importRows is the length of the generated TRADE export.
	importRows int
	// starts is how many cases (and as many no-op workflows) figure 2 starts;
	// they stay open and are the other cases of figures 4 and 6.
	starts int
	// cutCases is how many cut cases figure 4 pays, one at a time: two
	// thirds paced, a third back to back.
	cutCases int
	// openCases is how many cases are asleep when figure 6 reads the worker's memory.
	openCases int
	// reportRows is the length of the workbook of figure 5.
	reportRows int
	// lifecyclePolicy runs the cases of figure 3: demo (a day lasts two
	// seconds; a domestic case takes about three minutes) or fast.
	lifecyclePolicy string
	// burstRows is the length of figure 7's export, a bad month: every row
	// a case run to its first notice.
	burstRows int
}

var scales = map[string]sizes{
	"full":  {"full", 100_000, 2_000, 150, 5_000, 100_000, "demo", 20_000},
	"small": {"small", 10_000, 200, 30, 500, 10_000, "fast", 2_000},
}

// maxRuntime stops a run that hangs: about three times what a full run takes.
const maxRuntime = 60 * time.Minute

// startConcurrency is the starts in flight in figure 2: what internal/imports uses.
const startConcurrency = 32

type options struct {
	sizes       sizes
	profileDir  string
	only        map[int]bool
	doc         string
	temporal    string // private (a dev server of the bench's own) or stack (TEMPORAL_ADDRESS)
	temporalCLI string
	// serverPIDs names, with -temporal stack, the processes of a Temporal
	// server on this machine, whose CPU and memory the bench measures as the
	// server's.
	serverPIDs string
}

func (o options) want(fig int) bool { return len(o.only) == 0 || o.only[fig] }

func parseOptions(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	scale := fs.String("scale", envOr("BENCH_SCALE", "full"), "full or small")
	profile := fs.String("cpuprofile", "", "write CPU profiles of the bench and of each child (import-1.pprof, baseline-1.pprof, report-2.pprof...) into this directory")
	only := fs.String("only", "", "run only these figures, e.g. 1,2")
	doc := fs.String("doc", "", "rewrite the results block of this markdown file (full scale, every figure)")
	temporal := fs.String("temporal", envOr("BENCH_TEMPORAL", "private"),
		"private: run on a Temporal dev server of the bench's own; stack: on TEMPORAL_ADDRESS, in namespace "+Namespace)
	cli := fs.String("temporal-cli", "bin/temporal", "the Temporal CLI that runs the private dev server (relative to the repository)")
	pids := fs.String("server-pids", "", "with -temporal stack: the Temporal server's processes on this machine, pid files or pids separated by commas, measured as the server")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	s, ok := scales[*scale]
	if !ok {
		return options{}, fmt.Errorf("scale %q: want full or small", *scale)
	}
	if *temporal != "private" && *temporal != "stack" {
		return options{}, fmt.Errorf("-temporal %q: want private or stack", *temporal)
	}
	if *temporal == "private" && *pids != "" {
		return options{}, errors.New("-server-pids measures a server the bench did not start: use it with -temporal stack")
	}
	o := options{sizes: s, profileDir: *profile, doc: *doc, only: map[int]bool{}, temporal: *temporal, temporalCLI: *cli,
		serverPIDs: *pids}
	for _, f := range strings.FieldsFunc(*only, func(r rune) bool { return r == ',' || r == ' ' }) {
		var n int
		if _, err := fmt.Sscanf(f, "%d", &n); err != nil || n < 1 || n > 7 {
			return options{}, fmt.Errorf("-only %q: figures are 1 to 7", *only)
		}
		o.only[n] = true
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return options{}, err
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	opts, err := parseOptions(args)
	if err != nil {
		return err
	}
	// The SDK and the worker wiring log at info level; the bench's own
	// progress is enough on a terminal.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if opts.profileDir != "" {
		f, err := os.Create(profilePath(opts.profileDir, "bench"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	// Whatever happens (a server gone, a wait that never ends), a run stops.
	ctx, cancel := context.WithTimeout(ctx, maxRuntime)
	defer cancel()
	b, err := newBench(ctx, cancel, opts)
	if err != nil {
		return err
	}
	ferr := b.runFigures(ctx)
	// Stop what the run started before printing, so that the BENCH lines
	// come last and the total includes the cleanup.
	if err := errors.Join(ferr, b.close()); err != nil {
		return err
	}
	total := time.Since(b.began)
	b.res.print(out, b.machine, total)
	if opts.doc != "" {
		switch {
		case opts.sizes.name != "full" || len(opts.only) > 0:
			progress("results not written to %s: only a full run of every figure goes there", opts.doc)
		default:
			if err := writeDoc(opts.doc, b.res, b.machine, total); err != nil {
				return err
			}
			progress("results written to %s", opts.doc)
		}
	}
	if failed := b.res.failed(); len(failed) > 0 {
		return fmt.Errorf("figures not measured: %s", strings.Join(failed, ", "))
	}
	return nil
}

// runFigures runs the figures in the order that lets them share the cases
// they start: figure 3's cases run in the background from the beginning;
// figure 2's cases stay open as the others of figures 4 and 6; figure 7
// runs alone at the end.
func (b *bench) runFigures(ctx context.Context) error {
	o := b.opts
	var lifecycle *lifecycleRun
	if o.want(3) {
		var err error
		if lifecycle, err = b.startLifecycle(ctx); err != nil {
			b.res.fail("3", err)
		}
	}
	if o.want(1) {
		b.step("1", func() error { return b.importFigure(ctx) })
	}
	if o.want(5) {
		b.step("5", func() error { return b.reportFigure(ctx) })
	}
	if o.want(2) {
		b.step("2", func() error { return b.startFigure(ctx) })
	}
	if o.want(4) || o.want(6) {
		b.step("4/6", func() error { return b.workerFigures(ctx) })
	}
	if lifecycle != nil {
		b.step("3", func() error { return lifecycle.wait(ctx) })
	}
	// The burst comes last, on a machine the other figures have left.
	if o.want(7) {
		b.step("7", func() error { return b.burstFigure(ctx) })
	}
	return ctx.Err()
}

// step runs one figure; a figure that fails is reported and the others go on.
func (b *bench) step(fig string, fn func() error) {
	if err := fn(); err != nil {
		if errors.Is(err, context.Canceled) {
			b.res.fail(fig, errors.New("interrupted"))
			return
		}
		progress("figure %s failed: %v", fig, err)
		b.res.fail(fig, err)
	}
}

var began = time.Now()

// progress prints what the bench is doing, with the time since it began.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func profilePath(dir, name string) string { return dir + string(os.PathSeparator) + name + ".pprof" }

// percentile returns the p-th percentile (0-100) of sorted values, by the
// nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func sortedDurations(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}
