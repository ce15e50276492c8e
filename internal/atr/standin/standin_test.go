package standin

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
)

// Supply points of the tests (control letters computed from the digits).
const (
	cupsA = "ES0390412903576118RC"
	cupsB = "ES0390088120045731QJ"
	cupsC = "ES0390705316624092MP"
)

const (
	retailer    = "0762"
	distributor = "0390"
)

// clock is the stand-in's time in these tests: it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// desk is a retailer's outbox and inbox with a stand-in answering them.
type desk struct {
	t      *testing.T
	opts   Options
	clock  *clock
	logs   *bytes.Buffer
	s      *Standin
	outbox string
	inbox  string
}

// monday is when the tests start: Monday 9 March 2026, 10:20 in Madrid.
var monday = time.Date(2026, 3, 9, 10, 20, 0, 0, calendar.Madrid)

func newDesk(t *testing.T, change func(*Options)) *desk {
	t.Helper()
	dir := t.TempDir()
	d := &desk{t: t, clock: &clock{t: monday}, logs: &bytes.Buffer{},
		outbox: filepath.Join(dir, "outbox"), inbox: filepath.Join(dir, "inbox")}
	d.opts = Options{
		Outbox: d.outbox, Inbox: d.inbox,
		AcceptAfter: DefaultAcceptAfter, ActivateAfter: DefaultActivateAfter,
		Now: d.clock.Now, Log: slog.New(slog.NewTextHandler(d.logs, nil)),
	}
	if change != nil {
		change(&d.opts)
	}
	d.restart()
	return d
}

// restart starts a new stand-in over the same directories and state.
func (d *desk) restart() {
	d.t.Helper()
	s, err := New(d.opts)
	require.NoError(d.t, err)
	d.s = s
}

func (d *desk) poll() {
	d.t.Helper()
	require.NoError(d.t, d.s.PollOnce())
}

// after moves the clock on and polls.
func (d *desk) after(dur time.Duration) {
	d.t.Helper()
	d.clock.Advance(dur)
	d.poll()
}

// send writes an outbox file as the retailer does: whole, by a rename.
func (d *desk) send(name string, data []byte) {
	d.t.Helper()
	tmp := filepath.Join(d.outbox, "."+name+".tmp")
	require.NoError(d.t, os.WriteFile(tmp, data, 0o644))
	require.NoError(d.t, os.Rename(tmp, filepath.Join(d.outbox, name)))
}

func (d *desk) requestCut(code, cups string, planned time.Time) {
	d.t.Helper()
	r := atr.CutRequest{
		Header: atr.Header{From: retailer, To: distributor, Process: atr.ProcessB1, Step: "01",
			Code: code, Seq: "01", RequestedAt: d.clock.Now(), CUPS: cups},
		Activation: "F", PlannedDate: planned, Motive: atr.MotiveNonPayment,
		Customer: atr.Customer{IDType: "NI", ID: "47382915V", PersonType: "F", GivenName: "Encarnación", FirstSurname: "Ruiz"},
	}
	data, err := atr.MarshalCutRequest(r)
	require.NoError(d.t, err)
	d.send(atr.FileName(r.Header), data)
}

func (d *desk) cancel(code, cups string) {
	d.t.Helper()
	c := atr.Cancel{Header: atr.Header{From: retailer, To: distributor, Process: atr.ProcessB1, Step: "03",
		Code: code, Seq: "01", RequestedAt: d.clock.Now(), CUPS: cups}}
	data, err := atr.MarshalCancel(c)
	require.NoError(d.t, err)
	d.send(atr.FileName(c.Header), data)
}

// answers reads the inbox as the retailer does: every file but dot files.
func (d *desk) answers() map[string]atr.Message {
	d.t.Helper()
	entries, err := os.ReadDir(d.inbox)
	require.NoError(d.t, err)
	out := map[string]atr.Message{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.inbox, e.Name()))
		require.NoError(d.t, err)
		m, err := atr.Parse(data)
		require.NoError(d.t, err, "%s", e.Name())
		require.Equal(d.t, atr.FileName(m.Header), e.Name())
		out[e.Name()] = m
	}
	return out
}

// consume removes the inbox's answers, as the retailer does once read.
func (d *desk) consume() {
	d.t.Helper()
	for name := range d.answers() {
		require.NoError(d.t, os.Remove(filepath.Join(d.inbox, name)))
	}
}

// snapshot is every outbox file but the stand-in's own, with its content
// and time.
func (d *desk) snapshot() map[string]string {
	d.t.Helper()
	entries, err := os.ReadDir(d.outbox)
	require.NoError(d.t, err)
	out := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		require.NoError(d.t, err)
		data, err := os.ReadFile(filepath.Join(d.outbox, e.Name()))
		require.NoError(d.t, err)
		out[e.Name()] = info.ModTime().String() + "\n" + string(data)
	}
	return out
}

func date(y int, m time.Month, d int) time.Time { return calendar.Date(y, m, d) }

func TestCut_AcceptedThenCarriedOutOnTheDayAskedFor(t *testing.T) {
	d := newDesk(t, nil)
	tuesday := date(2026, 3, 17)
	d.requestCut("000000004187", cupsA, tuesday)
	before := d.snapshot()

	d.poll()
	require.Empty(t, d.answers(), "the fake clock has not moved: nothing is due")

	d.after(DefaultAcceptAfter)
	got := d.answers()
	require.Len(t, got, 1)
	acc := got["B1_02_000000004187_01.xml"]
	require.Equal(t, atr.Accepted, acc.Kind)
	require.Equal(t, atr.Header{From: distributor, To: retailer, Process: atr.ProcessB1, Step: "02",
		Code: "000000004187", Seq: "01", RequestedAt: monday.Add(DefaultAcceptAfter), CUPS: cupsA}, acc.Header)
	require.Equal(t, date(2026, 3, 9), acc.Date)
	require.True(t, acc.FieldWork)
	require.Equal(t, &tuesday, acc.PlannedActivation)

	d.after(DefaultActivateAfter - time.Second)
	require.Len(t, d.answers(), 1, "the 05 comes ActivateAfter after the 02")
	d.after(time.Second)
	got = d.answers()
	require.Len(t, got, 2)
	act := got["B1_05_000000004187_01.xml"]
	require.Equal(t, atr.Activated, act.Kind)
	require.Equal(t, tuesday, act.Date)
	require.Equal(t, "05", act.Step)
	require.Equal(t, distributor, act.From)

	d.after(time.Hour)
	require.Len(t, d.answers(), 2, "nothing more")
	require.Equal(t, before, d.snapshot(), "the retailer's outbox is never touched")
}

func TestRejectList_RejectsTheCutWithItsCode(t *testing.T) {
	d := newDesk(t, func(o *Options) { o.Reject = map[string]string{cupsA: "32", cupsB: "D1"} })
	d.requestCut("000000000010", cupsA, date(2026, 3, 17))
	d.requestCut("000000000011", cupsB, date(2026, 3, 17))
	d.requestCut("000000000012", cupsC, date(2026, 3, 17))
	d.poll()
	d.after(DefaultAcceptAfter)
	d.after(time.Hour)
	got := d.answers()
	require.Len(t, got, 4, "two rejections, the third accepted and carried out")
	for code, want := range map[string]string{"000000000010": "32", "000000000011": "D1"} {
		m := got["B1_02_"+code+"_01.xml"]
		require.Equal(t, atr.Rejected, m.Kind)
		require.Equal(t, []atr.Rejection{{Seq: "01", Code: want, Comment: atr.CodeText(want)}}, m.Rejections)
		require.Equal(t, atr.ClassNeverCut, atr.Classify(want))
		require.NotContains(t, got, "B1_05_"+code+"_01.xml")
	}
	require.Equal(t, atr.Accepted, got["B1_02_000000000012_01.xml"].Kind)
	require.Equal(t, atr.Activated, got["B1_05_000000000012_01.xml"].Kind)
}

func TestSilent_NeverAnswers(t *testing.T) {
	d := newDesk(t, func(o *Options) { o.Silent = map[string]bool{cupsA: true} })
	d.requestCut("000000000020", cupsA, date(2026, 3, 17))
	d.poll()
	d.after(24 * time.Hour)
	d.cancel("000000000020", cupsA)
	d.after(24 * time.Hour)
	require.Empty(t, d.answers())
	require.Equal(t, outcomeSilent, d.s.state.Files["B1_01_000000000020_01.xml"].Outcome)
	require.Equal(t, outcomeSilent, d.s.state.Files["B1_03_000000000020_01.xml"].Outcome)
}

func TestBreach_CutsOnTheNextFridayOnOrAfterTheDayAskedFor(t *testing.T) {
	d := newDesk(t, func(o *Options) { o.Breach = map[string]bool{cupsA: true, cupsB: true} })
	d.requestCut("000000000030", cupsA, date(2026, 3, 17)) // a Tuesday
	d.requestCut("000000000031", cupsB, date(2026, 3, 20)) // a Friday
	d.requestCut("000000000032", cupsC, date(2026, 3, 17)) // not listed
	d.poll()
	d.after(DefaultAcceptAfter)
	d.after(DefaultActivateAfter)
	got := d.answers()
	require.Equal(t, date(2026, 3, 20), got["B1_05_000000000030_01.xml"].Date)
	require.Equal(t, date(2026, 3, 20), got["B1_05_000000000031_01.xml"].Date)
	require.Equal(t, date(2026, 3, 17), got["B1_05_000000000032_01.xml"].Date)
	require.False(t, calendar.New().IsAllowedCutDay(got["B1_05_000000000030_01.xml"].Date))
}

func TestCancelBeforeTheCut_AcceptedAndTheCutNeverWritten(t *testing.T) {
	d := newDesk(t, nil)
	d.requestCut("000000000040", cupsA, date(2026, 3, 17))
	d.poll()
	d.after(DefaultAcceptAfter)
	require.Contains(t, d.answers(), "B1_02_000000000040_01.xml")

	d.cancel("000000000040", cupsA)
	d.poll()
	d.after(DefaultAcceptAfter)
	got := d.answers()
	acc := got["B1_04_000000000040_01.xml"]
	require.Equal(t, atr.CancelAccepted, acc.Kind)
	require.Equal(t, date(2026, 3, 9), acc.Date)
	require.Equal(t, "10:20:10", acc.Time)

	d.after(24 * time.Hour)
	require.NotContains(t, d.answers(), "B1_05_000000000040_01.xml")
	require.Len(t, d.answers(), 2)
}

func TestCancelBeforeTheAcceptance_StillAcceptedThenNoCut(t *testing.T) {
	d := newDesk(t, nil)
	d.requestCut("000000000041", cupsA, date(2026, 3, 17))
	d.poll()
	d.cancel("000000000041", cupsA)
	d.poll()
	d.after(24 * time.Hour)
	got := d.answers()
	require.Equal(t, atr.Accepted, got["B1_02_000000000041_01.xml"].Kind)
	require.Equal(t, atr.CancelAccepted, got["B1_04_000000000041_01.xml"].Kind)
	require.Len(t, got, 2)
}

func TestCancelAfterTheCut_Accepted(t *testing.T) {
	d := newDesk(t, nil)
	d.requestCut("000000000050", cupsA, date(2026, 3, 17))
	d.poll()
	d.after(DefaultAcceptAfter)
	d.after(DefaultActivateAfter)
	require.Contains(t, d.answers(), "B1_05_000000000050_01.xml")

	d.cancel("000000000050", cupsA)
	d.poll()
	d.after(DefaultAcceptAfter)
	got := d.answers()
	require.Equal(t, atr.CancelAccepted, got["B1_04_000000000050_01.xml"].Kind)
	require.True(t, d.s.state.Requests["000000000050"].Activated)
}

func TestCancelOfACUPSListedC2_RejectedC2(t *testing.T) {
	d := newDesk(t, func(o *Options) { o.Reject = map[string]string{cupsA: CodeCannotReconnect} })
	d.requestCut("000000000060", cupsA, date(2026, 3, 17))
	d.poll()
	d.after(DefaultAcceptAfter)
	d.after(DefaultActivateAfter)
	got := d.answers()
	require.Equal(t, atr.Accepted, got["B1_02_000000000060_01.xml"].Kind, "C2 is about the cancellation, not the cut")
	require.Equal(t, atr.Activated, got["B1_05_000000000060_01.xml"].Kind)

	d.cancel("000000000060", cupsA)
	d.poll()
	d.after(DefaultAcceptAfter)
	rej := d.answers()["B1_04_000000000060_01.xml"]
	require.Equal(t, atr.Rejected, rej.Kind)
	require.Equal(t, "04", rej.Step)
	require.Equal(t, "C2", rej.Rejections[0].Code)
	require.Equal(t, atr.ClassTechnical, atr.Classify(rej.Rejections[0].Code))
}

func TestCancelOfAnUnknownRequest_RejectedD2(t *testing.T) {
	d := newDesk(t, nil)
	d.cancel("000000000070", cupsA)
	d.poll()
	d.after(DefaultAcceptAfter)
	rej := d.answers()["B1_04_000000000070_01.xml"]
	require.Equal(t, atr.Rejected, rej.Kind)
	require.Equal(t, "D2", rej.Rejections[0].Code)
}

func TestRestart_AnswersNothingTwiceAndKeepsWhatIsDue(t *testing.T) {
	d := newDesk(t, nil)
	d.requestCut("000000000080", cupsA, date(2026, 3, 17))
	d.poll()
	d.after(DefaultAcceptAfter)
	require.Len(t, d.answers(), 1)
	d.consume()

	d.restart()
	d.poll()
	require.Empty(t, d.answers(), "the 01 is not answered again")
	d.after(DefaultActivateAfter)
	got := d.answers()
	require.Len(t, got, 1)
	require.Equal(t, atr.Activated, got["B1_05_000000000080_01.xml"].Kind, "the 05 due before the restart still comes")
	d.consume()

	d.restart()
	d.after(24 * time.Hour)
	require.Empty(t, d.answers())
}

func TestMalformedOutboxFile_SkippedOnceLoggedAndLeftAlone(t *testing.T) {
	d := newDesk(t, nil)
	d.send("B1_01_000000000090_01.xml", []byte("<MensajeBajaSuspension>sin terminar"))
	answer, err := os.ReadFile(filepath.Join("..", "testdata", "b1_02_accepted.xml"))
	require.NoError(t, err)
	d.send("B1_02_000000004187_01.xml", answer) // an answer in the wrong box
	before := d.snapshot()
	for range 3 {
		d.after(time.Hour)
	}
	require.Empty(t, d.answers())
	require.Equal(t, 2, strings.Count(d.logs.String(), "outbox file skipped"), "%s", d.logs)
	require.Contains(t, d.logs.String(), "B1_01_000000000090_01.xml")
	require.Contains(t, d.logs.String(), "not a request")
	require.Equal(t, before, d.snapshot())

	d.restart()
	d.after(time.Hour)
	require.Equal(t, 2, strings.Count(d.logs.String(), "outbox file skipped"), "not retried after a restart either")

	// Once the retailer writes the file whole, it is answered.
	d.requestCut("000000000090", cupsA, date(2026, 3, 17))
	path := filepath.Join(d.outbox, "B1_01_000000000090_01.xml")
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(path, later, later))
	d.poll()
	d.after(DefaultAcceptAfter)
	require.Equal(t, atr.Accepted, d.answers()["B1_02_000000000090_01.xml"].Kind)
}

func TestAnswers_WrittenWithoutTemporaryFilesLeftBehind(t *testing.T) {
	d := newDesk(t, func(o *Options) { o.AcceptAfter, o.ActivateAfter = 0, 0 })
	d.requestCut("000000000100", cupsA, date(2026, 3, 17))
	d.poll()
	entries, err := os.ReadDir(d.inbox)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"B1_02_000000000100_01.xml", "B1_05_000000000100_01.xml"}, names)
	_, err = os.Stat(filepath.Join(d.outbox, StateFile))
	require.NoError(t, err, "the state is kept in the outbox by default")
}

func TestNew_RefusesAStateFileItCannotRead(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	require.NoError(t, os.WriteFile(state, []byte("{"), 0o644))
	_, err := New(Options{Outbox: filepath.Join(dir, "out"), Inbox: filepath.Join(dir, "in"), State: state})
	require.ErrorContains(t, err, "state.json")
	_, err = New(Options{Outbox: dir})
	require.Error(t, err)
	_, err = New(Options{Outbox: dir, Inbox: dir, AcceptAfter: -time.Second})
	require.Error(t, err)
}

// syncBuffer is a log destination the stand-in's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestRun_AnswersOnItsOwnUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	outbox, inbox := filepath.Join(dir, "outbox"), filepath.Join(dir, "inbox")
	require.NoError(t, os.MkdirAll(outbox, 0o755))
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Outbox: outbox, Inbox: inbox, Poll: 10 * time.Millisecond,
			Log: slog.New(slog.NewTextHandler(logs, nil))})
	}()

	d := &desk{t: t, clock: &clock{t: time.Now()}, outbox: outbox, inbox: inbox}
	d.requestCut("000000000110", cupsA, date(2026, 3, 17))
	// Generous: the stand-in polls every 10 ms, but a loaded machine may be slow.
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(inbox, "B1_05_000000000110_01.xml"))
		return err == nil
	}, 60*time.Second, 20*time.Millisecond)
	require.Len(t, d.answers(), 2)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not stop when its context was cancelled")
	}
}
