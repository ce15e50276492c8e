// Package standin plays the distributor's side of the B1 process for local
// runs and tests: it reads the cut requests (01) and cancellations (03) that
// the retailer leaves in its outbox and answers them into the retailer's
// inbox as a distributor would.
//
// A 01 is accepted (02) after Options.AcceptAfter and carried out (05)
// Options.ActivateAfter later, on the day the request asked for; a CUPS in
// Options.Reject is rejected with its code instead, a CUPS in Options.Silent
// gets no answer at all, and a CUPS in Options.Breach is cut on the first
// Friday on or after the day asked for, a day on which no cut is allowed, so
// that the retailer's checks have something to find. A 03 is accepted (04)
// after Options.AcceptAfter, which stops a cut not yet carried out (its 05 is
// never written); a CUPS that Options.Reject maps to C2 gets a 04 rejection
// C2 (cannot reconnect), and a 03 for a request the stand-in never saw gets
// a 04 rejection D2 (no previous request).
//
// The stand-in never changes, moves or deletes the retailer's files. It
// writes each answer atomically (a temporary file whose name starts with "."
// in the inbox, then a rename) and keeps what it has answered and what it
// still has to answer in its own state file, so that each outbox file is
// answered once, across restarts too. A file it cannot read as a 01 or 03 is
// logged once and left alone until it changes.
package standin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
)

// Options configures the stand-in; OptionsFromEnv reads them from the
// environment.
type Options struct {
	Outbox string // the retailer's outbox, read only
	Inbox  string // the retailer's inbox, where answers are written
	State  string // the stand-in's own state file; default Outbox/.standin.json

	Poll time.Duration // how often Run looks at the outbox; default 1s
	// AcceptAfter runs from seeing a 01 or 03 to writing its 02 or 04, and
	// ActivateAfter from writing a 02 acceptance to writing the 05; zero
	// answers in the same poll. OptionsFromEnv's defaults are 5s and 15s.
	AcceptAfter, ActivateAfter time.Duration

	Reject map[string]string // CUPS → rejection code of table 27
	Silent map[string]bool   // CUPS never answered
	Breach map[string]bool   // CUPS cut on the next Friday on or after the day asked for

	Now func() time.Time // default time.Now
	Log *slog.Logger     // default slog.Default()
}

// DefaultPoll is how often Run looks at the outbox when Options.Poll is zero.
const DefaultPoll = time.Second

// StateFile is the name of the state file in the outbox when Options.State
// is empty; the leading dot keeps it out of every reader's way.
const StateFile = ".standin.json"

// CodeCannotReconnect is the rejection of a 03 that Options.Reject can ask
// for; every other code in Options.Reject rejects the 01.
const CodeCannotReconnect = "C2"

// codeNoRequest rejects a 03 for a request the stand-in never saw.
const codeNoRequest = "D2"

// Standin is a distributor stand-in over one outbox and inbox.
type Standin struct {
	o     Options
	state state
}

// state is what the stand-in has done and still has to do, saved as JSON.
type state struct {
	// Files are the outbox files looked at, by name.
	Files map[string]fileState `json:"files"`
	// Requests are the 01s seen, by request code.
	Requests map[string]*request `json:"requests"`
	// Pending are the answers still to write.
	Pending []answer `json:"pending"`
}

type fileState struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Outcome string    `json:"outcome"` // outcomeAnswered, outcomeSilent or outcomeSkipped
	Reason  string    `json:"reason,omitempty"`
}

const (
	outcomeAnswered = "answered"
	outcomeSilent   = "silent"
	outcomeSkipped  = "skipped"
)

type request struct {
	Header    atr.Header `json:"header"`
	Planned   time.Time  `json:"planned"`
	Cancelled bool       `json:"cancelled"`
	Activated bool       `json:"activated"`
}

// answer is a message to write when Due comes: a 02 or 04 acceptance, a
// rejection when Reject is set, or a 05.
type answer struct {
	Due     time.Time  `json:"due"`
	Step    string     `json:"step"`
	Reject  string     `json:"reject,omitempty"`
	To      atr.Header `json:"to"` // header of the 01 or 03 answered
	Planned time.Time  `json:"planned,omitzero"`
	Breach  bool       `json:"breach,omitempty"`
}

// New checks the options, fills in the defaults and loads the state.
func New(o Options) (*Standin, error) {
	if o.Outbox == "" || o.Inbox == "" {
		return nil, errors.New("standin: outbox and inbox are required")
	}
	if o.AcceptAfter < 0 || o.ActivateAfter < 0 || o.Poll < 0 {
		return nil, errors.New("standin: delays cannot be negative")
	}
	if o.State == "" {
		o.State = filepath.Join(o.Outbox, StateFile)
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	for _, dir := range []string{o.Outbox, o.Inbox, filepath.Dir(o.State)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("standin: %w", err)
		}
	}
	s := &Standin{o: o, state: state{Files: map[string]fileState{}, Requests: map[string]*request{}}}
	data, err := os.ReadFile(o.State)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("standin: read state: %w", err)
	default:
		if err := json.Unmarshal(data, &s.state); err != nil {
			return nil, fmt.Errorf("standin: state file %s: %w", o.State, err)
		}
		if s.state.Files == nil {
			s.state.Files = map[string]fileState{}
		}
		if s.state.Requests == nil {
			s.state.Requests = map[string]*request{}
		}
	}
	return s, nil
}

// Run answers the outbox every Options.Poll until ctx is done. A failure to
// read the outbox or write an answer is logged and tried again at the next
// poll.
func Run(ctx context.Context, o Options) error {
	s, err := New(o)
	if err != nil {
		return err
	}
	s.o.Log.Info("distributor stand-in running", "outbox", s.o.Outbox, "inbox", s.o.Inbox,
		"accept_after", s.o.AcceptAfter, "activate_after", s.o.ActivateAfter)
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	for {
		if err := s.PollOnce(); err != nil {
			s.o.Log.Warn("distributor stand-in: poll failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce reads the outbox once and writes every answer now due.
func (s *Standin) PollOnce() error {
	now := s.o.Now()
	if err := s.readOutbox(now); err != nil {
		return err
	}
	for {
		i := s.nextDue(now)
		if i < 0 {
			return nil
		}
		a := s.state.Pending[i]
		if err := s.writeAnswer(a, now); err != nil {
			return err
		}
		s.state.Pending = slices.Delete(s.state.Pending, i, i+1)
		if err := s.save(); err != nil {
			return err
		}
	}
}

// nextDue is the index of the earliest answer due by now, -1 if none.
func (s *Standin) nextDue(now time.Time) int {
	best := -1
	for i, a := range s.state.Pending {
		if !a.Due.After(now) && (best < 0 || a.Due.Before(s.state.Pending[best].Due)) {
			best = i
		}
	}
	return best
}

// readOutbox looks at every outbox file not yet answered, oldest first.
func (s *Standin) readOutbox(now time.Time) error {
	entries, err := os.ReadDir(s.o.Outbox)
	if err != nil {
		return fmt.Errorf("standin: read outbox: %w", err)
	}
	type file struct {
		name string
		info fs.FileInfo
	}
	var files []file
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		if seen, ok := s.state.Files[e.Name()]; ok {
			changed := seen.Size != info.Size() || !seen.ModTime.Equal(info.ModTime())
			if seen.Outcome != outcomeSkipped || !changed {
				continue
			}
		}
		files = append(files, file{e.Name(), info})
	}
	slices.SortFunc(files, func(a, b file) int {
		return cmp.Or(a.info.ModTime().Compare(b.info.ModTime()), strings.Compare(a.name, b.name))
	})
	changed := false
	for _, f := range files {
		outcome, reason := s.take(f.name, f.info, now)
		switch outcome {
		case outcomeSilent:
			s.o.Log.Info("distributor stand-in: request left unanswered (silent list)", "file", f.name)
		case outcomeSkipped:
			s.o.Log.Warn("distributor stand-in: outbox file skipped; it is looked at again only if it changes",
				"file", f.name, "reason", reason)
		}
		s.state.Files[f.name] = fileState{Size: f.info.Size(), ModTime: f.info.ModTime(), Outcome: outcome, Reason: reason}
		changed = true
	}
	if changed {
		return s.save()
	}
	return nil
}

// take reads one outbox file and schedules its answer.
func (s *Standin) take(name string, info fs.FileInfo, now time.Time) (outcome, reason string) {
	if info.Size() > atr.MaxSize {
		return outcomeSkipped, fmt.Sprintf("%d bytes, more than a message may have", info.Size())
	}
	data, err := os.ReadFile(filepath.Join(s.o.Outbox, name))
	if err != nil {
		return outcomeSkipped, err.Error()
	}
	m, err := atr.Parse(data)
	if err != nil {
		return outcomeSkipped, err.Error()
	}
	if s.o.Silent[m.CUPS] {
		return outcomeSilent, ""
	}
	due := now.Add(s.o.AcceptAfter)
	switch m.Kind {
	case atr.CutRequested:
		r := m.Request
		s.state.Requests[r.Code] = &request{Header: r.Header, Planned: r.PlannedDate}
		a := answer{Due: due, Step: "02", To: r.Header, Planned: r.PlannedDate, Breach: s.o.Breach[r.CUPS]}
		if code := s.o.Reject[r.CUPS]; code != "" && code != CodeCannotReconnect {
			a.Reject = code
		}
		s.state.Pending = append(s.state.Pending, a)
	case atr.CancelRequested:
		a := answer{Due: due, Step: "04", To: m.Header}
		req := s.state.Requests[m.Code]
		switch {
		case s.o.Reject[m.CUPS] == CodeCannotReconnect:
			a.Reject = CodeCannotReconnect
		case req == nil:
			a.Reject = codeNoRequest
		default:
			req.Cancelled = true
			s.state.Pending = slices.DeleteFunc(s.state.Pending, func(p answer) bool {
				return p.Step == "05" && p.To.Code == m.Code
			})
		}
		s.state.Pending = append(s.state.Pending, a)
	default:
		return outcomeSkipped, fmt.Sprintf("a %s message (step %s), not a request the distributor answers", m.Kind, m.Step)
	}
	return outcomeAnswered, ""
}

// writeAnswer writes a into the inbox and schedules what follows it.
func (s *Standin) writeAnswer(a answer, now time.Time) error {
	madrid := now.In(calendar.Madrid)
	today := calendar.Date(madrid.Date())
	h := a.To
	m := atr.Message{Header: atr.Header{
		From: h.To, To: h.From, Process: atr.ProcessB1, Step: a.Step,
		Code: h.Code, Seq: h.Seq, RequestedAt: now, CUPS: h.CUPS,
	}}
	switch {
	case a.Reject != "":
		text := atr.CodeText(a.Reject)
		if text == "" {
			text = "Rechazo " + a.Reject
		}
		m.Kind, m.Date = atr.Rejected, today
		m.Rejections = []atr.Rejection{{Seq: "01", Code: a.Reject, Comment: text}}
	case a.Step == "02":
		planned := a.Planned
		if planned.IsZero() {
			planned = today
		}
		m.Kind, m.Date, m.FieldWork = atr.Accepted, today, true
		m.LastFirmReading = today
		m.PlannedActivationType = "C0" // after field work
		m.PlannedActivation = &planned
	case a.Step == "04":
		m.Kind, m.Date, m.Time = atr.CancelAccepted, today, madrid.Format(time.TimeOnly)
	case a.Step == "05":
		cut := a.Planned
		if cut.IsZero() {
			cut = today
		}
		if a.Breach {
			cut = nextFriday(cut)
		}
		m.Kind, m.Date = atr.Activated, cut
		m.Contract = h.Code
		m.Points = []atr.MeasurePoint{{
			Code: pointCode(h.CUPS), Movement: "M", Type: "05", ReadMode: "4", Function: "P",
			// The stand-in knows no history of the point.
			ValidFrom: cut, Registered: cut,
		}}
	}
	data, err := atr.Marshal(m)
	if err != nil {
		return fmt.Errorf("standin: answer to %s: %w", h.Code, err)
	}
	name := atr.FileName(m.Header)
	if err := writeAtomic(s.o.Inbox, name, data); err != nil {
		return err
	}
	s.o.Log.Info("distributor stand-in answered", "file", name, "kind", m.Kind, "code", h.Code, "cups", h.CUPS)
	req := s.state.Requests[h.Code]
	switch {
	case m.Kind == atr.Accepted && req != nil && !req.Cancelled:
		s.state.Pending = append(s.state.Pending, answer{
			Due: now.Add(s.o.ActivateAfter), Step: "05", To: h, Planned: a.Planned, Breach: a.Breach,
		})
	case m.Kind == atr.Activated && req != nil:
		req.Activated = true
	}
	return nil
}

// nextFriday is the first Friday on or after d's day in Madrid.
func nextFriday(d time.Time) time.Time {
	y, m, day := d.In(calendar.Madrid).Date()
	t := calendar.Date(y, m, day)
	for t.Weekday() != time.Friday {
		day++
		t = calendar.Date(y, m, day)
	}
	return t
}

// pointCode is a measure point code (22 characters) for a CUPS.
func pointCode(cups string) string {
	if len(cups) == 22 {
		return cups
	}
	return cups + "0F"
}

func (s *Standin) save() error {
	data, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return fmt.Errorf("standin: state: %w", err)
	}
	return writeAtomic(filepath.Dir(s.o.State), filepath.Base(s.o.State), data)
}

// writeAtomic writes data as dir/name by way of a dot file in dir, so that a
// reader never sees half a file.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+strings.TrimPrefix(name, ".")+".*.tmp")
	if err != nil {
		return fmt.Errorf("standin: write %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("standin: write %s: %w", name, err)
	}
	return nil
}
