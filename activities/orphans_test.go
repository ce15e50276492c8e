package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/store"
)

// fakeCases answers the orphan check as Temporal would: the invoices of
// closed lists have a run that is no longer running.
type fakeCases struct {
	closed map[string]string // invoice -> status
	err    error
	asked  []string
}

func (f *fakeCases) Orphans(_ context.Context, open []activities.OpenInvoice) ([]activities.Orphan, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []activities.Orphan
	for _, o := range open {
		f.asked = append(f.asked, o.Invoice)
		if s, ok := f.closed[o.Invoice]; ok {
			closed := time.Date(2026, 12, 11, 17, 5, 0, 0, calendar.Madrid)
			out = append(out, activities.Orphan{OpenInvoice: o, Status: s, ClosedAt: &closed})
		}
	}
	return out, nil
}

// A terminated case runs no code: its invoice stays open in the ledger, and
// the cuts desk's daily e-mail is where a person hears of it.
func TestCutsDigestTellsOfOpenInvoicesWhoseCaseIsClosed(t *testing.T) {
	ctx := context.Background()
	monday := calendar.Date(2026, time.December, 14)
	in := activities.DigestInput{Day: time.Date(2026, 12, 14, 8, 0, 0, 0, calendar.Madrid)}
	for _, tc := range []struct {
		name        string
		cases       *fakeCases
		subject     string
		orphans     int
		contains    []string
		notContains []string
	}{
		{
			name:    "a terminated and a timed out case",
			cases:   &fakeCases{closed: map[string]string{"F-201": "terminated", "F-203": "timed_out"}},
			subject: "Cortes programados a 14/12/2026: 1 · 2 factura(s) abierta(s) sin caso en marcha",
			orphans: 2,
			contains: []string{
				"Facturas abiertas en el libro cuyo caso ya no está en marcha en Temporal (2)",
				"factura F-201 · etapa cut_scheduled · abierta el ",
				"caso terminated el 11/12/2026 17:05",
				"factura F-203 · etapa notice_2",
				"caso timed_out",
			},
			notContains: []string{"factura F-202 · etapa"},
		},
		{
			name:        "every case running",
			cases:       &fakeCases{},
			subject:     "Cortes programados a 14/12/2026: 1",
			notContains: []string{"Facturas abiertas en el libro", "No se pudo comprobar"},
		},
		{
			name:     "Temporal does not answer: the cuts still go out",
			cases:    &fakeCases{err: errors.New("list running cases: unavailable")},
			subject:  "Cortes programados a 14/12/2026: 1",
			contains: []string{"No se pudo comprobar hoy qué facturas abiertas no tienen caso en marcha: list running cases: unavailable"},
		},
		{
			name:        "no checker: no check",
			subject:     "Cortes programados a 14/12/2026: 1",
			notContains: []string{"Facturas abiertas en el libro", "No se pudo comprobar"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDeliveryStore(t)
			acts, _ := withSendGrid(t, db, 0)
			if tc.cases != nil {
				acts.Cases = tc.cases
			}
			digestCase(t, db, "F-201", "Talleres Ruiz S.L.", "ES0021000000000201JN", 123456, "cut_scheduled", &monday)
			digestCase(t, db, "F-202", "Bar Pepe", "ES0021000000000202JN", 5000, "notice_1", nil)
			digestCase(t, db, "F-203", "Ana García", "ES0021000000000203JN", 8437, "notice_2", nil)
			paid := digestCase(t, db, "F-204", "Hostal Mar", "ES0021000000000204JN", 2000, "notice_1", nil)
			_, err := db.Settle(ctx, activities.SettleInput{Case: paid, PaidAt: time.Date(2026, 12, 11, 12, 0, 0, 0, calendar.Madrid)})
			require.NoError(t, err)

			res, err := call[activities.DigestResult](t, acts.SendCutsDigest, in)
			require.NoError(t, err)
			require.Equal(t, 1, res.Cuts)
			require.Equal(t, tc.orphans, res.Orphans)
			if tc.cases != nil && tc.cases.err == nil {
				require.Equal(t, []string{"F-201", "F-202", "F-203"}, tc.cases.asked, "only the open invoices are checked")
			}
			rows, err := db.Outbox(ctx, store.OutboxFilter{Kind: "digest_cortes"})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			require.Equal(t, tc.subject, rows[0].Subject)
			require.Contains(t, rows[0].Body, "Total: 1 cortes, 1.234,56 € pendientes.", "the cuts list as ever")
			for _, s := range tc.contains {
				require.Contains(t, rows[0].Body, s)
			}
			for _, s := range tc.notContains {
				require.NotContains(t, rows[0].Body, s)
			}
		})
	}
}
