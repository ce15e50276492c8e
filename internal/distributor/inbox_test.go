package distributor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// The retailer and the distributor of the tests' supply points (cups.Make(21, n)).
const (
	us   = "0999"
	them = "0021"
)

// signaled is one signal the fake Temporal took.
type signaled struct {
	WorkflowID, RunID, Name string
	Answer                  activities.DistributorAnswer
}

// signals is a Signaler that records every signal; fail answers for a
// workflow id with an error instead.
type signals struct {
	mu   sync.Mutex
	got  []signaled
	fail map[string]error
}

func (s *signals) SignalWorkflow(_ context.Context, workflowID, runID, name string, arg any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[workflowID]; err != nil {
		return err
	}
	s.got = append(s.got, signaled{workflowID, runID, name, arg.(activities.DistributorAnswer)})
	return nil
}

func (s *signals) take() []signaled {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	return out
}

// ledger opens a store on a migrated schema of the test's own.
func ledger(t *testing.T) *store.Store {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: needs IMPAGOS_INTEGRATION=1 and Postgres")
	}
	db, done, err := store.OpenIsolated(context.Background(), engine.FromEnv().DatabaseURL, "distributor_test")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, done()) })
	return db
}

func newInbox(t *testing.T) (*Inbox, *store.Store, *signals) {
	db := ledger(t)
	sig := &signals{fail: map[string]error{}}
	return &Inbox{Dir: filepath.Join(t.TempDir(), "inbox"), Store: db, Signaler: sig}, db, sig
}

// requestCut opens the case of invoice on supply point n and has the ledger
// ask the distributor to cut it (B1 01), or join the cut in force there.
func requestCut(t *testing.T, db *store.Store, invoice string, n int64) (activities.CaseRef, activities.DistributorState) {
	t.Helper()
	ctx := context.Background()
	supply := cups.Make(21, n)
	c := activities.CaseRef{WorkflowID: workflows.WorkflowID(invoice), RunID: "run-1", Invoice: invoice,
		Customer: "Ana García López", Cups: supply, Stage: "cut_review", AmountDueCents: 4200}
	require.NoError(t, db.UpsertContract(ctx, activities.Contract{Customer: "Ana García López", TaxID: "12345678Z",
		Cups: supply, Segment: activities.SegmentDomestic, Phone: "+34600000000", Email: "ana@example.com", Province: "Madrid"}))
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 4200,
		ReturnedAt: time.Date(2026, 3, 2, 10, 0, 0, 0, calendar.Madrid)})
	require.NoError(t, err)
	res, err := db.RequestCut(ctx, activities.CutInput{Case: c, ApprovedBy: "rocio",
		At: time.Date(2026, 6, 9, 9, 0, 0, 0, calendar.Madrid), ATR: true, From: us})
	require.NoError(t, err)
	require.NotNil(t, res.Request, "the cut is asked for with a B1 message")
	return c, *res.Request
}

// rejection is the distributor's 02 refusing the cut request, as the file
// it would leave in the inbox.
func rejection(t *testing.T, c activities.CaseRef, req activities.DistributorState, code string) (string, []byte) {
	t.Helper()
	h := atr.Header{From: them, To: us, Process: atr.ProcessB1, Step: "02", Code: req.Code, Seq: "01",
		RequestedAt: time.Date(2026, 6, 9, 12, 30, 0, 0, calendar.Madrid), CUPS: c.Cups}
	body, err := atr.Marshal(atr.Message{Header: h, Kind: atr.Rejected, Date: time.Date(2026, 6, 9, 0, 0, 0, 0, calendar.Madrid),
		Rejections: []atr.Rejection{{Seq: "01", Code: code, Comment: "No se puede atender la solicitud"}}})
	require.NoError(t, err)
	return atr.FileName(h), body
}

// drop leaves a file in the inbox folder, as the distributor would.
func drop(t *testing.T, in *Inbox, name string, body []byte) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(in.Dir, 0o750))
	path := filepath.Join(in.Dir, name)
	require.NoError(t, os.WriteFile(path, body, 0o640))
	return path
}

func delivered(t *testing.T, db *store.Store, msgID int64) bool {
	t.Helper()
	var ok bool
	require.NoError(t, db.Pool().QueryRow(context.Background(),
		`SELECT delivered_at IS NOT NULL FROM atr_messages WHERE id = $1 AND direction = 'in'`, msgID).Scan(&ok))
	return ok
}

// An answer is recorded, its file moved to processed/, and every case of the
// cut is told, then the answer is marked delivered.
func TestScanRecordsMovesAndTellsEveryCaseOfTheCut(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	first, req := requestCut(t, db, "F-1", 1)
	second, joined := requestCut(t, db, "F-2", 1) // the same supply point: joins the cut
	require.Equal(t, req.RequestID, joined.RequestID)
	name, body := rejection(t, first, req, "ZZ")
	drop(t, in, name, body)

	results, err := in.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, results, 1)
	r := results[0]
	require.Equal(t, Processed, r.Outcome)
	require.Equal(t, name, r.File)
	require.Equal(t, filepath.Join(in.Dir, ProcessedDir, name), r.Path)
	require.Equal(t, string(body), read(t, r.Path))
	require.NoFileExists(t, filepath.Join(in.Dir, name))

	got := sig.take()
	require.Len(t, got, 2)
	var ids []string
	for _, s := range got {
		ids = append(ids, s.WorkflowID)
		require.Equal(t, workflows.SignalDistributor, s.Name)
		require.Empty(t, s.RunID, "the case's current run")
		require.Equal(t, r.Delivery.Answer, s.Answer)
	}
	require.ElementsMatch(t, []string{first.WorkflowID, second.WorkflowID}, ids)
	a := r.Delivery.Answer
	require.NotZero(t, a.MessageID)
	require.Equal(t, name, a.File)
	require.Equal(t, "02", a.Step)
	require.Equal(t, string(atr.Rejected), a.Kind)
	require.Equal(t, activities.RequestRejected, a.Request.Status)
	require.Equal(t, req.RequestID, a.Request.RequestID)
	require.True(t, delivered(t, db, a.MessageID))

	results, err = in.Scan(ctx)
	require.NoError(t, err)
	require.Empty(t, results, "the file is read once")
	require.Empty(t, sig.take())
}

// A crash after the ledger recorded the answer and before its file was moved
// reads the file again: a duplicate, moved and told again with the same
// MessageID, which the cases apply once.
func TestScanAfterACrashReadsTheFileAsADuplicate(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 2)
	name, body := rejection(t, c, req, "ZZ")
	path := drop(t, in, name, body)
	first, err := db.RecordATRAnswer(ctx, name, body) // then the worker died
	require.NoError(t, err)
	require.False(t, delivered(t, db, first.Answer.MessageID))

	results, err := in.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, Duplicate, results[0].Outcome)
	require.Equal(t, first.Answer.MessageID, results[0].Delivery.Answer.MessageID)
	require.NoFileExists(t, path)
	require.FileExists(t, filepath.Join(in.Dir, ProcessedDir, name))
	got := sig.take()
	require.Len(t, got, 1)
	require.Equal(t, c.WorkflowID, got[0].WorkflowID)
	require.Equal(t, first.Answer.MessageID, got[0].Answer.MessageID)
	require.True(t, delivered(t, db, first.Answer.MessageID))
	var n int
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT count(*) FROM atr_messages WHERE direction = 'in'`).Scan(&n))
	require.Equal(t, 1, n, "recorded once")
}

// The distributor's file left again after it was processed, byte for byte,
// is the same file: it is not kept twice.
func TestScanDropsAFileProcessedBefore(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 3)
	name, body := rejection(t, c, req, "ZZ")
	drop(t, in, name, body)
	_, err := in.Scan(ctx)
	require.NoError(t, err)
	sig.take()

	drop(t, in, name, body)
	results, err := in.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, Duplicate, results[0].Outcome)
	require.Equal(t, []string{name}, names(t, filepath.Join(in.Dir, ProcessedDir)))
	require.Len(t, sig.take(), 1)
}

// A file the ledger refuses is kept for a person: recorded with the reason,
// moved to rejected/ with NAME.reason beside it. No case is told.
func TestScanRejectsAFileTheLedgerRefuses(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 4)
	unknown := req
	unknown.Code = "000000099999"
	strange, strangeBody := rejection(t, c, unknown, "ZZ")
	drop(t, in, strange, strangeBody)
	drop(t, in, "respuesta.xml", []byte("<MensajeRechazo>no es un B1"))

	results, err := in.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, results, 2)
	for _, r := range results {
		require.Equal(t, Rejected, r.Outcome, r.File)
		require.NotEmpty(t, r.Reason, r.File)
		require.Equal(t, filepath.Join(in.Dir, RejectedDir, r.File), r.Path)
		require.FileExists(t, r.Path)
		require.Equal(t, r.Reason+"\n", read(t, r.Path+".reason"))
		require.NoFileExists(t, filepath.Join(in.Dir, r.File))
	}
	require.Equal(t, strange, results[0].File, "name order")
	require.Contains(t, results[0].Reason, "CodigoDeSolicitud")
	require.Contains(t, results[0].Reason, "000000099999")
	require.Equal(t, "respuesta.xml", results[1].File)
	require.Empty(t, sig.take())

	rows, err := db.Pool().Query(ctx, `SELECT file_name, reason FROM atr_rejected_files ORDER BY file_name`)
	require.NoError(t, err)
	defer rows.Close()
	var kept []string
	for rows.Next() {
		var f, reason string
		require.NoError(t, rows.Scan(&f, &reason))
		kept = append(kept, f+": "+reason)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		results[0].File + ": " + results[0].Reason,
		results[1].File + ": " + results[1].Reason,
	}, kept)
	var status string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT status FROM distributor_requests WHERE id = $1`, req.RequestID).Scan(&status))
	require.Equal(t, activities.RequestSent, status, "nothing of a refused file is applied")
}

func TestScanRefusesAFileLargerThanAnyMessage(t *testing.T) {
	in, db, sig := newInbox(t)
	big := drop(t, in, "B1_02_000000000001_01.xml", []byte(strings.Repeat(" ", atr.MaxSize+1)))

	results, err := in.Scan(context.Background())
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, Rejected, results[0].Outcome)
	require.Contains(t, results[0].Reason, fmt.Sprint(atr.MaxSize))
	require.NoFileExists(t, big)
	require.Equal(t, atr.MaxSize+1, len(read(t, results[0].Path)), "the file is kept whole")
	require.Empty(t, sig.take())
	var n int
	require.NoError(t, db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM atr_rejected_files`).Scan(&n))
	require.Equal(t, 1, n)
}

// Scan reads the files of the folder in name order, and nothing else: a file
// being written (a name starting with ".") and the folder's folders are left.
func TestScanReadsTheFolderFilesInNameOrder(t *testing.T) {
	in, db, sig := newInbox(t)
	var want []string
	for i, prefix := range []string{"c", "a", "b"} { // left in another order than their names'
		c, req := requestCut(t, db, fmt.Sprintf("F-%d", i), int64(5+i))
		name, body := rejection(t, c, req, "ZZ")
		drop(t, in, prefix+"_"+name, body)
		want = append(want, prefix+"_"+name)
	}
	writing := drop(t, in, ".B1_02_000000000042_01.xml.123", []byte("<Mensaje"))
	require.NoError(t, os.MkdirAll(filepath.Join(in.Dir, "sub"), 0o750))
	drop(t, in, filepath.Join("sub", "B1_02_000000000043_01.xml"), []byte("<Mensaje"))

	results, err := in.Scan(context.Background())
	require.NoError(t, err)
	var got []string
	for _, r := range results {
		require.Equal(t, Processed, r.Outcome)
		got = append(got, r.File)
	}
	slices.Sort(want)
	require.Equal(t, want, got)
	require.FileExists(t, writing)
	require.FileExists(t, filepath.Join(in.Dir, "sub", "B1_02_000000000043_01.xml"))
	require.Len(t, sig.take(), 3)
}

// A case that has ended, or that Temporal never knew, has nothing to be told:
// the answer is delivered all the same.
func TestScanDeliversPastAClosedCase(t *testing.T) {
	in, db, sig := newInbox(t)
	c, req := requestCut(t, db, "F-1", 8)
	other, _ := requestCut(t, db, "F-2", 8)
	sig.fail[c.WorkflowID] = serviceerror.NewNotFound("workflow execution already completed")
	name, body := rejection(t, c, req, "ZZ")
	drop(t, in, name, body)

	results, err := in.Scan(context.Background())
	require.NoError(t, err)
	require.Len(t, results, 1)
	got := sig.take()
	require.Len(t, got, 1)
	require.Equal(t, other.WorkflowID, got[0].WorkflowID)
	require.True(t, delivered(t, db, results[0].Delivery.Answer.MessageID))
}

// An answer whose cases could not all be told stays undelivered in the
// ledger, its file processed; Redeliver tells them once Temporal answers.
func TestRedeliverTellsTheCasesAnAnswerDidNotReach(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 9)
	sig.fail[c.WorkflowID] = serviceerror.NewUnavailable("frontend unreachable")
	name, body := rejection(t, c, req, "ZZ")
	drop(t, in, name, body)

	results, err := in.Scan(ctx)
	var unavailable *serviceerror.Unavailable
	require.True(t, errors.As(err, &unavailable), "%v", err)
	require.Empty(t, results)
	require.FileExists(t, filepath.Join(in.Dir, ProcessedDir, name), "the file is read once, told or not")
	n, err := in.Redeliver(ctx)
	require.ErrorAs(t, err, &unavailable)
	require.Zero(t, n)

	delete(sig.fail, c.WorkflowID)
	n, err = in.Redeliver(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := sig.take()
	require.Len(t, got, 1)
	require.Equal(t, c.WorkflowID, got[0].WorkflowID)
	require.True(t, delivered(t, db, got[0].Answer.MessageID))
	n, err = in.Redeliver(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is left to deliver")
}

// A file given from elsewhere (the starter's atr import) is recorded and
// told, and stays where it is, refused or not.
func TestImportLeavesAFileFromElsewhereWhereItIs(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 10)
	name, body := rejection(t, c, req, "ZZ")
	elsewhere := t.TempDir()
	path := filepath.Join(elsewhere, name)
	write(t, path, string(body))
	bad := filepath.Join(elsewhere, "bad.xml")
	write(t, bad, "<no/>")

	r, err := in.Import(ctx, path)
	require.NoError(t, err)
	require.Equal(t, Processed, r.Outcome)
	require.Equal(t, path, r.Path)
	require.FileExists(t, path)
	require.Len(t, sig.take(), 1)
	require.True(t, delivered(t, db, r.Delivery.Answer.MessageID))

	r, err = in.Import(ctx, bad)
	require.NoError(t, err)
	require.Equal(t, Rejected, r.Outcome)
	require.Equal(t, bad, r.Path)
	require.Equal(t, []string{name, "bad.xml"}, names(t, elsewhere), "no reason file is written beside it")
	require.NoDirExists(t, in.Dir)
}

// The distributor cut, then read the cancellation and restored the supply:
// its 05 and its 04, found at one look, are read in that order, though the
// 04's name sorts first, so the cancellation's acceptance finds the cut done.
func TestScanReadsTheAnswersToA03AfterTheRest(t *testing.T) {
	in, db, sig := newInbox(t)
	ctx := context.Background()
	c, req := requestCut(t, db, "F-1", 9)
	settled, err := db.Settle(ctx, activities.SettleInput{Case: c, PaidAt: time.Date(2026, 6, 10, 11, 0, 0, 0, calendar.Madrid), From: us})
	require.NoError(t, err)
	require.Equal(t, activities.RequestCancel, settled.Release)
	day := time.Date(2026, 6, 9, 0, 0, 0, 0, calendar.Madrid)
	header := func(step string) atr.Header {
		return atr.Header{From: them, To: us, Process: atr.ProcessB1, Step: step, Code: req.Code, Seq: "01",
			RequestedAt: time.Date(2026, 6, 10, 12, 0, 0, 0, calendar.Madrid), CUPS: c.Cups}
	}
	for _, m := range []atr.Message{
		{Header: header("04"), Kind: atr.CancelAccepted, Date: day.AddDate(0, 0, 1)},
		{Header: header("05"), Kind: atr.Activated, Date: day, Contract: req.Code, Points: []atr.MeasurePoint{{
			Code: c.Cups + "0F", Movement: "M", Type: "05", ReadMode: "4", Function: "P", ValidFrom: day, Registered: day}}},
	} {
		body, err := atr.Marshal(m)
		require.NoError(t, err)
		drop(t, in, atr.FileName(m.Header), body)
	}

	results, err := in.Scan(ctx)
	require.NoError(t, err)
	require.Len(t, results, 2)
	require.Equal(t, "B1_05_"+req.Code+"_01.xml", results[0].File)
	require.Equal(t, "B1_04_"+req.Code+"_01.xml", results[1].File)
	last := results[1].Delivery.Answer
	require.Equal(t, activities.RequestAccepted, last.Request.Status, "the cancellation accepted")
	require.NotNil(t, last.Cut)
	require.Equal(t, activities.RequestExecuted, last.Cut.Status, "after the cut")
	require.Len(t, sig.take(), 2)
}
