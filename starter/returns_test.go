package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The JSON of a dry run: the shape the clerks' tools read, one object per
// file, every return with its invoice, reason, path and IBAN check, the
// unmatched and the rejected ones apart; nothing is opened or stored.
func TestReturnsDryRunJSON(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable") // never opened
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")                                    // never dialled
	t.Setenv("IMPAGOS_E2E_PATTERN", "")
	t.Setenv("IMPAGOS_REASON_PATHS", "")
	var out bytes.Buffer
	err := cmdReturns(context.Background(), []string{"--dry-run", "--json", "../testdata/bank/pain002_es_bank.xml"}, &out)
	require.NoError(t, err)

	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	for _, k := range []string{"file", "format", "message_id", "returns", "unmatched", "rejected"} {
		require.Contains(t, got, k)
	}
	require.Equal(t, "pain.002", got["format"])
	require.Equal(t, "DEV2026031209410700021000000001", got["message_id"])
	var doc struct {
		Returns []struct {
			EndToEndID  string `json:"end_to_end_id"`
			Invoice     string `json:"invoice"`
			AmountCents int64  `json:"amount_cents"`
			Reason      string `json:"reason"`
			Path        string `json:"path"`
			IBANOK      *bool  `json:"iban_ok"`
		} `json:"returns"`
		Unmatched []any `json:"unmatched"`
		Rejected  []struct {
			Where, Reason string
		} `json:"rejected"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	require.Len(t, doc.Returns, 12)
	paths := map[string]string{}
	for _, r := range doc.Returns {
		require.NotNil(t, r.IBANOK, "iban_ok is always there")
		require.Equal(t, r.EndToEndID, r.Invoice)
		require.Positive(t, r.AmountCents)
		paths[r.Invoice] = r.Reason + " " + r.Path
		require.Equal(t, r.Invoice != "F2026-0112", *r.IBANOK, "%s iban_ok", r.Invoice)
	}
	require.Equal(t, map[string]string{
		"F2026-0101": "AM04 funds", "F2026-0102": "MS03 funds", "F2026-0103": "MD06 disputed",
		"F2026-0104": "MS02 disputed", "F2026-0105": "MD01 disputed", "F2026-0106": "MD01 account",
		"F2026-0107": "AC04 account", "F2026-0108": "AC06 account", "F2026-0109": "MD07 deceased",
		"F2026-0110": "AM05 our_error", "F2026-0111": "RR01 our_error", "F2026-0112": "AM04 funds",
	}, paths)
	require.Equal(t, int64(4560), doc.Returns[0].AmountCents)
	require.Empty(t, doc.Unmatched)
	require.Empty(t, doc.Rejected)
	require.NotNil(t, doc.Unmatched, "an empty list, not null")
}

// A pattern that reads the invoice elsewhere leaves the returns it does not
// match unmatched, with all they carry; a damaged transaction is rejected
// with where and why while the others are taken; a file that is not a return
// file stores nothing and says why.
func TestReturnsDryRunUnmatchedRejectedAndRefused(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	t.Setenv("IMPAGOS_E2E_PATTERN", `^(F2026-010[1-5])$`)
	t.Setenv("IMPAGOS_REASON_PATHS", "MS03=our_error")
	sample, err := os.ReadFile("../testdata/bank/pain002_es_bank.xml")
	require.NoError(t, err)
	// One amount with three decimals.
	damaged := strings.Replace(string(sample), `Ccy="EUR">45.60<`, `Ccy="EUR">45.605<`, 1)
	require.NotEqual(t, string(sample), damaged, "the sample's first amount is 45.60")
	dir := t.TempDir()
	path := filepath.Join(dir, "devoluciones.xml")
	require.NoError(t, os.WriteFile(path, []byte(damaged), 0o600))
	notReturns := filepath.Join(dir, "remesa.xml")
	require.NoError(t, os.WriteFile(notReturns, []byte(`<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"><CstmrDrctDbtInitn/></Document>`), 0o600))

	var out bytes.Buffer
	err = cmdReturns(context.Background(), []string{"--dry-run", "--json", path, notReturns}, &out)
	require.ErrorContains(t, err, "remesa.xml")
	var docs []struct {
		File    string `json:"file"`
		Error   string `json:"error"`
		Returns []struct {
			Invoice, Reason, Path string
		} `json:"returns"`
		Unmatched []struct {
			EndToEndID string `json:"end_to_end_id"`
			MandateID  string `json:"mandate_id"`
			DebtorIBAN string `json:"debtor_iban"`
		} `json:"unmatched"`
		Rejected []struct{ Where, Reason string } `json:"rejected"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &docs), out.String())
	require.Len(t, docs, 2)
	d := docs[0]
	require.Len(t, d.Rejected, 1)
	require.Contains(t, d.Rejected[0].Where, "F2026-0101")
	require.Contains(t, d.Rejected[0].Reason, "45.605")
	require.Len(t, d.Returns, 4, "F2026-0102 to 0105")
	require.Equal(t, "our_error", d.Returns[0].Path, "MS03 overridden")
	require.Len(t, d.Unmatched, 7, "0106 to 0112 do not match the pattern")
	require.NotEmpty(t, d.Unmatched[0].MandateID)
	require.NotEmpty(t, d.Unmatched[0].DebtorIBAN)
	require.Contains(t, docs[1].Error, "remesa.xml")
	require.Empty(t, docs[1].Returns)
}
