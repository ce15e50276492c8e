package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// childCommand is the hidden first argument that makes the bench binary run
// one measured piece of work in a process of its own, so that its peak memory
// is that work's alone and not the parent's.
const childCommand = "__child"

// childResult is what a child prints on its last line, as JSON.
type childResult struct {
	Rows    int     `json:"rows"`
	Stored  int     `json:"stored"`
	Seconds float64 `json:"seconds"`
	// ReadSeconds is the part of Seconds spent reading and validating the
	// workbook; the rest stored it.
	ReadSeconds float64 `json:"read_seconds,omitempty"`
	// Started counts the cases an import started (figure 7).
	Started   int   `json:"started,omitempty"`
	PeakRSSKB int64 `json:"peak_rss_kb"` // VmHWM at the end of the work
	// CPUSeconds is the CPU time the child used for the work, DBCPUSeconds
	// that of the database backends serving it (when the database runs on
	// this machine): what the work costs, whatever else the machine does.
	CPUSeconds   float64 `json:"cpu_seconds"`
	DBCPUSeconds float64 `json:"db_cpu_seconds"`
	Detail       string  `json:"detail,omitempty"`
}

// childArgs is what the parent passes to a child.
type childArgs struct {
	what    string // import, baseline, report, burst
	file    string
	dsn     string
	queue   string // the task queue of the cases a burst starts
	profile string
}

func (a childArgs) list() []string {
	out := []string{childCommand, "-what", a.what, "-file", a.file, "-dsn", a.dsn}
	if a.queue != "" {
		out = append(out, "-queue", a.queue)
	}
	if a.profile != "" {
		out = append(out, "-cpuprofile", a.profile)
	}
	return out
}

func childMain(args []string) int {
	var a childArgs
	fs := flag.NewFlagSet(childCommand, flag.ContinueOnError)
	fs.StringVar(&a.what, "what", "", "import, baseline, report or burst")
	fs.StringVar(&a.file, "file", "", "workbook")
	fs.StringVar(&a.dsn, "dsn", "", "database URL")
	fs.StringVar(&a.queue, "queue", "", "task queue of the cases started (burst)")
	fs.StringVar(&a.profile, "cpuprofile", "", "CPU profile file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if a.profile != "" {
		f, err := os.Create(a.profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	meter, err := startMeter(ctx, a.dsn, a.what)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer meter.close()
	var res childResult
	switch a.what {
	case "import":
		res, err = importChild(ctx, a.file, a.dsn, meter)
	case "baseline":
		res, err = baselineChild(ctx, a.file, a.dsn, meter)
	case "report":
		res, err = reportChild(ctx, a.file, a.dsn, meter)
	case "burst":
		res, err = burstChild(ctx, a.file, a.dsn, a.queue, meter)
	default:
		err = fmt.Errorf("unknown child work %q", a.what)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", a.what, err)
		return 1
	}
	if res.PeakRSSKB, err = statusKB("self", "VmHWM"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	return 0
}

// runChild runs the bench binary as a child doing a, and returns what it
// printed. maxRSSKB is the kernel's account of the child's peak RSS, which
// also covers the child's start and exit.
func runChild(ctx context.Context, a childArgs) (res childResult, maxRSSKB int64, err error) {
	self, err := os.Executable()
	if err != nil {
		return res, 0, err
	}
	// The child's database connections carry its name, so that it can find
	// the backends serving it and read their CPU time.
	if a.dsn, err = withParam(a.dsn, "application_name", childApp(a.what)); err != nil {
		return res, 0, err
	}
	cmd := exec.CommandContext(ctx, self, a.list()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return res, 0, fmt.Errorf("%s child: %v: %s", a.what, err, strings.TrimSpace(stderr.String()))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSSKB = ru.Maxrss
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		return res, 0, fmt.Errorf("%s child printed %q: %w", a.what, stdout.String(), err)
	}
	return res, maxRSSKB, nil
}

func childApp(what string) string { return "impagos-bench-" + what }

// cpuMeter measures the CPU time of a child and of the database backends
// whose application_name is the child's.
type cpuMeter struct {
	conn  *pgx.Conn // connected under another name, so it does not count itself
	app   string
	self0 float64
	db0   map[int32]float64
}

func startMeter(ctx context.Context, dsn, what string) (*cpuMeter, error) {
	meterDSN, err := withParam(dsn, "application_name", childApp(what)+"-meter")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, meterDSN)
	if err != nil {
		return nil, err
	}
	m := &cpuMeter{conn: conn, app: childApp(what), self0: selfCPU()}
	m.db0 = m.backends(ctx)
	return m, nil
}

// read records in res the CPU seconds used since the meter started: by this
// process and by the database backends of its connections, which must still
// be open.
func (m *cpuMeter) read(ctx context.Context, res *childResult) {
	res.DBCPUSeconds = 0
	for pid, t := range m.backends(ctx) {
		res.DBCPUSeconds += t - m.db0[pid]
	}
	res.CPUSeconds = selfCPU() - m.self0
}

// backends reads the CPU time of the backends serving the child; a database on
// another machine counts as none.
func (m *cpuMeter) backends(ctx context.Context) map[int32]float64 {
	out := map[int32]float64{}
	rows, err := m.conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", m.app)
	if err != nil {
		return out
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return out
	}
	for _, pid := range pids {
		if t, err := cpuSeconds(int(pid)); err == nil {
			out[pid] = t
		}
	}
	return out
}

func (m *cpuMeter) close() { _ = m.conn.Close(context.Background()) }

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
