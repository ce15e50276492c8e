package activities_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

// digestCase stores a case the way the workflow does: opened, then moved to
// stage with cutDate (nil: none yet).
func digestCase(t *testing.T, db *store.Store, invoice, customer, cups string, cents int64, stage string, cutDate *time.Time) activities.CaseRef {
	t.Helper()
	ctx := context.Background()
	c := activities.CaseRef{WorkflowID: "impago-" + invoice, RunID: "run-1", Invoice: invoice, Customer: customer,
		Cups: cups, Stage: "checking", AmountDueCents: cents}
	_, err := db.OpenCase(ctx, activities.OpenCaseInput{Case: c, AmountCents: cents,
		ReturnedAt: time.Date(2026, 9, 1, 10, 0, 0, 0, calendar.Madrid)})
	require.NoError(t, err)
	c.Stage, c.CutDate = stage, cutDate
	require.NoError(t, db.RecordStage(ctx, activities.StageInput{Case: c, At: time.Date(2026, 11, 20, 9, 0, 0, 0, calendar.Madrid)}))
	return c
}

// The cuts desk gets one e-mail a day with the cuts still to come, from that
// day on and by date, and the cases awaiting its review (PROCESS "Every day").
func TestSendCutsDigestEmailsTheCutsDeskOnceADay(t *testing.T) {
	ctx := context.Background()
	db := newDeliveryStore(t)
	acts, stub := withSendGrid(t, db, 0)
	acts.CutsDeskEmail = "mesa.cortes@elega.example"

	monday := calendar.Date(2026, time.December, 14)
	wednesday := calendar.Date(2026, time.December, 16)
	thursdayBefore := calendar.Date(2026, time.December, 10)
	require.NoError(t, db.UpsertContract(ctx, activities.Contract{Cups: "ES0021000000000101JN", Customer: "Talleres Ruiz S.L.",
		Segment: activities.SegmentBusiness, Phone: "+34910000111"}))

	// On the list.
	digestCase(t, db, "F-101", "Talleres Ruiz S.L.", "ES0021000000000101JN", 123456, "cut_scheduled", &monday)
	digestCase(t, db, "F-102", "Bar Pepe", "ES0021000000000102JN", 5000, "cut_review", &monday)
	digestCase(t, db, "F-103", "Ana García", "ES0021000000000103JN", 8437, "cut_scheduled", &wednesday)
	// Its cut date passed and the desk has not decided yet: it stays on the desk's list.
	digestCase(t, db, "F-104", "Zapatería Luna", "ES0021000000000104JN", 7000, "cut_review", &thursdayBefore)

	// Not on the list.
	digestCase(t, db, "F-105", "Panadería Sol", "ES0021000000000105JN", 1000, "cut_scheduled", &thursdayBefore)
	paid := digestCase(t, db, "F-106", "Hostal Mar", "ES0021000000000106JN", 2000, "cut_scheduled", &monday)
	// Settled with no stage of its own: the status alone keeps it off the list,
	// whatever stage the row last recorded.
	paid.Stage, paid.AmountDueCents = "", 0
	_, err := db.Settle(ctx, activities.SettleInput{Case: paid, PaidAt: time.Date(2026, 12, 11, 12, 0, 0, 0, calendar.Madrid)})
	require.NoError(t, err)
	cut := digestCase(t, db, "F-107", "Frutas Díaz", "ES0021000000000107JN", 3000, "cut_review", &monday)
	_, err = db.RequestCut(ctx, activities.CutInput{Case: cut, ApprovedBy: "rocio", At: time.Date(2026, 12, 14, 7, 30, 0, 0, calendar.Madrid)})
	require.NoError(t, err)
	cut.Stage = "cut"
	require.NoError(t, db.RecordStage(ctx, activities.StageInput{Case: cut, Actor: "rocio", At: time.Date(2026, 12, 14, 7, 31, 0, 0, calendar.Madrid)}))
	digestCase(t, db, "F-108", "Librería Paz", "ES0021000000000108JN", 4000, "notice_2", nil)

	// The schedule fires at 08:00; Temporal retries the activity.
	in := activities.DigestInput{Day: time.Date(2026, 12, 14, 8, 0, 0, 0, calendar.Madrid)}
	first, err := call[activities.DigestResult](t, acts.SendCutsDigest, in)
	require.NoError(t, err)
	require.Equal(t, 4, first.Cuts)
	require.Equal(t, activities.StatusSent, first.Status)
	again, err := call[activities.DigestResult](t, acts.SendCutsDigest, in)
	require.NoError(t, err)
	require.Equal(t, first.OutboxID, again.OutboxID, "the same e-mail, not a second one")
	require.Equal(t, activities.StatusSent, again.Status)

	rows, err := db.Outbox(ctx, store.OutboxFilter{Kind: "digest_cortes"})
	require.NoError(t, err)
	require.Len(t, rows, 1, "one digest a day")
	row := rows[0]
	require.Equal(t, first.OutboxID, row.ID)
	require.Equal(t, "mesa.cortes@elega.example", row.Recipient)
	require.Equal(t, activities.ChannelEmail, row.Channel)
	require.Equal(t, activities.StatusSent, row.Status)
	require.Equal(t, "Cortes programados a 14/12/2026: 4", row.Subject)

	require.Len(t, stub.accepted, 1, "sent once")
	sent := stub.accepted[0]
	to := sent["personalizations"].([]any)[0].(map[string]any)["to"].([]any)[0].(map[string]any)["email"]
	require.Equal(t, "mesa.cortes@elega.example", to)
	require.Equal(t, row.Body, sent["content"].([]any)[0].(map[string]any)["value"], "the stored text is the text sent")

	body := row.Body
	for _, inv := range []string{"F-105", "F-106", "F-107", "F-108"} {
		require.NotContains(t, body, "factura "+inv+" ", "before the day, paid, already cut or without a cut date")
	}
	// By date: the overdue review, then the day's cuts, then Wednesday's.
	blocks := []struct{ heading, line string }{
		{"Corte el 10/12/2026:", "Zapatería Luna · sin teléfono · CUPS ES0021000000000104JN · factura F-104 · 70,00 € · cut_review"},
		{"Corte el 14/12/2026:", "Bar Pepe · sin teléfono · CUPS ES0021000000000102JN · factura F-102 · 50,00 € · cut_review"},
		{"", "Talleres Ruiz S.L. · +34910000111 · CUPS ES0021000000000101JN · factura F-101 · 1.234,56 € · cut_scheduled"},
		{"Corte el 16/12/2026:", "Ana García · sin teléfono · CUPS ES0021000000000103JN · factura F-103 · 84,37 € · cut_scheduled"},
	}
	at := 0
	for _, b := range blocks {
		for _, s := range []string{b.heading, b.line} {
			if s == "" {
				continue
			}
			i := strings.Index(body[at:], s)
			require.GreaterOrEqual(t, i, 0, "%q after offset %d in\n%s", s, at, body)
			at += i + len(s)
		}
	}
	require.Contains(t, body, "Total: 4 cortes, 1.438,93 € pendientes.")
}
