package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/elega/impagos/internal/atr/standin"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/store"
)

// The distributor of a fault test: the outbox the worker writes its B1
// messages to, the inbox it reads the answers from (both under the test's
// directory, never the stack's .data/atr) and a stand-in in the test process
// answering in the distributor's place. The stand-in is not the worker's: it
// lives on when the worker is killed or the database is away, as a
// distributor would, and keeps its state outside the outbox.

// The stand-in's delays: it accepts a request (02, 04) standinAccept after
// it sees it and cuts (05) standinActivate after the acceptance, about three
// days of the suite's case time (a day lasts 0.3 s). That leaves a case paid
// as soon as its cut is requested the time to have the request cancelled (03)
// before the distributor cuts, most of the time; a case whose 05 comes past
// its bound raises NeedsAttention and asks the ledger, as with a slow
// distributor. Longer delays have most cut cases do so, more load on a busy
// machine.
const (
	standinAccept   = 200 * time.Millisecond
	standinActivate = 800 * time.Millisecond
	// atrPoll is how often the worker reads the inbox and sends what the
	// ledger holds unsent, and how often the stand-in reads the outbox.
	atrPoll = 100 * time.Millisecond
)

// atrFolders are the distributor's folders of one fault test.
type atrFolders struct {
	outbox, inbox string
	state         string // the stand-in's state file
	log           *os.File

	stop chan struct{}
	done chan error
}

func newATRFolders(dir string) (*atrFolders, error) {
	a := &atrFolders{
		outbox: filepath.Join(dir, "atr", "outbox"),
		inbox:  filepath.Join(dir, "atr", "inbox"),
		state:  filepath.Join(dir, "atr", "standin.json"),
	}
	for _, d := range []string{a.outbox, a.inbox} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	f, err := os.Create(filepath.Join(dir, "standin.log"))
	if err != nil {
		return nil, err
	}
	a.log = f
	return a, nil
}

// workerEnv is what the worker needs to send to and read from these folders.
// The stand-in is the test's: the worker runs none.
func (a *atrFolders) workerEnv() []string {
	return []string{
		distributor.EnvOutbox + "=" + a.outbox,
		distributor.EnvInbox + "=" + a.inbox,
		distributor.EnvREECode + "=" + distributor.LocalREECode,
		distributor.EnvPoll + "=" + atrPoll.String(),
		standin.EnvEnabled + "=0",
	}
}

// runStandin answers the outbox until stopped.
func (a *atrFolders) runStandin() {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop, a.done = make(chan struct{}), make(chan error, 1)
	go func() {
		<-a.stop
		cancel()
	}()
	go func() {
		a.done <- standin.Run(ctx, standin.Options{
			Outbox: a.outbox, Inbox: a.inbox, State: a.state, Poll: atrPoll,
			AcceptAfter: standinAccept, ActivateAfter: standinActivate,
			Log: slog.New(slog.NewTextHandler(a.log, nil)),
		})
	}()
}

func (a *atrFolders) close() error {
	var err error
	if a.stop != nil {
		close(a.stop)
		err = <-a.done
		a.stop = nil
	}
	a.log.Close()
	return err
}

// away is where the outbox folder waits while it is unreachable.
func (a *atrFolders) away() string { return a.outbox + ".away" }

// takeOutboxAway makes the outbox folder unreachable, as a share that went
// away: the folder is moved aside and a plain file takes its name, so that
// the worker can neither write into it nor create it again. The ledger keeps
// committing messages, which wait unsent.
func (a *atrFolders) takeOutboxAway() error {
	if err := os.Rename(a.outbox, a.away()); err != nil {
		return fmt.Errorf("take the outbox away: %w", err)
	}
	if err := os.WriteFile(a.outbox, []byte("the distributor's folder is unreachable\n"), 0o644); err != nil {
		return errors.Join(fmt.Errorf("take the outbox away: %w", err), os.Rename(a.away(), a.outbox))
	}
	return nil
}

// bringOutboxBack undoes takeOutboxAway.
func (a *atrFolders) bringOutboxBack() error {
	if err := os.Remove(a.outbox); err != nil {
		return fmt.Errorf("bring the outbox back: %w", err)
	}
	return os.Rename(a.away(), a.outbox)
}

// unsentATR counts the B1 messages the ledger committed and has not yet
// written to the outbox.
func (s *stack) unsentATR(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var n int
	err := s.db.Pool().QueryRow(ctx, `SELECT count(*) FROM atr_messages WHERE direction = 'out' AND sent_at IS NULL`).Scan(&n)
	return n, err
}

// waitUnsent waits up to d for the ledger to hold a message unsent.
func (s *stack) waitUnsent(ctx context.Context, d time.Duration) {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if n, err := s.unsentATR(ctx); err == nil && n > 0 {
			return
		}
		if sleep(ctx, 50*time.Millisecond) != nil {
			return
		}
	}
}

// atrReport is the distributor's side of a run: what went to the outbox and
// what came back, as the folders and the ledger tell.
type atrReport struct {
	committed int // B1 messages the ledger committed
	files     int // messages in the outbox folder
	temps     int // files being written that a killed worker left behind (names starting with ".")
	answers   int // answers the ledger recorded
	processed int // answer files in inbox/processed
	cancelled int // cut requests cancelled (03) before the distributor cut
	raced     int // cancellations the distributor read after it had cut: reconnections
}

func (a atrReport) String() string {
	return fmt.Sprintf("%d B1 messages committed, %d files in the outbox (%d temporary files left by a killed worker); %d answers recorded, %d answer files processed; %d cut requests cancelled before the cut, %d cancellations that came after it",
		a.committed, a.files, a.temps, a.answers, a.processed, a.cancelled, a.raced)
}

// atrRow is a message of the ledger.
type atrRow struct {
	request                    int64
	kind, step, file, checksum string
	body                       []byte
	sent, delivered            bool
}

// checkATR compares the ledger's B1 messages with the folders: every message
// committed is in the outbox once, byte for byte, and marked sent; the outbox
// holds nothing else; every answer the stand-in wrote was read once (the
// inbox holds none unread, processed/ holds each answer of the ledger once,
// nothing was refused) and reached its cases; and every request the run made
// has its answer. A message missing from a folder counts as lost, one found
// twice or unexplained as a duplicate.
func (r *run) checkATR(ctx context.Context, rep *report) (atrReport, error) {
	var ar atrReport
	a := r.s.atr
	rows, err := r.s.db.Pool().Query(ctx, `
		SELECT m.direction, m.request_id, q.kind, m.step, m.file_name, m.sha256, m.body,
		       m.sent_at IS NOT NULL, m.delivered_at IS NOT NULL
		FROM atr_messages m JOIN distributor_requests q ON q.id = m.request_id ORDER BY m.id`)
	if err != nil {
		return ar, err
	}
	var out, in []atrRow
	for rows.Next() {
		var dir string
		var m atrRow
		if err := rows.Scan(&dir, &m.request, &m.kind, &m.step, &m.file, &m.checksum, &m.body, &m.sent, &m.delivered); err != nil {
			rows.Close()
			return ar, err
		}
		if dir == "out" {
			out = append(out, m)
		} else {
			in = append(in, m)
		}
	}
	if err := rows.Err(); err != nil {
		return ar, err
	}
	invoiceOf, err := r.requestInvoices(ctx)
	if err != nil {
		return ar, err
	}

	// The outbox: each message once, as committed.
	ar.committed = len(out)
	files, temps, err := folderFiles(a.outbox)
	if err != nil {
		return ar, err
	}
	ar.files, ar.temps = len(files), temps
	for _, m := range out {
		body, ok := files[m.file]
		delete(files, m.file)
		switch {
		case !ok:
			rep.lose(invoiceOf[m.request], fmt.Sprintf("B1 %s (%s request #%d) committed but not in the outbox (marked sent: %t)", m.file, m.kind, m.request, m.sent))
		case !bytes.Equal(body, m.body):
			rep.problems = append(rep.problems, fmt.Sprintf("%s: the outbox file differs from the message the ledger committed", m.file))
		case !m.sent:
			rep.problems = append(rep.problems, fmt.Sprintf("%s: in the outbox but not marked sent in the ledger", m.file))
		}
	}
	for name := range files {
		rep.dup(1, "outbox file %s is no message of the ledger", name)
	}

	// The inbox: nothing left unread or refused.
	unread, _, err := folderFiles(a.inbox)
	if err != nil {
		return ar, err
	}
	for name := range unread {
		rep.problems = append(rep.problems, fmt.Sprintf("answer %s left unread in the inbox", name))
	}
	refused, _, err := folderFiles(filepath.Join(a.inbox, distributor.RejectedDir))
	if err != nil {
		return ar, err
	}
	for name := range refused {
		rep.problems = append(rep.problems, fmt.Sprintf("answer %s refused: in the inbox's %s/", name, distributor.RejectedDir))
	}
	var nRefused int
	if err := r.s.db.Pool().QueryRow(ctx, `SELECT count(*) FROM atr_rejected_files`).Scan(&nRefused); err != nil {
		return ar, err
	}
	if nRefused > 0 {
		rep.problems = append(rep.problems, fmt.Sprintf("the ledger refused %d answer files (atr_rejected_files)", nRefused))
	}

	// processed/: each answer of the ledger once, and nothing else.
	processed, _, err := folderFiles(filepath.Join(a.inbox, distributor.ProcessedDir))
	if err != nil {
		return ar, err
	}
	ar.answers, ar.processed = len(in), len(processed)
	byChecksum := map[string][]string{}
	for name, body := range processed {
		sum := sha256.Sum256(body)
		k := hex.EncodeToString(sum[:])
		byChecksum[k] = append(byChecksum[k], name)
	}
	answered := map[int64]map[string]int{} // request → step → answers
	for _, m := range in {
		names := byChecksum[m.checksum]
		delete(byChecksum, m.checksum)
		switch {
		case len(names) == 0:
			rep.problems = append(rep.problems, fmt.Sprintf("answer %s recorded but not in processed/", m.file))
		case len(names) > 1:
			sort.Strings(names)
			rep.dup(len(names)-1, "answer %s in processed/ %d times: %s", m.file, len(names), strings.Join(names, ", "))
		}
		if !m.delivered {
			rep.lose(invoiceOf[m.request], fmt.Sprintf("answer %s recorded but its cases never told", m.file))
		}
		if answered[m.request] == nil {
			answered[m.request] = map[string]int{}
		}
		answered[m.request][m.step]++
	}
	for _, names := range byChecksum {
		sort.Strings(names)
		rep.dup(len(names), "answer file(s) %s in processed/ that the ledger did not record", strings.Join(names, ", "))
	}

	// Every request of the run has its answers, once: a cut its 02 and its
	// 05 (none when it was cancelled first), a cancellation or a
	// reconnection its 04.
	reqs, err := r.s.db.DistributorRequests(ctx, "")
	if err != nil {
		return ar, err
	}
	releases := map[int64]string{} // cut → kind of its 03
	for _, q := range reqs {
		if q.Kind != "cut" {
			releases[q.CutID] = q.Kind
		}
	}
	for _, q := range reqs {
		want := map[string]int{"04": 1}
		if q.Kind == "cut" {
			want = map[string]int{"02": 1, "05": 1}
			if q.Status != "executed" && releases[q.CutID] == "cancel" {
				want["05"] = 0
				ar.cancelled++
			}
		}
		if q.Kind == "cancel" && q.Status == "accepted" && executed(reqs, q.CutID) {
			ar.raced++
		}
		for _, step := range []string{"02", "04", "05"} {
			got := answered[q.ID][step]
			switch {
			case got < want[step]:
				rep.lose(q.Invoice, fmt.Sprintf("%s request #%d (%s): no answer %s from the distributor", q.Kind, q.ID, q.Status, step))
			case got > want[step]:
				rep.dup(got-want[step], "%s request #%d: %d answers %s", q.Kind, q.ID, got, step)
			}
		}
	}
	return ar, nil
}

// executed reports whether the cut request of a cut was carried out.
func executed(reqs []store.DistributorRequest, cutID int64) bool {
	for _, q := range reqs {
		if q.Kind == "cut" && q.CutID == cutID {
			return q.Status == "executed"
		}
	}
	return false
}

// requestInvoices maps each distributor request to its invoice.
func (r *run) requestInvoices(ctx context.Context) (map[int64]string, error) {
	reqs, err := r.s.db.DistributorRequests(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(reqs))
	for _, q := range reqs {
		out[q.ID] = q.Invoice
	}
	return out, nil
}

// folderFiles reads the messages of a folder by name, and counts the files
// being written (names starting with "."); a folder that does not exist holds
// none.
func folderFiles(dir string) (map[string][]byte, int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	files := map[string][]byte{}
	temps := 0
	for _, e := range entries {
		switch {
		case !e.Type().IsRegular():
		case strings.HasPrefix(e.Name(), "."):
			temps++
		case strings.HasSuffix(e.Name(), ".reason"):
			// beside a refused file in rejected/
		default:
			body, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, 0, err
			}
			files[e.Name()] = body
		}
	}
	return files, temps, nil
}
