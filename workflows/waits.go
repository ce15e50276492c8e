package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
)

// waitUntil sleeps until the case-time moment at. It records payments as they
// come, unwinds with errSettled once nothing is due, and pauses while on hold.
func (c *invoiceCase) waitUntil(ctx workflow.Context, at time.Time, next string) error {
	for {
		if err := c.handleInterrupts(ctx); err != nil {
			return err
		}
		now := c.now(ctx)
		if !now.Before(at) {
			return nil
		}
		d := c.in.Policy.realDuration(at.Sub(now))
		c.setNext(ctx, next, &at, workflow.Now(ctx).Add(d))
		opts := workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: next}}
		if _, err := workflow.AwaitWithOptions(ctx, opts, c.interrupted); err != nil {
			return err
		}
	}
}

// waitFor waits, with no deadline, until cond holds, with the same care for
// payments and holds as waitUntil.
func (c *invoiceCase) waitFor(ctx workflow.Context, cond func() bool, next string) error {
	for {
		if err := c.handleInterrupts(ctx); err != nil {
			return err
		}
		if cond() {
			return nil
		}
		c.setNext(ctx, next, nil, time.Time{})
		if err := workflow.Await(ctx, func() bool { return cond() || c.interrupted() }); err != nil {
			return err
		}
	}
}

func (c *invoiceCase) interrupted() bool {
	return len(c.pending) > 0 || c.st.AmountDueCents <= 0 || (c.hold != nil && c.st.Stage != StageOnHold)
}

// handleInterrupts records pending payments, reports errSettled when nothing
// is due, and keeps the case on hold until it is released. A hold goes to the
// ledger before the case stops (so no cut request passes it), and leaves it
// when the case is released.
func (c *invoiceCase) handleInterrupts(ctx workflow.Context) error {
	for {
		if err := c.flushPayments(ctx); err != nil {
			return err
		}
		if c.st.AmountDueCents <= 0 {
			return errSettled
		}
		if c.hold == nil {
			if c.safe && c.ledgerHold {
				if err := c.recordHold(ctx, false, "", c.releasedBy); err != nil {
					return err
				}
			}
			if c.st.Stage == StageOnHold {
				c.st.Hold = nil
				c.setStage(ctx, c.resumeStage, "liberado", c.releasedBy)
				if err := c.recordStage(ctx, "liberado", c.releasedBy); err != nil {
					return err
				}
			}
			return nil
		}
		if c.st.Stage != StageOnHold {
			if c.safe && !c.hold.NeverCut && !c.ledgerHold {
				applied, err := c.recordHoldOf(ctx, c.hold)
				if err != nil {
					return err
				}
				if !applied || c.hold == nil {
					// Refused by the ledger (the hold is gone), or released
					// while the ledger took it: the loop lifts it there.
					continue
				}
			}
			c.holds++
			c.resumeStage = c.st.Stage
			c.st.Hold = c.hold
			c.setStage(ctx, StageOnHold, "en espera: "+c.hold.Reason, c.hold.By)
			c.setNext(ctx, "decisión de una persona (release)", nil, time.Time{})
			if err := c.recordStage(ctx, "en espera: "+c.hold.Reason, c.hold.By); err != nil {
				return err
			}
		}
		if err := workflow.Await(ctx, func() bool {
			return c.hold == nil || len(c.pending) > 0 || c.st.AmountDueCents <= 0
		}); err != nil {
			return err
		}
	}
}

// recordHoldOf writes a person's hold to the ledger. The ledger refuses it
// once the supply point's cut was requested for the invoice; the hold is then
// dropped and the history says why.
func (c *invoiceCase) recordHoldOf(ctx workflow.Context, h *Hold) (bool, error) {
	var res activities.HoldResult
	if err := c.call(ctx, "registrar espera", a.RecordHold, activities.HoldInput{
		Case: c.ref(), On: true, Reason: h.Reason, By: h.By, At: c.now(ctx),
	}, &res); err != nil {
		return false, err
	}
	if !res.Applied {
		if c.hold == h {
			c.hold = nil
		}
		c.event(ctx, "espera rechazada por el registro: "+res.Detail, h.By)
		return false, nil
	}
	h.Recorded = true
	c.ledgerHold = true
	return true, nil
}

// recordHold lifts the ledger's hold.
func (c *invoiceCase) recordHold(ctx workflow.Context, on bool, reason, by string) error {
	var res activities.HoldResult
	if err := c.call(ctx, "levantar espera", a.RecordHold, activities.HoldInput{
		Case: c.ref(), On: on, Reason: reason, By: by, At: c.now(ctx),
	}, &res); err != nil {
		return err
	}
	c.ledgerHold = on
	return nil
}

// flushPayments writes the payments received by signal to the ledger. One the
// ledger refuses (a key that names another payment) is taken back from the
// amount due, and the history says why: it is never retried.
func (c *invoiceCase) flushPayments(ctx workflow.Context) error {
	for len(c.pending) > 0 {
		p := c.pending[0]
		err := c.recordPayment(ctx, p)
		if err != nil && !isRefusedPayment(err) {
			return err
		}
		if err != nil {
			c.event(ctx, "pago no registrado: "+err.Error(), "")
			if c.safe {
				c.takeBack(ctx, p)
			}
		}
		c.pending = c.pending[1:]
	}
	return nil
}

// recordPayment puts a payment in the ledger. One the case dated itself is
// recorded by an ordinary activity: its key holds the day the case read on its
// clock, and a local activity that committed it in a workflow task the worker
// did not finish would run again in the next attempt of that task, which reads
// the clock later, under another day's key: the payment counted twice.
func (c *invoiceCase) recordPayment(ctx workflow.Context, p Payment) error {
	in := activities.PaymentInput{
		Case: c.ref(), Key: p.Key, AmountCents: p.AmountCents, PaidAt: p.PaidAt, Reference: p.Reference,
	}
	if p.dated {
		return c.callActivity(ctx, "registrar pago", a.RecordPayment, in, nil)
	}
	return c.call(ctx, "registrar pago", a.RecordPayment, in, nil)
}

// isRefusedPayment reports a payment no retry can record.
func isRefusedPayment(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && (app.Type() == activities.ErrInvalidInput || app.Type() == activities.ErrPaymentRefused)
}
