package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/internal/sheets"
)

func bankReturn(e2e, reason, path string, cents int64, on time.Time) BankReturn {
	return BankReturn{
		EndToEndID: e2e, Candidate: e2e, AmountCents: cents, ReturnedOn: on, Reason: reason, Path: path,
		DebtorName: "Ana Pérez", IBANOK: true, Where: "end-to-end id " + e2e,
	}
}

func bankFile(sha string) BankFile {
	return BankFile{SHA256: sha, Name: sha + ".xml", Format: "pain.002", MessageID: "MSG-" + sha, Returns: 1}
}

func byInvoice(rs []BankReturn) map[string]BankReturn {
	out := map[string]BankReturn{}
	for _, r := range rs {
		out[r.EndToEndID] = r
	}
	return out
}

// A bank's file: a return of an invoice the ledger knows takes its supply
// point; one of a new invoice takes the contract's by its mandate, or by its
// account when only one contract has it; one with neither waits; one with no
// invoice is kept unmatched. The same file again, or the same return in
// another file, stores nothing new.
func TestImportBankFile_MatchesPlacesAndKeepsEverything(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	on := day(2026, time.November, 20, 0)
	_, err := s.ImportContracts(ctx, []sheets.Contract{
		{Row: 2, Customer: "Ana Pérez", TaxID: "12345678Z", Cups: "ES0031405000000001ZV", Segment: "domestico", Phone: "+34600111222",
			MandateID: "MND-1", IBAN: "ES9121000418450200051332"},
		{Row: 3, Customer: "Luis Gil", TaxID: "X1234567L", Cups: "ES0031405000000002ZX", Segment: "domestico", Phone: "+34600111223",
			IBAN: "ES7921000813610123456789"},
		{Row: 4, Customer: "Eva Gil", TaxID: "Y1234567X", Cups: "ES0031405000000003ZK", Segment: "domestico", Phone: "+34600111224",
			IBAN: "ES7921000813610123456789"},
	})
	require.NoError(t, err)
	open(t, s, ref("F-OLD", "ES0031405000000009ZZ"))

	known := bankReturn("F-OLD", "AM04", "funds", 12345, on)
	byMandate := bankReturn("F-101", "MD06", "disputed", 5000, on)
	byMandate.MandateID = "MND-1"
	shared := bankReturn("F-102", "AC04", "account", 6000, on)
	shared.DebtorIBAN = "ES7921000813610123456789"
	nowhere := bankReturn("F-103", "AM04", "funds", 7000, on)
	unmatched := bankReturn("NOTPROVIDED", "AM04", "funds", 8000, on)
	unmatched.Candidate = ""
	file := bankFile("aaa")
	res, err := s.ImportBankFile(ctx, file, []BankReturn{known, byMandate, shared, nowhere, unmatched})
	require.NoError(t, err)
	require.False(t, res.Known)
	got := byInvoice(res.Returns)

	require.Equal(t, ReturnKnown, got["F-OLD"].Status, "its case is open: told, not started")
	require.Equal(t, "ES0031405000000009ZZ", got["F-OLD"].Cups)
	require.Equal(t, ReturnStarted, got["F-101"].Status)
	require.Equal(t, "ES0031405000000001ZV", got["F-101"].Cups)
	require.Equal(t, "Ana Pérez", got["F-101"].Customer)
	require.Equal(t, ReturnPending, got["F-102"].Status, "two contracts pay from that account")
	require.Contains(t, got["F-102"].Detail, "2 supply points")
	require.Equal(t, ReturnPending, got["F-103"].Status)
	require.Equal(t, ReturnUnmatched, got["NOTPROVIDED"].Status)
	for _, r := range res.Returns {
		require.True(t, r.New)
		require.NotZero(t, r.ID)
		require.Equal(t, "MSG-aaa", r.File)
	}
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM returns WHERE invoice = 'F-101' AND source = 'bank' AND reason = 'MD06'`))

	again, err := s.ImportBankFile(ctx, file, []BankReturn{known, byMandate, shared, nowhere, unmatched})
	require.NoError(t, err)
	require.True(t, again.Known)
	resent, err := s.ImportBankFile(ctx, bankFile("bbb"), []BankReturn{byMandate})
	require.NoError(t, err)
	require.False(t, resent.Returns[0].New, "the same return in another file")
	require.Equal(t, res.Returns[1].ID, resent.Returns[0].ID)
	require.Equal(t, 5, count(t, s, `SELECT count(*) FROM bank_returns`))
	require.Equal(t, 2, count(t, s, `SELECT count(*) FROM bank_files`))

	pending, err := s.PendingBankReturns(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 3)

	// A contracts import names F-103's account: it is placed and starts.
	_, err = s.ImportContracts(ctx, []sheets.Contract{
		{Row: 2, Customer: "Pablo Sanz", TaxID: "00000000T", Cups: "ES0031405000000004ZE", Segment: "domestico", Phone: "+34600111225",
			MandateID: "MND-103"},
	})
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, `UPDATE bank_returns SET mandate_id = 'MND-103' WHERE end_to_end_id = 'F-103'`)
	require.NoError(t, err)
	placed, err := s.ResolvePendingReturns(ctx)
	require.NoError(t, err)
	require.Len(t, placed, 1)
	require.Equal(t, "F-103", placed[0].Invoice)
	require.Equal(t, ReturnStarted, placed[0].Status)
	require.Equal(t, "ES0031405000000004ZE", placed[0].Cups)
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM returns WHERE invoice = 'F-103'`))
}

// One return seen in a bank's file and in TRADE's export (their dates differ
// by days) is one return, whichever comes first; a return of the same
// invoice months later is a new one.
func TestBankAndTradeReturnsOfOneInvoiceAreOne(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	bankDay := day(2026, time.November, 18, 0)
	_, err := s.ImportContracts(ctx, []sheets.Contract{
		{Row: 2, Customer: "Ana Pérez", TaxID: "12345678Z", Cups: "ES0031405000000001ZV", Segment: "domestico", Phone: "+34600111222", MandateID: "MND-1"},
	})
	require.NoError(t, err)
	r := bankReturn("F-201", "AM04", "funds", 5000, bankDay)
	r.MandateID = "MND-1"
	res, err := s.ImportBankFile(ctx, bankFile("ccc"), []BankReturn{r})
	require.NoError(t, err)
	require.Equal(t, ReturnStarted, res.Returns[0].Status)

	trade := func(invoice string, on time.Time) ReturnsImport {
		t.Helper()
		imp, err := s.ImportReturns(ctx, "trade.xlsx", ReturnRows([]sheets.Return{
			{Row: 2, Invoice: invoice, ReturnedAt: on, Customer: "Ana Pérez", Cups: "ES0031405000000001ZV", AmountCents: 5000},
		}))
		require.NoError(t, err)
		return imp
	}
	require.Empty(t, trade("F-201", day(2026, time.November, 21, 0)).New, "TRADE's row of the same return")
	require.Len(t, trade("F-201", day(2027, time.February, 21, 0)).New, 1, "returned again three months on")

	// TRADE first, then the bank's file of the same return: known.
	require.Len(t, trade("F-202", day(2026, time.November, 19, 0)).New, 1)
	r2 := bankReturn("F-202", "MS02", "disputed", 5000, bankDay)
	res, err = s.ImportBankFile(ctx, bankFile("ddd"), []BankReturn{r2})
	require.NoError(t, err)
	require.Equal(t, ReturnKnown, res.Returns[0].Status)
	require.NoError(t, s.MarkBankReturn(ctx, res.Returns[0].ID, ReturnSent, "told"))
	require.Equal(t, 1, count(t, s, `SELECT count(*) FROM bank_returns WHERE status = 'sent'`))
}
