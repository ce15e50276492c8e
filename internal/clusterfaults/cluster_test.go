package clusterfaults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/elega/impagos/internal/atr/standin"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// repoRoot is the module's root: tests run in internal/clusterfaults.
func repoRoot() string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return root
}

// clusterDir holds the pid files and logs of the cluster's processes.
func clusterDir() string { return filepath.Join(repoRoot(), ".data", "cluster") }

// requireCluster skips the test unless asked for with the variable gate, and
// fails it when TEMPORAL_ADDRESS does not lead to the multi-process cluster:
// a fault test that silently ran against the dev server would prove nothing.
func requireCluster(t *testing.T, gate string) {
	t.Helper()
	if os.Getenv(gate) != "1" {
		t.Skipf("cluster test: needs %s=1 and the cluster of make cluster-up (make test-cluster runs it)", gate)
	}
	for _, p := range []string{"frontend", "history-1", "history-2", "impagos-worker-1"} {
		if _, err := pidOf(p); err != nil {
			t.Fatalf("the cluster is not running (make cluster-up): %v", err)
		}
	}
}

// dial connects as the starter does (TEMPORAL_* variables) and checks that
// the other end is the PostgreSQL cluster, not the dev server. The SDK's
// warnings while a service is down go to a log file, not to the test output.
func dial(t *testing.T, ctx context.Context) client.Client {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(clusterDir(), "log", "tests-client.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	slog.SetDefault(slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := engine.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	info, err := c.WorkflowService().GetClusterInfo(ctx, &workflowservice.GetClusterInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetPersistenceStore() != "postgres12" || info.GetHistoryShardCount() < 2 {
		t.Fatalf("TEMPORAL_ADDRESS=%s is not the cluster of make cluster-up (persistence %q, %d shards); eval \"$(.ci/cluster/cluster env)\"",
			os.Getenv("TEMPORAL_ADDRESS"), info.GetPersistenceStore(), info.GetHistoryShardCount())
	}
	return c
}

func openStore(t *testing.T, ctx context.Context) *store.Store {
	t.Helper()
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// pidOf reads the pid file of a cluster process and checks that the pid is
// still that process (its command line names it), never a reused pid.
func pidOf(name string) (int, error) {
	data, err := os.ReadFile(filepath.Join(clusterDir(), name+".pid"))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s: pid file: %w", name, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, fmt.Errorf("%s (pid %d) is not running", name, pid)
	}
	mark := "--env\x00" + name + "\x00"
	if strings.HasPrefix(name, "impagos-worker") {
		mark = "impagos-worker"
	}
	if !strings.Contains(string(cmdline), mark) {
		return 0, fmt.Errorf("pid %d is not %s", pid, name)
	}
	return pid, nil
}

// kill sends SIGKILL to a cluster process: no shutdown, no goodbye to the
// membership ring, exactly as when its machine dies. It returns the pid
// once the process is gone.
func kill(name string) (int, error) {
	pid, err := pidOf(name)
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill %s: %w", name, err)
	}
	for i := 0; i < 100; i++ {
		if _, err := pidOf(name); err != nil {
			return pid, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s (pid %d) survived SIGKILL", name, pid)
}

// revive starts again whatever cluster process is not running, with the
// script an operator uses.
func revive() error {
	cmd := exec.Command(filepath.Join(repoRoot(), ".ci", "cluster", "cluster"), "start")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf(".ci/cluster/cluster start: %w\n%s", err, out)
	}
	return nil
}

// requireDistributor fails the test unless the cluster's workers have a
// distributor: without an REE code the ledger refuses every cut, and without
// an outbox no cut is ever answered. A cluster started before the workers
// were given one (.ci/cluster/cluster) needs make cluster-down cluster-up.
// It returns the workers' outbox folder.
func requireDistributor(t *testing.T) string {
	t.Helper()
	pid, err := pidOf("impagos-worker-1")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatalf("impagos-worker-1's environment: %v", err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, name := range []string{distributor.EnvOutbox, distributor.EnvInbox, distributor.EnvREECode} {
		if env[name] == "" {
			t.Fatalf("impagos-worker-1 runs without %s: its cuts would never be answered; restart the cluster (make cluster-down cluster-up)", name)
		}
	}
	if env[standin.EnvEnabled] != "1" {
		t.Fatalf("impagos-worker-1 runs no distributor stand-in (%s=%q); restart the cluster (make cluster-down cluster-up)",
			standin.EnvEnabled, env[standin.EnvEnabled])
	}
	return env[distributor.EnvOutbox]
}

// nif returns a valid NIF of its own for contract i of a run.
func nif(i int) string {
	n := 40_000_000 + i
	return fmt.Sprintf("%08d%c", n, "TRWAGMYFPDXBNJZSQVHLCKE"[n%23])
}

// newCups returns a valid, random supply point code.
func newCups(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1e12))
	if err != nil {
		t.Fatal(err)
	}
	return cups.Make(21, n.Int64())
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fastPolicy is the default process with a day lasting a tenth of a second,
// as in the integration tests: a domestic case reaches its cut review in
// about ten seconds, a business case in two.
func fastPolicy() workflows.Policy {
	p := workflows.DefaultPolicy()
	p.Name = "test"
	p.Scale = 864000
	return p
}
