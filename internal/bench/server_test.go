package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// -server-pids takes pid files, named after their process, and bare pids;
// anything that is not a running process is refused with what was given.
func TestServerProcs(t *testing.T) {
	dir := t.TempDir()
	self := os.Getpid()
	history := filepath.Join(dir, "history-1.pid")
	require.NoError(t, os.WriteFile(history, []byte(strconv.Itoa(self)+"\n"), 0o644))

	procs, err := serverProcs(history + "," + strconv.Itoa(self))
	require.NoError(t, err)
	require.Equal(t, []serverProc{{name: "history-1", pid: self}, {name: strconv.Itoa(self), pid: self}}, procs)

	none, err := serverProcs("")
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = serverProcs(filepath.Join(dir, "matching.pid"))
	require.ErrorContains(t, err, "matching.pid")

	garbage := filepath.Join(dir, "frontend.pid")
	require.NoError(t, os.WriteFile(garbage, []byte("not a pid"), 0o644))
	_, err = serverProcs(garbage)
	require.ErrorContains(t, err, `"not a pid"`)
}
