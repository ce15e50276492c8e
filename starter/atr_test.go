package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/cups"
	"github.com/elega/impagos/internal/distributor"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

func TestATRCommandsCheckTheirArgumentsFirst(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable") // never opened
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")                                    // never dialled
	t.Setenv(distributor.EnvOutbox, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"atr"}, "want a subcommand: import, pending, clear-protection or limit-done"},
		{[]string{"atr", "export"}, `unknown subcommand "export": want import, pending, clear-protection or limit-done`},
		{[]string{"atr", "import"}, "want one or more answer files of the distributor"},
		{[]string{"atr", "pending", "today"}, `unexpected arguments ["today"]`},
		{[]string{"atr", "clear-protection", "--reason", "revisado"}, "want exactly one CUPS, got 0 arguments"},
		{[]string{"atr", "clear-protection", "ES0021000000000001RK"}, "--reason is required"},
		{[]string{"atr", "clear-protection", "ES0021000000000001RK", "--reason", " "}, "--reason is required"},
		{[]string{"atr", "limit-done"}, "want exactly one power limitation ID, got 0 arguments"},
		{[]string{"atr", "limit-done", "siete"}, `power limitation ID "siete" is not a number (see starter atr pending)`},
		{[]string{"atr", "limit-done", "0"}, `power limitation ID "0" is not a number (see starter atr pending)`},
	} {
		code, out, errOut := starter(t, tc.args...)
		require.Equal(t, 1, code, "%v", tc.args)
		require.Empty(t, out, "%v", tc.args)
		require.Equal(t, "starter atr: "+tc.want+"\n", errOut, "%v", tc.args)
	}

	t.Setenv(distributor.EnvOutbox, t.TempDir())
	t.Setenv(distributor.EnvREECode, "")
	code, _, errOut := starter(t, "atr", "import", "B1_02_000000000001_01.xml")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "IMPAGOS_ATR_OUTBOX is set but not IMPAGOS_ATR_REE_CODE")
}

// ownLedger gives the commands a ledger of the test's own: a migrated schema
// that DATABASE_URL names.
func ownLedger(t *testing.T) *store.Store {
	t.Helper()
	if os.Getenv("IMPAGOS_INTEGRATION") == "" {
		t.Skip("integration test: needs IMPAGOS_INTEGRATION=1 and Postgres")
	}
	ctx := context.Background()
	dsn := os.Getenv("DATABASE_URL")
	db, drop, err := store.OpenIsolated(ctx, dsn, "starter_atr_test")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, drop()) })
	var schema string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT current_schema()`).Scan(&schema))
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Setenv("DATABASE_URL", u.String())
	return db
}

// cutRequested opens the case of invoice on supply point n and has the
// ledger ask the distributor to cut it (B1 01, as retailer 0999).
func cutRequested(t *testing.T, db *store.Store, invoice string, n int64) (activities.CaseRef, activities.DistributorState) {
	t.Helper()
	c := cutCase(t, db, invoice, n)
	res, err := db.RequestCut(context.Background(), activities.CutInput{Case: c, ApprovedBy: "rocio", At: time.Now(), ATR: true, From: "0999"})
	require.NoError(t, err)
	require.NotNil(t, res.Request)
	return c, *res.Request
}

func TestATRPendingListsWhatWaitsForSomeone(t *testing.T) {
	db := ownLedger(t)
	ctx := context.Background()
	c, req := cutRequested(t, db, "F-ATR-1", 1)
	limited := cutCase(t, db, "F-ATR-2", 2)
	limit, err := db.RequestPowerLimit(ctx, activities.LimitInput{Case: limited, KW: 3.5, ApprovedBy: "rocio", At: time.Now()})
	require.NoError(t, err)
	require.NoError(t, db.RecordATRRejectedFile(ctx, "respuesta.xml", []byte("<no/>"), "respuesta.xml: not a B1 message"))

	code, out, errOut := starter(t, "atr", "pending")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(out, "\n")
	require.Contains(t, lines[0], "REQUESTED")
	require.Regexp(t, `^\S+ \S+\s+`+c.Cups+`\s+F-ATR-1\s+`+req.Code+`\s+cut\s+sent\s+02\s+\S+\s+\S+ \S+\s+0d\s*$`, lines[1])
	require.Contains(t, out, "1 request(s) awaiting the distributor, 0 late\n")
	require.Regexp(t, `(?m)^`+strconv.FormatInt(limit.RequestID, 10)+`\s+\S+\s+`+limited.Cups+`\s+F-ATR-2\s+open\s+limitar potencia a 3,5 kW\s+rocio\s+0d$`, out)
	require.Contains(t, out, "1 power limitation(s) to do (done: starter atr limit-done ID)\n")
	require.Regexp(t, `(?m)^\S+ \S+\s+respuesta\.xml\s+respuesta\.xml: not a B1 message$`, out)
	require.Contains(t, out, "1 answer file(s) rejected (kept in the inbox's rejected/ folder)\n")

	code, out, errOut = starter(t, "atr", "pending", "--json")
	require.Equal(t, 0, code, errOut)
	var got store.ATRPending
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Requests, 1)
	require.Equal(t, req.RequestID, got.Requests[0].ID)
	require.Equal(t, "02", got.Requests[0].Awaiting)
	require.False(t, got.Requests[0].Overdue)
	require.Len(t, got.PowerLimits, 1)
	require.Len(t, got.RejectedFiles, 1)

	code, out, errOut = starter(t, "atr", "pending", "--overdue")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "REQUESTED  CUPS  INVOICE  CODE  KIND  STATUS  AWAITING  PLANNED  DUE  AGE\n"+
		"0 request(s) awaiting the distributor, 0 late\n", out)
}

// cutCase opens the case of invoice on supply point n, with its contract.
func cutCase(t *testing.T, db *store.Store, invoice string, n int64) activities.CaseRef {
	t.Helper()
	ctx := context.Background()
	c := activities.CaseRef{WorkflowID: workflows.WorkflowID(invoice), RunID: "run-1", Invoice: invoice,
		Customer: "Ana García López", Cups: cups.Make(21, n), Stage: "cut_review", AmountDueCents: 4200}
	require.NoError(t, db.UpsertContract(ctx, activities.Contract{Customer: "Ana García López", TaxID: "12345678Z",
		Cups: c.Cups, Segment: activities.SegmentDomestic, Phone: "+34600000000", Province: "Madrid"}))
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: 4200, ReturnedAt: time.Now().AddDate(0, -3, 0)})
	require.NoError(t, err)
	return c
}

func TestATRLimitDoneRecordsWhoOnce(t *testing.T) {
	db := ownLedger(t)
	ctx := context.Background()
	c := cutCase(t, db, "F-ATR-3", 3)
	limit, err := db.RequestPowerLimit(ctx, activities.LimitInput{Case: c, KW: 3.5, ApprovedBy: "rocio", At: time.Now()})
	require.NoError(t, err)
	id := strconv.FormatInt(limit.RequestID, 10)

	code, out, errOut := starter(t, "atr", "limit-done", id, "--by", "marta")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "power limitation "+id+" ("+c.Cups+", invoice F-ATR-3, 3,5 kW) recorded done by marta\n", out)

	code, out, errOut = starter(t, "atr", "limit-done", id, "--by", "luis")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Regexp(t, `^starter atr: power limitation `+id+` done: already done by marta on \S+ \S+\n$`, errOut)
}

func TestATRClearProtectionLiftsItAndNamesTheOpenInvoices(t *testing.T) {
	db := ownLedger(t)
	ctx := context.Background()
	c := cutCase(t, db, "F-ATR-4", 4)
	_, err := db.Pool().Exec(ctx, `INSERT INTO supply_points (cups, protection, protection_at)
		VALUES ($1, 'la distribuidora rechaza el corte: suministro esencial', now())`, c.Cups)
	require.NoError(t, err)

	code, out, errOut := starter(t, "atr", "clear-protection", c.Cups, "--by", "marta", "--reason", "no es esencial")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "supply point "+c.Cups+": protection cleared by marta\n"+
		"open invoices: F-ATR-4 (a case held for the protection reads the contract again when released: starter release INVOICE)\n", out)
	k, err := db.Contract(ctx, c)
	require.NoError(t, err)
	require.Empty(t, k.Protection)

	code, out, errOut = starter(t, "atr", "clear-protection", c.Cups, "--by", "marta", "--reason", "otra vez")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "starter atr: clear protection of "+c.Cups+": no protection to clear\n", errOut)
}

// A file is read as the worker reads its inbox: processed or rejected, moved
// only when it is a file of the inbox folder; a rejection fails the command.
// The case told is not running: Temporal answers NotFound, which is no error.
func TestATRImportReadsFilesAsTheInboxDoes(t *testing.T) {
	integration(t)
	db := ownLedger(t)
	inbox := filepath.Join(t.TempDir(), "inbox")
	t.Setenv(distributor.EnvInbox, inbox)
	t.Setenv(distributor.EnvOutbox, "")
	c, req := cutRequested(t, db, "F-ATR-5-"+token(), 5)
	h := atr.Header{From: "0021", To: "0999", Process: atr.ProcessB1, Step: "02", Code: req.Code, Seq: "01",
		RequestedAt: time.Now().In(calendar.Madrid).Truncate(time.Second), CUPS: c.Cups}
	body, err := atr.Marshal(atr.Message{Header: h, Kind: atr.Rejected, Date: calendar.Date(time.Now().In(calendar.Madrid).Date()),
		Rejections: []atr.Rejection{{Seq: "01", Code: "ZZ", Comment: "No se puede atender la solicitud"}}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(inbox, 0o750))
	inInbox := filepath.Join(inbox, atr.FileName(h))
	require.NoError(t, os.WriteFile(inInbox, body, 0o640))
	elsewhere := filepath.Join(t.TempDir(), "respuesta.xml")
	require.NoError(t, os.WriteFile(elsewhere, []byte("<no/>"), 0o640))

	code, out, errOut := starter(t, "atr", "import", inInbox, elsewhere)
	require.Equal(t, 1, code)
	require.Equal(t, "starter atr: 1 of 2 file(s) rejected\n", errOut)
	moved := filepath.Join(inbox, distributor.ProcessedDir, atr.FileName(h))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 2)
	require.Equal(t, inInbox+": processed: step 02 (rejected) of request "+req.Code+", now rejected; 1 case(s) told, moved to "+moved, lines[0])
	require.True(t, strings.HasPrefix(lines[1], elsewhere+": rejected: respuesta.xml: "), lines[1])
	require.FileExists(t, moved)
	require.FileExists(t, elsewhere)
	require.NoFileExists(t, filepath.Join(filepath.Dir(elsewhere), "rejected"))

	var answer int64
	require.NoError(t, db.Pool().QueryRow(context.Background(), `SELECT id FROM atr_messages WHERE direction = 'in'`).Scan(&answer))
	code, out, errOut = starter(t, "atr", "import", moved)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, moved+": duplicate of answer "+strconv.FormatInt(answer, 10)+", read before; 1 case(s) told again\n", out)
}
