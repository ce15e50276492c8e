package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/elega/impagos/internal/cases"
	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

// PROCESS "Why the bank returned it", from the bank's file to the cases: the
// sample pain.002 of a Spanish bank (its invoices renamed for this run)
// starts one case per return whose supply point a contract names, each on
// the path of its reason; the reason of an invoice whose case a TRADE export
// started reaches that case; the returns without a supply point wait and
// start when a contracts import names their mandate; the same file again
// starts nothing.
func TestBankFileStartsOneCasePerReturnOnThePathOfItsReason(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	prefix := "B" + token(4) + "-"
	inv := func(n int) string { return fmt.Sprintf("%s%04d", prefix, n) }
	sample, err := os.ReadFile("../../testdata/bank/pain002_es_bank.xml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "devoluciones.xml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(string(sample), "F2026-", prefix)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The sample's mandates of the returns this test follows.
	mandates := map[int]string{
		101: "ELGM-004512", // AM04 funds
		103: "ELGM-003318", // MD06 disputed
		104: "ELGM-001094", // MS02 disputed, its case started by TRADE first
		107: "ELGM-006120", // AC04 account
		109: "ELGM-000455", // MD07 deceased
		110: "ELGM-007731", // AM05 our_error
	}
	supply := map[int]string{}
	rows := [][]any{{"Cliente", "NIF/CIF", "Cups", "Tipo Cliente", "Teléfono", "Email", "Referencia Mandato"}}
	for n, m := range mandates {
		supply[n] = newCups(t)
		rows = append(rows, []any{"Cliente " + inv(n), "12345678Z", supply[n], "Doméstico", "600111222", "c@example.com", m})
	}
	if _, err := imports.Contracts(s.ctx, s.target(), workbook(t, rows...), sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	export := workbook(t,
		[]any{"Nº Factura", "Cliente", "Importe (€)", "CUPS", "Estado"},
		[]any{inv(104), "Cliente " + inv(104), "58,90", supply[104], "Devuelto"})
	if _, err := imports.Returns(s.ctx, s.target(), export, sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	s.waitState(inv(104), "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })

	m := imports.Matching{}
	res, err := imports.BankReturns(s.ctx, s.target(), file, m, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Known || res.Started != 5 || res.Told != 1 || len(res.Failed) != 0 {
		t.Fatalf("first import: known %v, started %d, told %d, failed %+v", res.Known, res.Started, res.Told, res.Failed)
	}
	status := map[string]string{}
	for _, r := range res.Returns {
		status[r.Invoice] = r.Status
	}
	for _, n := range []int{102, 105, 106, 108, 111, 112} {
		if status[inv(n)] != store.ReturnPending {
			t.Errorf("%s: status %q, want pending (no contract names its mandate)", inv(n), status[inv(n)])
		}
	}

	funds := s.waitState(inv(101), "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })
	if funds.Return == nil || funds.Return.Reason != "AM04" || funds.Return.Path != workflows.PathFunds || funds.Hold != nil {
		t.Errorf("AM04: %+v hold %+v", funds.Return, funds.Hold)
	}
	account := s.waitState(inv(107), "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })
	if account.Task != workflows.TaskNewMandate {
		t.Errorf("AC04: task %q", account.Task)
	}
	for _, n := range []int{103, 104, 109, 110} {
		st := s.waitStage(inv(n), workflows.StageOnHold)
		if st.Return == nil || st.Hold == nil {
			t.Errorf("%s held without its reason: %+v", inv(n), st)
		}
	}
	ours := s.waitState(inv(110), "NeedsAttention", func(st workflows.State) bool { return st.Attention != "" })
	if !strings.Contains(ours.Attention, "AM05") {
		t.Errorf("AM05: attention %q", ours.Attention)
	}
	// Held cases stay held: a day of this policy is ten seconds.
	time.Sleep(15 * time.Second)
	for _, n := range []int{103, 109, 110} {
		if kinds := s.outboxKinds(inv(n)); len(kinds) != 0 {
			t.Errorf("%s (held since it started) sent %v", inv(n), kinds)
		}
	}
	if kinds := s.outboxKinds(inv(104)); len(kinds) != 1 || kinds[0] != "aviso_1" {
		t.Errorf("%s (disputed after aviso 1) sent %v", inv(104), kinds)
	}
	for _, n := range []int{103, 104} {
		if st := s.waitStage(inv(n), workflows.StageOnHold); st.Return.Path != workflows.PathDisputed {
			t.Errorf("%s: path %s", inv(n), st.Return.Path)
		}
	}
	bodies, err := s.db.Outbox(s.ctx, store.OutboxFilter{Invoice: inv(107)})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		if !strings.Contains(b.Body, "IBAN") || !strings.Contains(strings.ToLower(b.Body), "mandato") {
			t.Errorf("%s %s/%s does not ask for a new IBAN or mandate:\n%s", inv(107), b.Kind, b.Channel, b.Body)
		}
	}
	s.waitVisible(fmt.Sprintf(`ReturnReason = "MD06" AND InvoiceNumber = %q`, inv(103)))

	again, err := imports.BankReturns(s.ctx, s.target(), file, m, false)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Known || again.Started != 0 || again.Told != 0 || len(again.Failed) != 0 {
		t.Fatalf("the same file again: known %v, started %d, told %d, failed %+v", again.Known, again.Started, again.Told, again.Failed)
	}

	// A contracts import names F-102's mandate: its return starts.
	supply[102] = newCups(t)
	placed, err := imports.Contracts(s.ctx, s.target(), workbook(t,
		[]any{"Cliente", "NIF/CIF", "Cups", "Tipo Cliente", "Teléfono", "Referencia Mandato"},
		[]any{"Antonio García López", "12345678Z", supply[102], "Doméstico", "600111223", "ELGM-002207"}), sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(placed.Placed) != 1 || placed.Placed[0] != inv(102) || len(placed.Failed) != 0 {
		t.Fatalf("contracts import placed %v, failed %+v", placed.Placed, placed.Failed)
	}
	if st := s.waitState(inv(102), "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 }); st.Return.Reason != "MS03" || st.Cups != supply[102] {
		t.Errorf("%s: %+v on %s", inv(102), st.Return, st.Cups)
	}
	var n int
	if err := s.db.Pool().QueryRow(s.ctx, `SELECT count(*) FROM returns WHERE invoice LIKE $1`, prefix+"%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("%d returns in the ledger, want 7 (TRADE's of %s and the bank's six placed)", n, inv(104))
	}
}

// waitVisible waits until the visibility query finds a case of this test's
// task queue.
func (s *stack) waitVisible(query string) {
	s.t.Helper()
	q := fmt.Sprintf("TaskQueue = %q AND %s", s.queue, query)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.c.ListWorkflow(s.ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		if err != nil {
			s.t.Fatal(err)
		}
		if len(resp.Executions) > 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s finds no case", q)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The paths a bank's reason gives a case, recorded for the replay tests: a
// dispute held from the start, released by a person and paid after aviso 1;
// a business case told of our own error while its cut is scheduled, held,
// and paid with no confirmation sent.
func TestBankReasonPathsRecorded(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	p := fastPolicy()
	p.Scale = 8640 // a day lasts ten seconds: the stages are seen

	disputed, supply := "BR-"+token(4), newCups(t)
	s.upsertContract(contractOf(disputed, "domestico", supply))
	in := workflows.Input{Invoice: disputed, Customer: "Cliente " + disputed, Cups: supply, AmountCents: 4560,
		ReturnedAt: time.Now(), Policy: p,
		Return: &workflows.BankReturn{Reason: "MD06", Path: workflows.PathDisputed, Originator: "debtor", File: "MSG-1"}}
	if out, err := cases.Start(s.ctx, s.c, s.queue, in, false); err != nil || out != cases.Started {
		t.Fatalf("start %s: %v %v", disputed, out, err)
	}
	s.waitStage(disputed, workflows.StageOnHold)
	if kinds := s.outboxKinds(disputed); len(kinds) != 0 {
		t.Fatalf("disputed case sent %v", kinds)
	}
	if _, err := cases.Update(s.ctx, s.c, disputed, workflows.UpdateRelease, workflows.ReleaseSignal{By: "luis"}); err != nil {
		t.Fatal(err)
	}
	s.waitStage(disputed, workflows.StageNotice1)
	if ans, err := cases.Update(s.ctx, s.c, disputed, workflows.UpdatePaid, workflows.PaidSignal{AmountCents: 4560, Reference: "TR-" + disputed}); err != nil || ans.Stage != workflows.StagePaid {
		t.Fatalf("pay %s: %+v %v", disputed, ans, err)
	}
	if r := s.result(disputed); r.Stage != workflows.StagePaid {
		t.Fatalf("%s: %+v", disputed, r)
	}
	s.recordHistory(disputed, "bank_disputed_released_paid")

	ours, supply2 := "BR-"+token(4), newCups(t)
	s.upsertContract(contractOf(ours, "empresa", supply2))
	s.startCase(ours, supply2, 250000, p)
	s.waitStage(ours, workflows.StageCutScheduled)
	ans, err := cases.Update(s.ctx, s.c, ours, workflows.UpdateBankReturn,
		workflows.BankReturn{Reason: "AM05", Path: workflows.PathOurError, File: "MSG-2", By: "fichero del banco"})
	if err != nil || ans.Outcome != "on_hold" || ans.Stage != workflows.StageOnHold {
		t.Fatalf("bank-return update: %+v %v", ans, err)
	}
	if _, err := cases.Update(s.ctx, s.c, ours, workflows.UpdatePaid, workflows.PaidSignal{AmountCents: 250000, Reference: "TR-" + ours}); err != nil {
		t.Fatal(err)
	}
	if r := s.result(ours); r.Stage != workflows.StagePaid {
		t.Fatalf("%s: %+v", ours, r)
	}
	if kinds := s.outboxKinds(ours); len(kinds) != 1 || kinds[0] != "carta_corte" {
		t.Fatalf("%s sent %v: after our own error nothing more, not even the payment's confirmation", ours, kinds)
	}
	s.recordHistory(ours, "business_bank_our_error_paid")
}

// The three formats a bank may send (pain.002, camt.054 and the AEB 19.14
// flat file), with the sample contracts naming their debtors' mandates or
// accounts: each starts one case per matched return, on the path of its
// reason; the same files again start nothing.
func TestEveryBankFormatStartsOneCasePerMatchedReturn(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	// The invoices renamed for this run, in as many characters (the flat
	// file's records are of fixed width).
	prefix := "Z" + token(2) + "-"
	if _, err := imports.Contracts(s.ctx, s.target(), "../../testdata/bank/contratos_mandatos.csv", sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	held := map[workflows.ReturnPath]bool{workflows.PathDisputed: true, workflows.PathDeceased: true, workflows.PathOurError: true}
	for _, sample := range []struct {
		file    string
		started int
	}{
		{"pain002_es_bank.xml", 11}, // F2026-0112's mandate is in no contract: it waits
		{"camt054.xml", 4},
		{"aeb1914_devoluciones.txt", 4},
	} {
		data, err := os.ReadFile("../../testdata/bank/" + sample.file)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), sample.file)
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "F2026-", prefix)), 0o600); err != nil {
			t.Fatal(err)
		}
		for round := 1; round <= 2; round++ {
			res, err := imports.BankReturns(s.ctx, s.target(), path, imports.Matching{}, false)
			if err != nil {
				t.Fatalf("%s: %v", sample.file, err)
			}
			want := sample.started
			if round == 2 {
				want = 0
			}
			if res.Started != want || len(res.Failed) != 0 || len(res.File.Rejected) != 0 {
				t.Fatalf("%s, import %d: started %d, want %d; failed %+v; rejected %+v", sample.file, round, res.Started, want, res.Failed, res.File.Rejected)
			}
			if round == 2 {
				continue
			}
			for _, r := range res.Returns {
				if r.Status != store.ReturnStarted {
					continue
				}
				path := workflows.ReturnPath(r.Path)
				st := s.waitState(r.Invoice, "its path taken", func(st workflows.State) bool {
					return st.Return != nil && (held[path] && st.Stage == workflows.StageOnHold || !held[path] && len(st.Notices) > 0)
				})
				if st.Return.Reason != r.Reason || st.AmountCents != r.AmountCents || st.Cups != r.Cups {
					t.Errorf("%s: case %+v on %s for %d cents, the file says %s for %d cents", r.Invoice, st.Return, st.Cups, st.AmountCents, r.Reason, r.AmountCents)
				}
			}
		}
	}
}
