package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// settle closes a case whose amount due reached zero: before a cut it is
// simply paid; after one the distributor is asked to reconnect the supply
// (PROCESS step 8: by the next day at the latest), once every invoice of the
// supply point is paid. The ledger decides which settlement asks for the
// reconnection (store.Settle), so a supply point is reconnected exactly once.
func (c *invoiceCase) settle(ctx workflow.Context) error {
	// A payment an update is writing to the ledger is part of this close.
	if err := workflow.Await(ctx, func() bool { return c.recording == 0 }); err != nil {
		return err
	}
	if err := c.flushPayments(ctx); err != nil {
		return err
	}
	silent := c.hold != nil && c.hold.Silent
	c.hold, c.st.Hold = nil, nil
	stage := StagePaid
	switch {
	case c.atr && c.st.Request != nil && c.st.CutAt != nil:
		stage = StageReconnectRequested
	case c.atr && c.st.Request != nil:
		stage = StageCutCancelRequested
	case c.st.CutAt != nil:
		stage = StageReconnecting
		c.setStage(ctx, StageReconnecting, "pagada tras el corte: reconexión", "")
	}
	now := c.now(ctx)
	var res activities.SettleResult
	if err := c.call(ctx, "cerrar factura y reconexión si procede", a.SettleInvoice, activities.SettleInput{
		Case:   c.refWithStage(stage),
		PaidAt: now,
		DueBy:  c.reconnectBy(now),
		Send:   c.atr,
	}, &res); err != nil {
		return err
	}
	c.st.NextAction, c.st.NextActionAt = "", nil
	c.deliverUnknown(ctx, res.Unsent)
	if c.atr && res.Request != nil {
		// The ledger asked the distributor to cancel the cut or restore the
		// supply (B1 03): the case follows it to the distributor's answer.
		return c.release(ctx, res, now)
	}
	if res.Reconnection {
		c.st.ReconnectAt = &now
		c.setStage(ctx, StageReconnected, "reconexión solicitada a la distribuidora", "")
		return c.sendNotice(ctx, "reconexion", activities.KindReconnected, nil, nil)
	}
	what := "pagada"
	switch {
	case res.SupplyCut && c.st.Request != nil && c.st.CutAt == nil:
		what = "pagada; la solicitud de corte sigue en pie por: " + strings.Join(res.StillOpen, ", ")
	case res.SupplyCut:
		what = "pagada; el suministro sigue cortado por: " + strings.Join(res.StillOpen, ", ")
	}
	c.setStage(ctx, StagePaid, what, "")
	if len(c.st.Notices) == 0 && !res.Notified {
		// Paid before anything was sent: nothing to confirm (PROCESS step 1).
		// The ledger is asked too: a notice sent by a local activity of a
		// workflow task the server lost is in the outbox, not in the case.
		return nil
	}
	if silent {
		c.event(ctx, "confirmación de pago no enviada: la devolución fue un error nuestro", "")
		return nil
	}
	if len(c.st.Notices) == 0 && !c.contract.Found {
		// The notice only the ledger knows of was the first: the contract,
		// read for it, is read again for the confirmation's channels.
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
	}
	return c.sendNotice(ctx, "pago", activities.KindPaid, nil, nil)
}

// reconnectBy is when the distributor must have reconnected after a payment
// at paidAt: the next day (before ATR, the same time of it), at its end.
func (c *invoiceCase) reconnectBy(paidAt time.Time) time.Time {
	due := paidAt.AddDate(0, 0, c.in.Policy.ReconnectWithinDays)
	if !c.atr {
		return due
	}
	return time.Date(due.Year(), due.Month(), due.Day(), 23, 59, 59, 0, calendar.Madrid)
}

// deliverUnknown delivers the e-mails of notices the case does not know of,
// still pending or left sending: a workflow task the server lost stored them
// by a local activity, maybe claimed one for the provider and stopped, and
// the task run again took another path. DeliverNotice settles each as it
// settles any e-mail cut short (the provider's event, or sent again), while
// the case closes: it does not end before the delivery answers (close).
func (c *invoiceCase) deliverUnknown(ctx workflow.Context, unsent []int64) {
	known := map[int64]bool{}
	for _, n := range c.st.Notices {
		known[n.OutboxID] = true
	}
	var ids []int64
	for _, id := range unsent {
		if !known[id] {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		c.deliverLater(ctx, "avisos de un intento perdido", ids)
	}
}
