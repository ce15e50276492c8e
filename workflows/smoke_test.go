package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/elega/impagos/activities"
)

func TestSmokeDomestic(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	env.RegisterActivity(a)
	env.OnActivity(a.OpenCase, mock.Anything, mock.Anything).Return(activities.OpenCaseResult{}, nil)
	env.OnActivity(a.LookupContract, mock.Anything, mock.Anything).Return(activities.Contract{Found: true, Segment: "domestico", Phone: "600000000", Cups: "X"}, nil)
	env.OnActivity(a.SendNotice, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NoticeInput) (activities.NoticeResult, error) {
		return activities.NoticeResult{Messages: []activities.Message{{Channel: "whatsapp", At: in.At}}}, nil
	})
	env.OnActivity(a.RecordStage, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.CheckSupply, mock.Anything, mock.Anything).Return(activities.SupplyStatus{}, nil)
	env.OnActivity(a.RequestCut, mock.Anything, mock.Anything).Return(activities.CutResult{CutID: 1}, nil)
	env.OnActivity(a.RecordPayment, mock.Anything, mock.Anything).Return(true, nil)
	env.OnActivity(a.SettleInvoice, mock.Anything, mock.Anything).Return(activities.SettleResult{SupplyCut: true, Reconnection: true}, nil)
	env.SetOnTimerScheduledListener(func(id string, d time.Duration) {})
	var approved bool
	env.RegisterDelayedCallback(func() {}, time.Hour)
	ticker := func() {}
	_ = ticker
	for i := 1; i < 200; i++ {
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(QueryState)
			require.NoError(t, err)
			var st State
			require.NoError(t, v.Get(&st))
			if st.Stage == StageCutReview && !approved {
				approved = true
				env.SignalWorkflow(SignalApproveCut, ApproveCutSignal{By: "rocio"})
			}
			if st.Stage == StageCut {
				env.SignalWorkflow(SignalPaid, PaidSignal{AmountCents: 12000, Reference: "r1"})
			}
		}, time.Duration(i)*24*time.Hour)
	}
	env.ExecuteWorkflow(ReturnedInvoice, Input{Invoice: "F1", Cups: "ES0021000000000000AA", AmountCents: 12000, Policy: DefaultPolicy()})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var r Result
	require.NoError(t, env.GetWorkflowResult(&r))
	v, _ := env.QueryWorkflow(QueryState)
	var st State
	v.Get(&st)
	for _, e := range st.History {
		t.Log(e.At.Format("2006-01-02 15:04 Mon"), e.Stage, e.What, e.By)
	}
	require.Equal(t, StageReconnected, r.Stage)
}
