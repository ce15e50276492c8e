package invariants_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/distributor"
)

// stackDistributor is the distributor of TestInvariantsOnTheStack: it reads
// the files the cases and the worker's loop write to the outbox folder, and
// answers into the inbox folder, which the loop reads as the worker does
// (distributor.Inbox: the ledger records each answer, then every case of its
// supply point is told). It chooses for each scenario, with that scenario's
// own random source, what a distributor may do: accept and cut on the day
// asked for or on a day no cut is allowed, reject with a code of each class,
// keep silent for a while, cancel, restore, cut after the cancellation was
// sent, write an answer twice. Only its own goroutine reads and writes the
// requests; the scenarios register and drain under mu.
type stackDistributor struct {
	outbox, inbox string

	mu        sync.Mutex
	scenarios map[string]*stackScenario // by CUPS
	draining  map[*stackScenario]bool
	read      map[string]bool // outbox files taken
	requests  map[string]*stackRequest
	due       []stackDue
	failures  []string // found outside any scenario
}

// stackRequest is a cut request as the distributor sees it.
type stackRequest struct {
	s        *stackScenario
	h        atr.Header
	planned  time.Time
	province string
	reject   string
	breach   bool

	accepted, executed, rejected bool
	executedOn                   time.Time
	fifthFile                    string // the 05's file, once written

	cancel     *atr.Header
	race       bool // the cut goes ahead before the 03 is read
	together   bool // and its 05 and 04 are left in the inbox at once
	reject04   bool
	answered04 bool
}

// stackDue is an answer to write when its moment comes.
type stackDue struct {
	at   time.Time
	q    *stackRequest
	step string // 02, 05, 04, or "again": the last answer written once more
	file string // for "again"
	body []byte
}

func newStackDistributor(dir string) *stackDistributor {
	return &stackDistributor{
		outbox: filepath.Join(dir, "outbox"), inbox: filepath.Join(dir, "inbox"),
		scenarios: map[string]*stackScenario{}, draining: map[*stackScenario]bool{},
		read: map[string]bool{}, requests: map[string]*stackRequest{},
	}
}

// register makes the distributor answer the supply points of s.
func (d *stackDistributor) register(s *stackScenario) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cu := range s.supplies() {
		d.scenarios[cu] = s
	}
}

// drain ends the silences of s's supply points: from now on the distributor
// answers what is outstanding at once.
func (d *stackDistributor) drain(s *stackScenario) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.draining[s] = true
	now := time.Now()
	for _, q := range d.requests {
		if q.s != s {
			continue
		}
		for _, step := range []string{"02", "05", "04"} {
			d.due = append(d.due, stackDue{at: now, q: q, step: step})
		}
	}
}

// run answers until ctx ends.
func (d *stackDistributor) run(ctx context.Context) {
	t := time.NewTicker(30 * time.Millisecond)
	defer t.Stop()
	for {
		d.round()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *stackDistributor) fail(s *stackScenario, format string, args ...any) {
	if s != nil {
		s.fail(format, args...)
		return
	}
	d.failures = append(d.failures, fmt.Sprintf(format, args...))
}

// round reads the outbox and writes the answers due.
func (d *stackDistributor) round() {
	d.mu.Lock()
	defer d.mu.Unlock()
	entries, err := os.ReadDir(d.outbox)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.fail(nil, "read the outbox: %v", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.Type().IsRegular() || d.read[name] {
			continue
		}
		d.read[name] = true
		body, err := os.ReadFile(filepath.Join(d.outbox, name))
		if err != nil {
			d.fail(nil, "read %s: %v", name, err)
			continue
		}
		m, err := atr.Parse(body)
		if err != nil {
			d.fail(nil, "I9: the distributor cannot read %s: %v", name, err)
			continue
		}
		s := d.scenarios[m.CUPS]
		if s == nil {
			d.fail(nil, "I9: %s is for %s, a supply point of no scenario", name, m.CUPS)
			continue
		}
		if m.From != distributor.LocalREECode || m.To != m.CUPS[2:6] || name != atr.FileName(m.Header) {
			d.fail(s, "I9: %s goes from %q to %q", name, m.From, m.To)
		}
		switch m.Kind {
		case atr.CutRequested:
			d.onRequest(s, m)
		case atr.CancelRequested:
			d.onCancel(s, m)
		default:
			d.fail(s, "I9: the retailer sent a %s (step %s)", m.Kind, m.Step)
		}
	}
	now := time.Now()
	var later []stackDue
	due := d.due
	d.due = nil
	for _, a := range due {
		if a.at.After(now) {
			later = append(later, a)
			continue
		}
		d.answer(a)
	}
	d.due = append(d.due, later...)
}

func between(r *mrand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// onRequest chooses what to do with a cut request.
func (d *stackDistributor) onRequest(s *stackScenario, m atr.Message) {
	r := s.drng
	if d.requests[m.Code] != nil {
		d.fail(s, "I8: a second 01 with the request code %s", m.Code)
		return
	}
	q := &stackRequest{s: s, h: m.Header, planned: madridDay(m.Request.PlannedDate), province: s.contracts[m.CUPS].Province}
	d.requests[m.Code] = q
	switch n := r.IntN(100); {
	case n < 55:
	case n < 65:
		q.breach = true
	case n < 73:
		q.reject = neverCutCodes[r.IntN(len(neverCutCodes))]
	case n < 80:
		q.reject = alreadyCutCodes[r.IntN(len(alreadyCutCodes))]
	default:
		q.reject = otherCodes[r.IntN(len(otherCodes))]
	}
	delay := between(r, 20*time.Millisecond, 400*time.Millisecond)
	if r.IntN(10) == 0 && !d.draining[s] {
		delay = between(r, 2*time.Second, 4*time.Second) // silent for weeks of the case's time
	}
	d.due = append(d.due, stackDue{at: time.Now().Add(delay), q: q, step: "02"})
}

// onCancel chooses what to do with a 03.
func (d *stackDistributor) onCancel(s *stackScenario, m atr.Message) {
	r := s.drng
	q := d.requests[m.Code]
	if q == nil {
		d.fail(s, "I9: a 03 for the request %s that the distributor never got", m.Code)
		return
	}
	if q.cancel != nil {
		d.fail(s, "I9: a second 03 for the request %s", m.Code)
		return
	}
	h := m.Header
	q.cancel = &h
	now := time.Now()
	delay := between(r, 20*time.Millisecond, 300*time.Millisecond)
	switch n := r.IntN(100); {
	case d.draining[s]:
	case q.executed && n < 5:
		q.reject04 = true
	case !q.executed && !q.rejected && n < 40:
		q.race, q.together = true, n < 20
		d.due = append(d.due, stackDue{at: now.Add(delay), q: q, step: "05"})
	case n < 48:
		delay = between(r, 2*time.Second, 4*time.Second)
	}
	d.due = append(d.due, stackDue{at: now.Add(delay), q: q, step: "04"})
}

// answer writes one answer if it is still to be written, and plans what
// follows it.
func (d *stackDistributor) answer(a stackDue) {
	q := a.q
	s := q.s
	r := s.drng
	now := time.Now()
	write := func(m atr.Message) {
		file, body := d.write(s, m)
		if body != nil && r.IntN(10) == 0 {
			// Written again later, as a distributor that sends a file twice.
			d.due = append(d.due, stackDue{at: now.Add(between(r, 100*time.Millisecond, time.Second)), q: q, step: "again",
				file: file, body: body})
		}
	}
	switch a.step {
	case "again":
		if _, err := os.Stat(filepath.Join(d.inbox, a.file)); err == nil {
			d.due = append(d.due, stackDue{at: now.Add(50 * time.Millisecond), q: q, step: a.step, file: a.file, body: a.body})
			return // not read yet: the distributor never overwrites its file
		}
		d.put(s, a.file, a.body)
	case "02":
		if q.accepted || q.rejected || q.executed || q.answered04 || (q.reject != "" && q.cancel != nil) {
			return
		}
		if q.reject != "" {
			write(answerTo(q.h, "02", atr.Rejected, q.planned, now, q.reject))
			q.rejected = true
			if atr.Classify(q.reject) == atr.ClassAlreadyCut {
				q.executed, q.executedOn = true, q.planned
			}
			return
		}
		write(answerTo(q.h, "02", atr.Accepted, q.planned, now, ""))
		q.accepted = true
		delay := between(r, 20*time.Millisecond, 300*time.Millisecond)
		if r.IntN(12) == 0 && !d.draining[s] {
			delay = between(r, 2*time.Second, 4*time.Second)
		}
		d.due = append(d.due, stackDue{at: now.Add(delay), q: q, step: "05"})
	case "05":
		if (!q.accepted && !q.race) || q.executed || q.rejected || q.answered04 || (q.cancel != nil && !q.race) {
			return
		}
		day := q.planned
		if q.breach {
			day = forbiddenDay(q.province, q.planned)
		}
		m := answerTo(q.h, "05", atr.Activated, day, now, "")
		write(m)
		q.executed, q.executedOn, q.fifthFile = true, day, atr.FileName(m.Header)
	case "04":
		if q.cancel == nil || q.answered04 {
			return
		}
		if q.race && !q.executed {
			d.due = append(d.due, stackDue{at: now.Add(50 * time.Millisecond), q: q, step: "04"})
			return
		}
		if q.race && !q.together {
			if _, err := os.Stat(filepath.Join(d.inbox, q.fifthFile)); err == nil {
				// The 04 waits until the inbox took the 05.
				d.due = append(d.due, stackDue{at: now.Add(50 * time.Millisecond), q: q, step: "04"})
				return
			}
		}
		if q.reject04 {
			write(answerTo(*q.cancel, "04", atr.Rejected, q.planned, now, "C2"))
		} else {
			write(answerTo(*q.cancel, "04", atr.CancelAccepted, q.planned, now, ""))
		}
		q.answered04 = true
	}
}

// write puts the answer m in the inbox and returns its file.
func (d *stackDistributor) write(s *stackScenario, m atr.Message) (string, []byte) {
	body, err := atr.Marshal(m)
	if err != nil {
		d.fail(s, "the distributor's %s %s: %v", m.Step, m.Kind, err)
		return "", nil
	}
	name := atr.FileName(m.Header)
	d.put(s, name, body)
	return name, body
}

// put writes a file into the inbox whole: a dot name first, then its own.
func (d *stackDistributor) put(s *stackScenario, name string, body []byte) {
	tmp := filepath.Join(d.inbox, "."+name+".tmp")
	if err := os.WriteFile(tmp, body, 0o640); err != nil {
		d.fail(s, "write %s: %v", name, err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(d.inbox, name)); err != nil {
		d.fail(s, "write %s: %v", name, err)
	}
}

// requestsOf says what the distributor chose for the requests of s.
func (d *stackDistributor) requestsOf(s *stackScenario) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for code, q := range d.requests {
		if q.s == s {
			out = append(out, fmt.Sprintf("%s reject %q breach %v race %v together %v 04 rejected %v (accepted %v executed %v rejected %v 04 %v)",
				code, q.reject, q.breach, q.race, q.together, q.reject04, q.accepted, q.executed, q.rejected, q.answered04))
		}
	}
	slices.Sort(out)
	return out
}

// flakySignaler is the Temporal client as the inbox tells the cases, except
// that a tenth of the first attempts fail as if the server were away: the
// answer stays undelivered in the ledger until the loop's next round
// delivers it again.
type flakySignaler struct {
	distributor.Signaler
	mu    sync.Mutex
	rng   *mrand.Rand
	tried map[string]bool
}

func (f *flakySignaler) SignalWorkflow(ctx context.Context, workflowID, runID, name string, arg any) error {
	key := workflowID
	if a, ok := arg.(activities.DistributorAnswer); ok {
		key = fmt.Sprintf("%s/%d", workflowID, a.MessageID)
	}
	f.mu.Lock()
	first := !f.tried[key]
	f.tried[key] = true
	fail := first && f.rng.IntN(10) == 0
	f.mu.Unlock()
	if fail {
		return serviceerror.NewUnavailable("the server is away for a moment")
	}
	return f.Signaler.SignalWorkflow(ctx, workflowID, runID, name, arg)
}
