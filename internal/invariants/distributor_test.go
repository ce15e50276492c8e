package invariants_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// The distributor as one more actor of the scenarios: it reads the B1
// messages the ledger committed, and answers them as it chooses, when it
// chooses (accepts and cuts on the day asked for or on a day no cut is
// allowed, rejects with a code of each class, stays silent past the bound,
// cancels, restores, cuts after a cancellation was sent), and its answers
// reach the cases late, twice, or only when the worker delivers them again.

// Rejection codes of CNMC table 27 by what the retailer does about them.
var (
	neverCutCodes   = []string{"32", "34", "83", "D1", "G4"}
	alreadyCutCodes = []string{"12", "35"}
	otherCodes      = []string{"C4", "64", "B7", "01", "21", "28"}
)

// answerTo is the distributor's answer of kind, at step, to the request or
// cancellation h, written at `at` with its date (FechaAceptacion,
// FechaRechazo or FechaActivacion): the fields internal/atr/standin fills in,
// which the schema requires.
func answerTo(h atr.Header, step string, kind atr.Kind, date, at time.Time, rejection string) atr.Message {
	m := atr.Message{
		Header: atr.Header{From: h.To, To: h.From, Process: atr.ProcessB1, Step: step, Code: h.Code, Seq: h.Seq,
			RequestedAt: at, CUPS: h.CUPS},
		Kind: kind, Date: date,
	}
	switch kind {
	case atr.Rejected:
		text := atr.CodeText(rejection)
		if text == "" {
			text = "Rechazo " + rejection
		}
		m.Rejections = []atr.Rejection{{Seq: "01", Code: rejection, Comment: text}}
	case atr.Accepted:
		planned := date
		m.PlannedActivation, m.FieldWork = &planned, true
		m.LastFirmReading, m.PlannedActivationType = date, "C0" // after field work
	case atr.CancelAccepted:
		m.Time = at.In(calendar.Madrid).Format(time.TimeOnly)
	case atr.Activated:
		point := h.CUPS
		if len(point) == 20 {
			point += "0F"
		}
		m.Contract = h.Code
		m.Points = []atr.MeasurePoint{{Code: point, Movement: "M", Type: "05", ReadMode: "4", Function: "P",
			ValidFrom: date, Registered: date}}
	}
	return m
}

// forbiddenDay is the first day on or after day that is no allowed cut day
// in the province: the day a distributor in breach cuts.
func forbiddenDay(province string, day time.Time) time.Time {
	cal, _ := calendar.ForProvince(province, calendar.Extra{})
	d := calendar.Date(day.In(calendar.Madrid).Date())
	for cal.IsAllowedCutDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// madridDay is the day of t in Madrid, at midnight.
func madridDay(t time.Time) time.Time { return calendar.Date(t.In(calendar.Madrid).Date()) }

// silence is how long a silent distributor keeps quiet: well past every bound
// a case waits for it (5 working days for a 02 or 04, 2 after the day
// announced for a 05, the next day for a reconnection).
const (
	silenceFrom = 21 * 24 * time.Hour
	silenceTo   = 40 * 24 * time.Hour
	// silenceSeen is the wait after which the case must show NeedsAttention.
	silenceSeen = 20 * 24 * time.Hour
)

// errFolderDown is the distributor's folder unreachable for a while.
var errFolderDown = errors.New("the distributor's folder is not reachable")

// distributorActor is the distributor of one scenario of TestInvariants. It
// is the activities' Distributor (the messages a case sends reach it), or,
// in some scenarios, it reads what the ledger holds unsent as the worker's
// loop does. It answers by recording its file in the ledger
// (store.RecordATRAnswer) and telling the case (signal distributor), as the
// worker's inbox does. Send runs in the activities' goroutines; everything
// else runs in the test environment's callbacks.
type distributorActor struct {
	s    *scenario
	wire bool // the activities hand it the messages; false: it sweeps the ledger

	mu                  sync.Mutex
	received            map[string][]byte // by file name, as handed over
	arrivals            []string
	downFrom, downUntil time.Time

	taken    int
	requests map[string]*distRequest // by request code
	draining bool
	answered int // answers recorded
}

// distRequest is a cut request as the distributor sees it.
type distRequest struct {
	h         atr.Header
	planned   time.Time
	seen      time.Time // when it read the 01
	behaviour string
	reject    string // the code a rejection gives
	breach    bool   // cuts on a day no cut is allowed
	silent02  bool
	silent05  bool

	accepted, executed, rejected bool
	acceptedAt                   time.Time
	executedOn                   time.Time

	cancel     *atr.Header // the 03, once read
	cancelSeen time.Time
	silent04   bool
	race       bool // cuts after the 03 was sent, then answers it
	reject04   bool
	answered04 bool
}

// Behaviours of the distributor towards a cut request.
const (
	behaveExecute   = "execute"   // 02 acceptance, then 05 on the day asked for
	behaveBreach    = "breach"    // 02 acceptance, then 05 on a day no cut is allowed
	behaveDirect    = "direct_05" // 05 with no 02 before it
	behaveNeverCut  = "never_cut" // 02 rejection 32, 34, 83, D1 or G4
	behaveAlready   = "already"   // 02 rejection 12 or 35
	behaveOtherNo   = "other"     // 02 rejection of another code
	deliverNormally = "normal"    // the answer reaches the case once
	deliverTwice    = "twice"     // the case is told twice
	deliverReread   = "reread"    // the inbox reads the file twice
	deliverLate     = "late"      // recorded, told only when delivered again later
)

func newDistributorActor(s *scenario) *distributorActor {
	d := &distributorActor{s: s, wire: s.rng.IntN(4) != 0, received: map[string][]byte{}, requests: map[string]*distRequest{}}
	if s.rng.IntN(5) == 0 {
		from := s.someTime(0, 300)
		d.downFrom, d.downUntil = from, from.Add([]time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour}[s.rng.IntN(3)])
	}
	return d
}

// distributor is what the activities send by: the actor itself, or nil when
// the worker's loop carries the messages.
func (d *distributorActor) distributor() activities.Distributor {
	if d.wire {
		return d
	}
	return nil
}

// Send takes a message a case hands over, unless the folder is down.
func (d *distributorActor) Send(_ context.Context, m activities.DistributorMessage) error {
	now := d.s.env.Now()
	if !now.Before(d.downFrom) && now.Before(d.downUntil) {
		return errFolderDown
	}
	d.take(m)
	return nil
}

// take keeps a message: the same file again is the same message, and a file
// of the same name with other bytes is a message the ledger changed.
func (d *distributorActor) take(m activities.DistributorMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.received[m.FileName]; ok {
		if !bytes.Equal(old, m.Body) {
			d.s.t.Errorf("seed %d: I9: %s handed over twice with different bytes", d.s.seed, m.FileName)
		}
		return
	}
	d.received[m.FileName] = m.Body
	d.arrivals = append(d.arrivals, m.FileName)
}

// sweep hands over what the ledger holds unsent of this scenario's supply
// point, as the worker's loop does: read, send, mark sent.
func (d *distributorActor) sweep() {
	ctx := context.Background()
	if d.s.l.away() != nil {
		return // the loop tries again at its next round
	}
	msgs, err := d.s.l.Store.UnsentATR(ctx, 0)
	if err != nil {
		d.s.t.Fatal(err)
	}
	for _, m := range msgs {
		parsed, err := atr.Parse(m.Body)
		if err != nil {
			d.s.t.Errorf("seed %d: I9: the ledger holds %s unsent and it does not parse: %v", d.s.seed, m.FileName, err)
			continue
		}
		if parsed.CUPS != d.s.in.Cups {
			continue // another scenario's
		}
		d.take(m)
		if err := d.s.l.Store.MarkATRSent(ctx, m.ID); err != nil {
			d.s.t.Fatal(err)
		}
	}
}

// poll reads what arrived since the last poll and plans the answers.
func (d *distributorActor) poll() {
	if !d.wire {
		d.sweep()
	}
	d.mu.Lock()
	names := slices.Clone(d.arrivals[d.taken:])
	d.taken = len(d.arrivals)
	bodies := make([][]byte, len(names))
	for i, n := range names {
		bodies[i] = d.received[n]
	}
	d.mu.Unlock()
	for i, name := range names {
		m, err := atr.Parse(bodies[i])
		if err != nil {
			d.s.t.Errorf("seed %d: I9: the distributor cannot read %s: %v", d.s.seed, name, err)
			continue
		}
		if name != atr.FileName(m.Header) {
			d.s.t.Errorf("seed %d: I9: file %s holds the message %s", d.s.seed, name, atr.FileName(m.Header))
		}
		if m.From != distributor.LocalREECode || m.To != d.s.in.Cups[2:6] || m.CUPS != d.s.in.Cups {
			d.s.t.Errorf("seed %d: I9: %s goes from %q to %q for %s", d.s.seed, name, m.From, m.To, m.CUPS)
		}
		switch m.Kind {
		case atr.CutRequested:
			d.onRequest(m)
		case atr.CancelRequested:
			d.onCancel(m)
		default:
			d.s.t.Errorf("seed %d: I9: the retailer sent a %s (step %s)", d.s.seed, m.Kind, m.Step)
		}
	}
}

func (d *distributorActor) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(d.s.rng.Int64N(int64(hi-lo)))
}

// onRequest chooses what to do with a cut request.
func (d *distributorActor) onRequest(m atr.Message) {
	s, r := d.s, d.s.rng
	now := s.env.Now()
	if _, ok := d.requests[m.Code]; ok {
		s.t.Errorf("seed %d: I8: a second 01 with the request code %s", s.seed, m.Code)
		return
	}
	q := &distRequest{h: m.Header, planned: madridDay(m.Request.PlannedDate), seen: now}
	d.requests[m.Code] = q
	switch n := r.IntN(100); {
	case n < 45:
		q.behaviour = behaveExecute
	case n < 53:
		q.behaviour, q.breach = behaveBreach, true
	case n < 58:
		q.behaviour = behaveDirect
	case n < 68:
		q.behaviour, q.reject = behaveNeverCut, neverCutCodes[r.IntN(len(neverCutCodes))]
	case n < 76:
		q.behaviour, q.reject = behaveAlready, alreadyCutCodes[r.IntN(len(alreadyCutCodes))]
	default:
		q.behaviour, q.reject = behaveOtherNo, otherCodes[r.IntN(len(otherCodes))]
	}
	q.silent02 = r.IntN(10) == 0
	q.silent05 = !q.silent02 && r.IntN(10) == 0
	when := now.Add(d.between(time.Hour, 48*time.Hour))
	if q.silent02 && !d.draining {
		when = now.Add(d.between(silenceFrom, silenceTo))
	}
	s.at(when, func() { d.step02(q) })
}

// onCancel chooses what to do with a 03: the cancellation of a request not
// carried out, or the restoring of a supply cut.
func (d *distributorActor) onCancel(m atr.Message) {
	s, r := d.s, d.s.rng
	now := s.env.Now()
	q := d.requests[m.Code]
	if q == nil {
		s.t.Errorf("seed %d: I9: a 03 for the request %s that the distributor never got", s.seed, m.Code)
		return
	}
	if q.cancel != nil {
		s.t.Errorf("seed %d: I9: a second 03 for the request %s", s.seed, m.Code)
		return
	}
	h := m.Header
	q.cancel, q.cancelSeen = &h, now
	delay := d.between(time.Hour, 24*time.Hour)
	switch n := r.IntN(100); {
	case d.draining:
	case q.executed && n < 4:
		q.reject04 = true // cannot reconnect (C2): a person must see to it
	case n < 12:
		q.silent04 = true
		delay = d.between(silenceFrom, silenceTo)
	case !q.executed && !q.rejected && n < 40:
		// The cut goes ahead before the distributor reads the cancellation.
		q.race = true
		s.at(now.Add(d.between(30*time.Minute, 6*time.Hour)), func() { d.step05(q) })
		delay += 6 * time.Hour
	case q.reject == "" && !q.accepted && !q.executed && n < 60:
		// Its acceptance was on its way.
		s.at(now.Add(d.between(time.Minute, time.Hour)), func() { d.write02(q, false) })
	}
	s.at(now.Add(delay), func() { d.step04(q) })
}

// step02 answers the cut request: acceptance (and the cut to follow), or a
// rejection. A rejection still pending when the 03 came is not written: the
// distributor answers the cancellation instead.
func (d *distributorActor) step02(q *distRequest) {
	if q.accepted || q.rejected || q.executed || q.answered04 {
		return
	}
	if q.reject != "" && q.cancel != nil {
		return
	}
	if !d.ledgerUp(func() { d.step02(q) }) {
		return
	}
	d.expectAttention(q, "02", q.seen)
	switch {
	case q.reject != "":
		d.write02(q, true)
	case q.behaviour == behaveDirect:
		d.step05(q)
	default:
		d.write02(q, false)
	}
}

// write02 records the acceptance or rejection of a cut request, and plans the
// cut after an acceptance.
func (d *distributorActor) write02(q *distRequest, reject bool) {
	if q.accepted || q.rejected || q.executed || q.answered04 {
		return
	}
	s := d.s
	now := s.env.Now()
	today := madridDay(now)
	if reject {
		d.write(answerTo(q.h, "02", atr.Rejected, today, now, q.reject))
		q.rejected = true
		if atr.Classify(q.reject) == atr.ClassAlreadyCut {
			q.executed, q.executedOn = true, today
		}
		return
	}
	d.write(answerTo(q.h, "02", atr.Accepted, q.planned, now, ""))
	q.accepted, q.acceptedAt = true, now
	when := q.planned.Add(d.between(9*time.Hour, 18*time.Hour))
	if soon := now.Add(d.between(time.Hour, 12*time.Hour)); soon.After(when) {
		when = soon
	}
	if q.silent05 && !d.draining {
		when = now.Add(d.between(silenceFrom, silenceTo))
	}
	s.at(when, func() { d.step05(q) })
}

// step05 cuts: on the day asked for, or in breach on the first day no cut is
// allowed from it, and says so (05). A cancellation read before stops it,
// unless the cut went ahead (race).
func (d *distributorActor) step05(q *distRequest) {
	if q.executed || q.rejected || q.answered04 || (q.cancel != nil && !q.race) {
		return
	}
	if !d.ledgerUp(func() { d.step05(q) }) {
		return
	}
	s := d.s
	now := s.env.Now()
	day := q.planned
	if q.breach {
		day = forbiddenDay(s.k.Province, q.planned)
	}
	if at := day.Add(8 * time.Hour); now.Before(at) {
		s.at(at.Add(d.between(0, 8*time.Hour)), func() { d.step05(q) })
		return
	}
	if q.accepted {
		d.expectAttention(q, "05", q.acceptedAt)
	}
	d.write(answerTo(q.h, "05", atr.Activated, day, now, ""))
	q.executed, q.executedOn = true, day
}

// step04 answers the 03: accepted (the request cancelled, or the supply
// restored), or refused as impossible to reconnect (C2).
func (d *distributorActor) step04(q *distRequest) {
	if q.answered04 {
		return
	}
	s := d.s
	if q.race && !q.executed {
		s.at(s.env.Now().Add(2*time.Hour), func() { d.step04(q) })
		return
	}
	if !d.ledgerUp(func() { d.step04(q) }) {
		return
	}
	now := s.env.Now()
	d.expectAttention(q, "04", q.cancelSeen)
	if q.reject04 && q.executed {
		d.write(answerTo(*q.cancel, "04", atr.Rejected, madridDay(now), now, "C2"))
	} else {
		d.write(answerTo(*q.cancel, "04", atr.CancelAccepted, madridDay(now), now, ""))
	}
	q.answered04 = true
}

// ledgerUp reports whether the ledger answers; when it does not, the inbox
// reads the file again later, and so does the distributor's step.
func (d *distributorActor) ledgerUp(again func()) bool {
	if d.s.l.away() == nil {
		return true
	}
	d.s.at(d.s.env.Now().Add(30*time.Minute), again)
	return false
}

// expectAttention holds I10: a case that has waited for this answer past its
// bound shows NeedsAttention.
func (d *distributorActor) expectAttention(q *distRequest, step string, since time.Time) {
	s := d.s
	if s.env.Now().Sub(since) < silenceSeen {
		return
	}
	st := s.state()
	waiting := false
	switch step {
	case "02", "05":
		want := activities.RequestSent
		if step == "05" {
			want = activities.RequestAccepted
		}
		waiting = st.Stage == workflows.StageCutRequested && st.Request != nil && st.Request.Code == q.h.Code && st.Request.Status == want
	case "04":
		waiting = (st.Stage == workflows.StageCutCancelRequested || st.Stage == workflows.StageReconnectRequested) &&
			st.Release != nil && st.Release.Code == q.h.Code && st.Release.Status == activities.RequestSent
	}
	if waiting && st.Attention == "" {
		s.t.Errorf("seed %d: I10: the case has waited %s for the %s of request %s in %s without NeedsAttention",
			s.seed, s.env.Now().Sub(since).Round(time.Hour), step, q.h.Code, st.Stage)
	}
	if waiting {
		d.s.silences++
	}
}

// write records an answer in the ledger, as the inbox does, and tells the case.
func (d *distributorActor) write(m atr.Message) {
	s := d.s
	body, err := atr.Marshal(m)
	if err != nil {
		s.t.Fatalf("seed %d: the distributor's %s %s: %v", s.seed, m.Step, m.Kind, err)
	}
	name := atr.FileName(m.Header)
	dl, err := s.l.recordAnswer(context.Background(), name, body)
	if err != nil {
		s.t.Errorf("seed %d: I9: the ledger refuses the distributor's %s: %v", s.seed, name, err)
		return
	}
	d.answered++
	how := deliverNormally
	if !d.draining {
		how = []string{deliverNormally, deliverNormally, deliverNormally, deliverNormally, deliverNormally,
			deliverTwice, deliverReread, deliverLate}[s.rng.IntN(8)]
	}
	switch how {
	case deliverLate:
		// Recorded, and the worker stopped before it told the case: the next
		// round delivers it, or the case asks the ledger past its bound.
		s.at(s.env.Now().Add(d.between(time.Hour, 8*24*time.Hour)), d.redeliver)
		return
	case deliverReread:
		again, err := s.l.recordAnswer(context.Background(), name, body)
		if err != nil || !again.Duplicate || again.Answer.MessageID != dl.Answer.MessageID {
			s.t.Errorf("seed %d: I9: %s read again: duplicate %v, message %d then %d, %v",
				s.seed, name, again.Duplicate, dl.Answer.MessageID, again.Answer.MessageID, err)
		}
		d.deliver(dl)
		d.deliver(again)
		return
	case deliverTwice:
		d.deliver(dl)
	}
	d.deliver(dl)
}

// deliver tells the case of an answer, as the inbox does, and records it
// delivered.
func (d *distributorActor) deliver(dl store.ATRDelivery) {
	s := d.s
	if id := workflows.WorkflowID(s.in.Invoice); !slices.Contains(dl.WorkflowIDs, id) {
		s.t.Errorf("seed %d: I9: the answer %s would not reach %s (cases %v)", s.seed, dl.Answer.File, id, dl.WorkflowIDs)
	}
	if !s.state().Stage.Closed() {
		s.env.SignalWorkflow(workflows.SignalDistributor, dl.Answer)
	}
	if err := s.l.Store.MarkATRDelivered(context.Background(), dl.Answer.MessageID); err != nil {
		s.t.Fatal(err)
	}
}

// redeliver tells the case of every answer the ledger recorded for it and has
// not delivered, as the worker's loop does each round.
func (d *distributorActor) redeliver() {
	if !d.ledgerUp(d.redeliver) {
		return
	}
	undelivered, err := d.s.l.Store.UndeliveredATR(context.Background())
	if err != nil {
		d.s.t.Fatal(err)
	}
	id := workflows.WorkflowID(d.s.in.Invoice)
	for _, dl := range undelivered {
		if slices.Contains(dl.WorkflowIDs, id) {
			d.deliver(dl)
		}
	}
}

// drain ends the distributor's silences: from now on it answers everything
// outstanding at once, and delivers what it left undelivered.
func (d *distributorActor) drain() {
	d.draining = true
	s := d.s
	now := s.env.Now()
	for _, q := range d.requests {
		q.silent05 = false
		s.at(now.Add(time.Hour), func() { d.step02(q) })
		if q.accepted {
			s.at(now.Add(2*time.Hour), func() { d.step05(q) })
		}
		if q.cancel != nil {
			s.at(now.Add(3*time.Hour), func() { d.step04(q) })
		}
	}
	s.at(now.Add(4*time.Hour), d.redeliver)
}

// String says what the distributor did, for a failure's message.
func (q *distRequest) String() string {
	return fmt.Sprintf("%s %s (silent 02 %v, 05 %v, 04 %v; race %v)", q.h.Code, q.behaviour, q.silent02, q.silent05, q.silent04, q.race)
}

// requestsText says what the distributor chose for each request.
func (d *distributorActor) requestsText() []string {
	var out []string
	for _, q := range d.requests {
		out = append(out, q.String())
	}
	slices.Sort(out)
	return out
}
