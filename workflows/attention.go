package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// call runs an activity and waits for its result. No case waits silently on
// an error: an activity still failing after the policy's bound raises the
// case's NeedsAttention flag, with the error as its reason, on top of its
// stage; the activity goes on being retried, and the flag clears when it
// succeeds (or when a person releases or cancels the case). Errors that no
// retry can heal are non-retryable and come back at once.
//
// A case started with localLedger reads and writes the ledger by local
// activities first: a few milliseconds in the workflow task that needs them,
// with no task to dispatch and no events of their own beyond a marker. One
// that does not succeed within ledgerLocalBound (Postgres away, a row locked
// by another case of the supply point) is run again as an ordinary activity,
// retried and watched as above. Every ledger write is idempotent, so the
// second run of one the first did commit changes nothing.
//
// What reaches someone outside goes by callActivity instead: a request to
// the distributor (RequestCut, RequestPowerLimit, SendToDistributor), a
// notice's later deliveries (DeliverNotice), and a notice itself in a case
// started before localNotices. A local activity runs before its workflow task
// is recorded; a task the server never recorded (a restart, a killed worker)
// is run again from the history before it, and when a signal came meanwhile
// it may take another path: the case would not know of what its lost attempt
// sent. An ordinary activity is scheduled only once the task that decided it
// is recorded. A cut request, irreversible, is never sent so.
//
// A notice is, from localNotices on (sendNotice): the outbox keeps it under a
// key of the case's run and step, so the task run again on the same path
// finds it there and sends nothing twice, and on another path what the case
// must know of its notices it asks the ledger when it settles
// (SettleResult.Notified: a payment is confirmed to a customer who got any
// notice; SettleResult.Unsent: the e-mails a lost task stored or left
// sending are delivered before the case closes).
//
// A request the ledger writes is handed to the distributor by the call that
// wrote it (RequestCut, SettleInvoice with Send): the worker's sweep sends
// whatever the ledger holds unsent anyway, so the write is what commits the
// request, and the case runs SendToDistributor only for a request the
// distributor did not take then.
func (c *invoiceCase) call(ctx workflow.Context, summary string, activity, arg, result any) error {
	if c.local {
		err := c.callLocal(ctx, summary, activity, arg, result)
		if err == nil || !fallBack(err) || ctx.Err() != nil {
			return err
		}
		c.logger.Info("ledger call run as an activity", "call", summary, "error", err)
	}
	return c.callActivity(ctx, summary, activity, arg, result)
}

// ledgerLocalBound is how long a local activity may take, retries included,
// before it is run as an ordinary activity: well under the workflow task's
// timeout, so a slow one never makes the task heartbeat.
const ledgerLocalBound = 3 * time.Second

func (c *invoiceCase) callLocal(ctx workflow.Context, summary string, activity, arg, result any) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		Summary:                summary,
		ScheduleToCloseTimeout: ledgerLocalBound,
		StartToCloseTimeout:    ledgerLocalBound,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        50 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Second,
			NonRetryableErrorTypes: refusals,
		},
	})
	c.inLocal++
	defer func() { c.inLocal-- }()
	return workflow.ExecuteLocalActivity(lctx, activity, arg).Get(ctx, result)
}

// fallBack tells a local activity that ran out of time or attempts from one
// that was refused for good or cancelled: only the first is run again.
func fallBack(err error) bool {
	if temporal.IsCanceledError(err) {
		return false
	}
	var app *temporal.ApplicationError
	return !errors.As(err, &app) || !app.NonRetryable()
}

// callActivity runs an ordinary activity (see call).
func (c *invoiceCase) callActivity(ctx workflow.Context, summary string, activity, arg, result any) error {
	if !c.safe {
		return c.exec(ctx, summary, activity, arg).Get(ctx, result)
	}
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	opts.ScheduleToCloseTimeout = c.in.Policy.AttentionAfter
	actx := workflow.WithActivityOptions(ctx, opts)
	raised := false
	for {
		err := workflow.ExecuteActivity(actx, activity, arg).Get(ctx, result)
		if err == nil || !boundReached(err) || ctx.Err() != nil {
			if raised && err == nil {
				c.clearAttention(ctx, summary+": completado")
			}
			return err
		}
		raised = true
		c.raiseAttention(ctx, fmt.Sprintf("%s sigue fallando tras %s: %v", summary, c.in.Policy.AttentionAfter, lastFailure(err)))
	}
}

// boundReached reports an activity that kept failing, or did not answer,
// until its schedule-to-close bound: the server stops retrying it then, with
// a timeout or with its last failure. Attempts are unlimited, so a failure
// that is neither refused for good nor cancelled can only mean that.
func boundReached(err error) bool {
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return true
	}
	var act *temporal.ActivityError
	if !errors.As(err, &act) || temporal.IsCanceledError(err) {
		return false
	}
	if act.RetryState() == enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
		return false
	}
	var app *temporal.ApplicationError
	return !errors.As(err, &app) || !app.NonRetryable()
}

// lastFailure is the cause a timed-out activity's last attempt failed with.
func lastFailure(err error) error {
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) && timeout.LastHeartbeatDetails() == nil {
		if cause := errors.Unwrap(timeout); cause != nil {
			return cause
		}
	}
	return err
}

// raiseAttention flags the case for a person, with why; it shows in the
// state, the history and the NeedsAttention search attribute.
func (c *invoiceCase) raiseAttention(ctx workflow.Context, why string) {
	if c.st.Attention == why {
		return
	}
	if c.st.Attention == "" {
		now := c.now(ctx)
		c.st.AttentionSince = &now
	}
	c.st.Attention = why
	c.event(ctx, "requiere atención: "+why, "")
	c.logger.Warn("needs attention", "why", why)
	c.publish(ctx)
}

// clearAttention lowers the flag, saying what settled it.
func (c *invoiceCase) clearAttention(ctx workflow.Context, what string) {
	if c.st.Attention == "" {
		return
	}
	c.st.Attention, c.st.AttentionSince = "", nil
	if what != "" {
		c.event(ctx, "atención resuelta: "+what, "")
	}
	c.publish(ctx)
}
