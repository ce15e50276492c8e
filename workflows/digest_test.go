package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

func TestCutsDigest_SentOnWorkingDaysOnly(t *testing.T) {
	tests := []struct {
		name     string
		at       time.Time
		holidays []string
		sent     bool
	}{
		{"Monday", time.Date(2026, 11, 30, 8, 0, 0, 0, calendar.Madrid), nil, true},
		{"Friday (cuts are never on Fridays, the digest still goes)", time.Date(2026, 12, 4, 8, 0, 0, 0, calendar.Madrid), nil, true},
		{"Immaculate Conception, a national holiday", time.Date(2026, 12, 8, 8, 0, 0, 0, calendar.Madrid), nil, false},
		{"a regional holiday of the policy", time.Date(2026, 12, 10, 8, 0, 0, 0, calendar.Madrid), []string{"2026-12-10"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetStartTime(tt.at)
			env.RegisterActivity(a)
			var got []activities.DigestInput
			env.OnActivity(a.SendCutsDigest, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.DigestInput) (activities.DigestResult, error) {
					got = append(got, in)
					return activities.DigestResult{Cuts: 3, OutboxID: 9, Status: activities.StatusSent}, nil
				}).Maybe()
			env.ExecuteWorkflow(CutsDigest, DigestInput{Holidays: tt.holidays})
			require.NoError(t, env.GetWorkflowError())
			var res activities.DigestResult
			require.NoError(t, env.GetWorkflowResult(&res))
			if !tt.sent {
				require.True(t, res.Skipped)
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Equal(t, tt.at.Format(time.DateOnly), got[0].Day.In(calendar.Madrid).Format(time.DateOnly))
			require.Equal(t, 3, res.Cuts)
		})
	}
}

func TestDigestText_GroupsCutsByDay(t *testing.T) {
	day := time.Date(2026, 12, 14, 0, 0, 0, 0, calendar.Madrid)
	subject, body := activities.DigestText(time.Date(2026, 12, 11, 8, 0, 0, 0, calendar.Madrid), []activities.ScheduledCut{
		{CutDate: day, Invoice: "F-1", Customer: "Talleres Ruiz S.L.", Cups: "ES0031405512345001QF", AmountCents: 124560, Phone: "+34910000333", Stage: "cut_scheduled"},
		{CutDate: day, Invoice: "F-2", Customer: "Ana García", Cups: "ES0021000012345678LB", AmountCents: 8437, Stage: "cut_scheduled"},
		{CutDate: day.AddDate(0, 0, 1), Invoice: "F-3", Customer: "Bar Pepe", Cups: "ES0022000087654321XC", AmountCents: 100, Phone: "+34600444555", Stage: "cut_review"},
	})
	require.Equal(t, "Cortes programados a 11/12/2026: 3", subject)
	require.Contains(t, body, "Corte el 14/12/2026:\n  Talleres Ruiz S.L. · +34910000333 · CUPS ES0031405512345001QF · factura F-1 · 1.245,60 €")
	require.Contains(t, body, "Ana García · sin teléfono")
	require.Contains(t, body, "Corte el 15/12/2026:\n  Bar Pepe")
	require.Contains(t, body, "Total: 3 cortes, 1.330,97 € pendientes.")
}
