package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// The daily e-mail to the cuts desk with the cuts scheduled per day.
const (
	DigestWorkflowType = "CutsDigest"
	DigestScheduleID   = "impagos-cuts-digest"
)

// DigestInput carries the holidays of the policy, so the digest skips them.
type DigestInput struct {
	Holidays []string `json:"holidays,omitempty"`
}

// CutsDigest e-mails the cuts desk the cuts scheduled from today on, grouped by
// day, so the customers can be told again. It runs from a Temporal Schedule at
// 08:00 Europe/Madrid on weekdays and does nothing on holidays.
func CutsDigest(ctx workflow.Context, in DigestInput) (activities.DigestResult, error) {
	cal, err := Policy{Name: "digest", Holidays: in.Holidays}.Calendar()
	if err != nil {
		return activities.DigestResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	today := workflow.Now(ctx).In(calendar.Madrid)
	if !cal.IsWorkingDay(today) {
		workflow.GetLogger(ctx).Info("no digest on a holiday", "day", today.Format(time.DateOnly))
		return activities.DigestResult{Skipped: true}, nil
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		ScheduleToCloseTimeout: 6 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        10 * time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrInvalidInput},
		},
		Summary: "cortes programados por día",
	})
	var res activities.DigestResult
	err = workflow.ExecuteActivity(ctx, a.SendCutsDigest, activities.DigestInput{Day: today}).Get(ctx, &res)
	return res, err
}
