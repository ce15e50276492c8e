package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// devServer is a Temporal dev server of the bench's own: in memory, on a free
// port, gone with everything the run started when the bench stops it.
//
// The bench does not run on the stack's dev server by default. That server
// keeps its state in a SQLite file and serves the worker and the tests of
// everyone on the machine: measured there, 2,000 starts ran at 16 a second
// while other tests ran, the figures would be other people's traffic, the
// full scale could not end in ten minutes, and its file would keep thousands
// of terminated cases. -temporal stack measures there all the same.
type devServer struct {
	cmd     *exec.Cmd
	address string
	exited  chan struct{} // closed when the process ends
	err     error         // why it ended, once exited is closed
	// stopping is closed when the bench stops the server itself, so that its
	// end is not taken for a crash.
	stopping chan struct{}
}

// startDevServer starts bin/temporal server start-dev and waits until it
// answers.
func startDevServer(ctx context.Context, cli, dir string) (*devServer, error) {
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("the Temporal CLI %s is missing (make up builds it): %w", cli, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "temporal.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	s := &devServer{address: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{}), stopping: make(chan struct{})}
	s.cmd = exec.Command(cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--namespace", Namespace, "--log-level", "error")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.err = s.cmd.Wait(); logf.Close(); close(s.exited) }()
	err = poll(ctx, time.Minute, 200*time.Millisecond, "Temporal dev server on "+s.address, func() (bool, error) {
		select {
		case <-s.exited:
			return false, fmt.Errorf("the Temporal dev server exited (%v): %s", s.err, tail(logPath))
		default:
		}
		c, err := net.DialTimeout("tcp", s.address, time.Second)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// stop ends the server and the processes it started.
func (s *devServer) stop() error {
	close(s.stopping)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		return errors.New("the bench's Temporal dev server did not stop in 20 s and was killed")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// usePrivateServer points this process, and the workers it starts, at the
// bench's own server: plain connection, no profile or credentials meant for
// another Temporal.
func usePrivateServer(address, dir string) error {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") {
			if err := os.Unsetenv(k); err != nil {
				return err
			}
		}
	}
	noProfiles := filepath.Join(dir, "temporal.toml")
	if err := os.WriteFile(noProfiles, nil, 0o600); err != nil {
		return err
	}
	for k, v := range map[string]string{"TEMPORAL_ADDRESS": address, "TEMPORAL_CONFIG_FILE": noProfiles} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
