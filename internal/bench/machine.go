package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// machine is what the figures were measured on.
type machine struct {
	cpu      string
	cores    int
	memory   string
	kernel   string
	goVer    string
	postgres string
	temporal string
	load     string // load average when the bench began: how busy the machine already was
	during   string // the 1-minute load average while the bench ran, mean and highest
}

func describeMachine(ctx context.Context, databaseURL string, c client.Client) machine {
	m := machine{
		cpu:    procField("/proc/cpuinfo", "model name"),
		cores:  runtime.NumCPU(),
		memory: procField("/proc/meminfo", "MemTotal"),
		goVer:  runtime.Version(),
	}
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(m.memory, " kB"), 64); err == nil {
		m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.load = strings.Join(f[:3], " ")
		}
	}
	if conn, err := pgx.Connect(ctx, databaseURL); err == nil {
		_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&m.postgres)
		m.postgres = "PostgreSQL " + m.postgres
		_ = conn.Close(ctx)
	}
	if info, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{}); err == nil {
		m.temporal = "Temporal server " + info.GetServerVersion()
	}
	return m
}

func (m machine) rows() [][2]string {
	return [][2]string{
		{"CPU", fmt.Sprintf("%s, %d cores", orUnknown(m.cpu), m.cores)},
		{"memory", orUnknown(m.memory)},
		{"kernel", orUnknown(m.kernel)},
		{"Go", m.goVer},
		{"database", orUnknown(m.postgres)},
		{"Temporal", orUnknown(m.temporal)},
		{"load average at start (1, 5, 15 min)", orUnknown(m.load)},
		{"1-minute load average during the run", orUnknown(m.during)},
	}
}

func (m machine) summary() string {
	s := fmt.Sprintf("%s, %d cores, %s, %s, %s, %s; load at start %s",
		orUnknown(m.cpu), m.cores, orUnknown(m.memory), m.goVer, orUnknown(m.postgres), orUnknown(m.temporal), orUnknown(m.load))
	if m.during != "" {
		s += "; load during the run " + m.during
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// statusKB reads a memory line (VmRSS, VmHWM) of /proc/<pid>/status, in kB;
// pid "self" is this process.
func statusKB(pid, key string) (int64, error) {
	v := procField("/proc/"+pid+"/status", key)
	if v == "" {
		return 0, fmt.Errorf("no %s in /proc/%s/status", key, pid)
	}
	return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100
// on every Linux the bench runs on.
const clockTicks = 100

// postgresCPU is the CPU time the whole PostgreSQL server of conn has used
// so far, on this machine: the postmaster, every live process it started
// (backends, autovacuum, the writers) and, through the postmaster's children
// times, every one that ended. A database on another machine reads as an
// error.
func postgresCPU(ctx context.Context, conn *pgx.Conn) (float64, error) {
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, err
	}
	f, err := statFields(backend)
	if err != nil {
		return 0, fmt.Errorf("the database's processes are not on this machine: %w", err)
	}
	postmaster, err := strconv.Atoi(f[1]) // ppid, field 4 of the file
	if err != nil {
		return 0, err
	}
	// A database elsewhere may name a pid that is some other process here.
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", postmaster)); !strings.HasPrefix(string(comm), "postgres") {
		return 0, fmt.Errorf("the database's backend %d is not a PostgreSQL process on this machine", backend)
	}
	pf, err := statFields(postmaster)
	if err != nil {
		return 0, err
	}
	var ticks float64
	for _, i := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
		v, err := strconv.ParseFloat(pf[i], 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	parent := strconv.Itoa(postmaster)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		f, err := statFields(pid)
		if err != nil || f[1] != parent {
			continue
		}
		u, err1 := strconv.ParseFloat(f[11], 64)
		s, err2 := strconv.ParseFloat(f[12], 64)
		if err1 == nil && err2 == nil {
			ticks += u + s
		}
	}
	return ticks / clockTicks, nil
}

// statFields are the fields of /proc/<pid>/stat after the command name: the
// state (field 3 of the file) is [0].
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return f, nil
}

// cpuSeconds is the user and system CPU time a process has used so far.
func cpuSeconds(pid int) (float64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	// After the name: utime is field 14 of the file, stime 15.
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return (utime + stime) / clockTicks, nil
}

// loadSampler records the 1-minute load average every few seconds, to tell
// afterwards how busy the machine was while the figures were measured.
type loadSampler struct {
	stop    chan struct{}
	stopped chan struct{}
	samples []float64
}

func sampleLoad() *loadSampler {
	l := &loadSampler{stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(l.stopped)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile("/proc/loadavg"); err == nil {
				if f := strings.Fields(string(b)); len(f) > 0 {
					if v, err := strconv.ParseFloat(f[0], 64); err == nil {
						l.samples = append(l.samples, v)
					}
				}
			}
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

// done stops the sampler and describes what it saw.
func (l *loadSampler) done() string {
	close(l.stop)
	<-l.stopped
	if len(l.samples) == 0 {
		return ""
	}
	sum, top := 0.0, 0.0
	for _, v := range l.samples {
		sum += v
		top = max(top, v)
	}
	return fmt.Sprintf("mean %.1f, highest %.1f", sum/float64(len(l.samples)), top)
}
