package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
	"testing"
	"time"
)

// Each test runs 200 cases on its own stack, lets its fault fall when half the
// domestic cases have sent aviso 2 (and, for the worker and the server, again
// when half the supply points still uncut then have been cut), drives every
// case to its end and prints one line:
//
//	FAULT <name> cases=<n> lost=<n> duplicates=<n>
//
// lost counts the cases that did not end in their stage, or that miss a
// notice, an e-mail, a payment, a cut, a reconnection, a Bono Social
// household's power limitation, a B1 message in the distributor's outbox or
// an answer of the distributor; duplicates counts the extra outbox rows,
// e-mails, distributor requests, B1 files, answers, power limitations and
// proofs of a formal notice. The driver records the proof of each case's
// formal notice, as a clerk would, once the outbox holds it. A stand-in in
// the test answers the B1 messages as the distributor would (internal/atr/standin),
// from folders of the test's own.

func TestFaultWorkerKilled(t *testing.T) {
	kill := func(ctx context.Context, s *stack) error {
		// The B1 messages the ledger committed and the worker had not yet
		// written to the outbox when it died: the outbox is out of reach
		// until the worker is dead, so that some wait unsent, and they must
		// still leave once it is back.
		if err := s.atr.takeOutboxAway(); err != nil {
			return err
		}
		s.waitUnsent(ctx, 20*time.Second)
		// The e-mails in flight when the worker dies: some reached the
		// provider whole; those held on the way never do, as when the worker
		// dies between the claim and the request leaving it.
		s.mail.startHolding()
		for deadline := time.Now().Add(5 * time.Second); s.mail.heldNow() == 0 && time.Now().Before(deadline); {
			_ = sleep(ctx, 20*time.Millisecond)
		}
		err := s.worker.stop(syscall.SIGKILL, 10*time.Second)
		s.mail.drop()
		unsent, uerr := s.unsentATR(context.Background())
		s.unsentAtKill = append(s.unsentAtKill, unsent)
		err = errors.Join(err, uerr, s.atr.bringOutboxBack())
		if err != nil {
			return err
		}
		// Timers keep firing on the server while no worker runs.
		_ = sleep(ctx, 3*time.Second)
		return s.startWorker()
	}
	runFault(t, "worker-killed", "WK", []hit{
		{when: "SIGKILL to the worker, half the domestic cases past aviso 2", ready: halfPastNotice2, do: kill},
		{when: "SIGKILL to the worker, half the remaining supply points cut", ready: halfRemainingCut, do: kill},
	})
}

func TestFaultServerRestarted(t *testing.T) {
	restart := func(sig syscall.Signal) func(ctx context.Context, s *stack) error {
		return func(ctx context.Context, s *stack) error {
			if err := s.temporal.proc.stop(sig, time.Minute); err != nil {
				return err
			}
			_ = sleep(ctx, 5*time.Second)
			// On the same database file; the worker and the clients reconnect by themselves.
			return s.temporal.start(context.Background(), s.logger)
		}
	}
	runFault(t, "server-restarted", "SR", []hit{
		{when: "SIGTERM to the Temporal server and restart, half the domestic cases past aviso 2", ready: halfPastNotice2, do: restart(syscall.SIGTERM)},
		{when: "SIGKILL to the Temporal server and restart, half the remaining supply points cut", ready: halfRemainingCut, do: restart(syscall.SIGKILL)},
	})
}

func TestFaultPostgresDown(t *testing.T) {
	runFault(t, "postgres-down", "PG", []hit{{
		when:  "Postgres stopped for 30s, half the domestic cases past aviso 2",
		ready: halfPastNotice2,
		do: func(ctx context.Context, s *stack) error {
			if err := s.pg.stop(); err != nil {
				return err
			}
			_ = sleep(ctx, 30*time.Second)
			return s.pg.start(context.Background())
		},
	}})
}

func TestFaultMailOutage(t *testing.T) {
	runFault(t, "mail-outage", "ML", []hit{{
		when:  "e-mail provider answers 500 for 45s, half the domestic cases past aviso 2",
		ready: halfPastNotice2,
		do: func(ctx context.Context, s *stack) error {
			s.mail.setFailing(true)
			defer s.mail.setFailing(false)
			_ = sleep(ctx, 45*time.Second)
			if _, refused, _ := s.mail.snapshot(); refused == 0 {
				return fmt.Errorf("no e-mail was attempted during the outage")
			}
			return nil
		},
	}})
}

// runDeadline bounds how long a run may take to bring every case to its end.
func runDeadline(t *testing.T) time.Duration {
	d := 8 * time.Minute
	if os.Getenv("IMPAGOS_FAULTS_POLICY") == "demo" {
		d = 20 * time.Minute
	}
	if v := os.Getenv("IMPAGOS_FAULTS_DEADLINE"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("IMPAGOS_FAULTS_DEADLINE=%q: %v", v, err)
		}
	}
	return d
}

// runFault starts a stack and 200 cases, drives them through the hits and
// checks the outcome.
func runFault(t *testing.T, name, prefix string, hits []hit) {
	requireFaults(t)
	deadline := runDeadline(t)
	ctx, cancel := context.WithTimeout(context.Background(), deadline+5*time.Minute)
	defer cancel()
	began := time.Now()
	s := newStack(t, ctx, name)
	all := catalogue(prefix)
	if err := s.startCases(ctx, all); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	r := newRun(s, all, hits)
	r.drive(ctx, started.Add(deadline))
	ran := time.Since(started)

	rep, err := r.check(ctx)
	if err != nil {
		t.Fatalf("checks: %v", err)
	}
	line := fmt.Sprintf("FAULT %s cases=%d lost=%d duplicates=%d", name, rep.cases, len(rep.lost), rep.duplicates)
	fmt.Println(line)
	t.Log(line)
	accepted, refused, _ := s.mail.snapshot()
	sent := 0
	for _, n := range accepted {
		sent += n
	}
	posted, queued, failedPosts, lastPostErr := s.mail.eventStats()
	t.Logf("stack up and cases started in %s; cases ran %s; %d e-mails accepted, %d answered 500",
		started.Sub(began).Round(100*time.Millisecond), ran.Round(100*time.Millisecond), sent, refused)
	t.Logf("e-mail events: %d taken by the worker's receiver, %d still queued, %d posts not taken (last: %s)",
		posted, queued, failedPosts, lastPostErr)
	t.Logf("e-mails whose sending was cut short: %d confirmed by their event, %d sent again (the provider never got them; %d requests dropped on the way)",
		rep.settled, rep.resent, s.mail.droppedCount())
	t.Logf("cut requests the ledger refused: %v; approvals given again after a refusal: %d; approvals the case refused (given before it was back under review, or twice): %d",
		rep.refusals, rep.extraApprovals, rep.refusedApprovals)
	t.Logf("distributor: %s", rep.atr)
	if len(s.unsentAtKill) > 0 {
		t.Logf("B1 messages committed and not yet in the outbox when the worker was killed: %v", s.unsentAtKill)
		sum := 0
		for _, n := range s.unsentAtKill {
			sum += n
		}
		if sum == 0 {
			t.Errorf("the worker was never killed with a B1 message unsent: the case this fault is for was not tried")
		}
	}
	if n := s.mail.droppedCount(); n > rep.resent {
		t.Errorf("%d e-mail requests never reached the provider but only %d were sent again", n, rep.resent)
	}
	r.mu.Lock()
	fired, hitErr, errs := r.fired, r.hitErr, r.errors
	r.mu.Unlock()
	for _, f := range fired {
		t.Logf("fault: %s", f)
	}
	if len(errs) > 0 {
		t.Logf("driver calls that failed and were retried: %v", errs)
	}
	if hitErr != nil {
		t.Errorf("fault: %v", hitErr)
	}
	if len(fired) < len(hits) {
		t.Errorf("only %d of %d hits of the fault fell before the run ended", len(fired), len(hits))
	}
	invoices := make([]string, 0, len(rep.lost))
	for inv := range rep.lost {
		invoices = append(invoices, inv)
	}
	sort.Strings(invoices)
	for i, inv := range invoices {
		if i == 30 {
			t.Errorf("... and %d more lost cases", len(invoices)-i)
			break
		}
		t.Errorf("lost %s: %v", inv, rep.lost[inv])
	}
	for i, p := range rep.problems {
		if i == 30 {
			t.Errorf("... and %d more problems", len(rep.problems)-i)
			break
		}
		t.Errorf("%s", p)
	}
}
