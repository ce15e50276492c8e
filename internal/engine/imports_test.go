package engine_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/internal/imports"
	"github.com/elega/impagos/internal/sheets"
	"github.com/elega/impagos/workflows"
)

// workbook writes rows (the first is the header) to a new .xlsx.
func workbook(t *testing.T, rows ...[]any) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "book.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// target imports on a policy where a day lasts ten seconds, so the stages
// these tests look at last long enough to be seen on a busy machine.
func (s *stack) target() imports.Target {
	p := fastPolicy()
	p.Scale = 8640
	return imports.Target{DB: s.db, Temporal: s.c, TaskQueue: s.queue, Policy: p}
}

func contractsBook(t *testing.T, rows ...[]any) string {
	t.Helper()
	header := []any{"Cliente", "NIF/CIF", "Cups", "Tipo Cliente", "Teléfono", "Email"}
	return workbook(t, append([][]any{header}, rows...)...)
}

func TestImportingTheSameExportTwiceStartsEachCaseOnce(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	a, b := "I-"+token(4), "I-"+token(4)
	ca, cb := newCups(t), newCups(t)
	path := contractsBook(t,
		[]any{"Talleres A S.L.", "A28015865", ca, "Empresa", "910000001", "a@example.com"},
		[]any{"Talleres B S.L.", "A28015865", cb, "Empresa", "910000002", "b@example.com"})
	if _, err := imports.Contracts(s.ctx, s.target(), path, sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	export := workbook(t,
		[]any{"Listado de vencimientos devueltos"},
		[]any{},
		[]any{"Nº Factura", "Cliente", "Importe (€)", "CUPS", "Estado"},
		[]any{a, "Talleres A S.L.", "1.234,56 €", ca, "Devuelto"},
		[]any{b, "Talleres B S.L.", 99.5, cb, "Devuelto"},
		[]any{"I-paid", "Cobrado S.L.", 10, ca, "Cobrado"},
		[]any{"I-bad", "Roto S.L.", 10, "ES0021000000000001XX", "Devuelto"},
		[]any{"Total", nil, 1344.06},
	)
	first, err := imports.Returns(s.ctx, s.target(), export, sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if first.Started != 2 || first.New != 2 || len(first.Rejected) != 1 || first.Skipped != 2 {
		t.Fatalf("first import: started %d, new %d, rejected %+v, skipped %d", first.Started, first.New, first.Rejected, first.Skipped)
	}
	again, err := imports.Returns(s.ctx, s.target(), export, sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Started != 0 || again.New != 0 || again.AlreadyOpen != 2 {
		t.Fatalf("second import: %+v", again)
	}
	st := s.waitStage(a, workflows.StageCutScheduled)
	if st.AmountCents != 123456 || st.Customer != "Talleres A S.L." {
		t.Fatalf("case of %s: %+v", a, st)
	}
	var n int
	if err := s.db.Pool().QueryRow(s.ctx, `SELECT count(*) FROM returns WHERE invoice = ANY($1)`, []string{a, b}).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d returns stored, want 2", n)
	}
}

func TestPaymentsImportClosesPaidCasesAndLowersPartlyPaidOnes(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	full, part := "P-"+token(4), "P-"+token(4)
	cf, cp := newCups(t), newCups(t)
	book := contractsBook(t,
		[]any{"Uno S.L.", "A28015865", cf, "Empresa", "910000001", "uno@example.com"},
		[]any{"Dos S.L.", "A28015865", cp, "Empresa", "910000002", "dos@example.com"})
	if _, err := imports.Contracts(s.ctx, s.target(), book, sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	export := workbook(t,
		[]any{"Cliente", "Importe", "Número de Factura", "Cups"},
		[]any{"Uno S.L.", 500, full, cf},
		[]any{"Dos S.L.", 800, part, cp})
	if _, err := imports.Returns(s.ctx, s.target(), export, sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	s.waitStage(full, workflows.StageCutScheduled)
	s.waitStage(part, workflows.StageCutScheduled)

	payments := workbook(t,
		[]any{"Fecha Pago", "Cliente", "Número de Factura", "Importe Pagado", "Forma de Pago", "Referencia"},
		[]any{"27/11/2026", "Uno S.L.", full, "500,00", "Transferencia", "R-" + full},
		[]any{"27/11/2026", "Dos S.L.", part, "300,00", "Bizum", "R-" + part},
		[]any{"27/11/2026", "Nadie", "P-unknown-" + token(3), "50", "Tarjeta", "R-x-" + token(3)})
	res, err := imports.Payments(s.ctx, s.target(), payments, sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Recorded != 3 || res.Signalled != 2 || len(res.Unknown) != 1 {
		t.Fatalf("payments import: %+v", res)
	}
	if r := s.result(full); r.Stage != workflows.StagePaid || r.PaidCents != 50000 {
		t.Fatalf("fully paid case: %+v", r)
	}
	waitDue := func(want int64) {
		t.Helper()
		for range 100 {
			st := s.waitStage(part, workflows.StageCutScheduled)
			if st.AmountDueCents == want {
				return
			}
			s.sleep()
		}
		t.Fatalf("amount due of %s never became %d", part, want)
	}
	waitDue(50000)
	// The same workbook again: nothing is recorded twice, nothing counted twice.
	again, err := imports.Payments(s.ctx, s.target(), payments, sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Recorded != 0 || again.AlreadyRecorded != 3 {
		t.Fatalf("second payments import: %+v", again)
	}
	s.sleep()
	waitDue(50000)
}

func TestContractsImportReleasesACaseWaitingForContactData(t *testing.T) {
	s := newStack(t)
	s.runWorker()
	invoice, supply := "C-"+token(4), newCups(t)
	export := workbook(t,
		[]any{"Cliente", "Importe", "Número de Factura", "Cups"},
		[]any{"Sin Contrato", 75, invoice, supply})
	if _, err := imports.Returns(s.ctx, s.target(), export, sheets.Options{}, false); err != nil {
		t.Fatal(err)
	}
	s.waitStage(invoice, workflows.StageNeedsContact)
	book := contractsBook(t, []any{"Sin Contrato", "12345678Z", supply, "Doméstico", "600111222", ""})
	res, err := imports.Contracts(s.ctx, s.target(), book, sheets.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Released, invoice) {
		t.Fatalf("contracts import released %v, want %s", res.Released, invoice)
	}
	st := s.waitState(invoice, "aviso 1 sent", func(st workflows.State) bool { return len(st.Notices) > 0 })
	if st.Phone != "+34600111222" || st.Notices[0].Kind != "aviso_1" {
		t.Fatalf("released case: %+v", st)
	}
}
