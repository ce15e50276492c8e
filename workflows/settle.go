package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
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
	c.hold, c.st.Hold = nil, nil
	if c.atr {
		return c.settleATR(ctx)
	}
	stage := StagePaid
	if c.st.CutAt != nil {
		stage = StageReconnecting
		c.setStage(ctx, StageReconnecting, "pagada tras el corte: reconexión", "")
	}
	now := c.now(ctx)
	var res activities.SettleResult
	if err := c.call(ctx, "cerrar factura y reconexión si procede", a.SettleInvoice, activities.SettleInput{
		Case:   c.refWithStage(stage),
		PaidAt: now,
		DueBy:  now.AddDate(0, 0, c.in.Policy.ReconnectWithinDays),
	}, &res); err != nil {
		return err
	}
	c.st.NextAction, c.st.NextActionAt = "", nil
	if res.Reconnection {
		c.st.ReconnectAt = &now
		c.setStage(ctx, StageReconnected, "reconexión solicitada a la distribuidora", "")
		return c.sendNotice(ctx, "reconexion", activities.KindReconnected, nil, nil)
	}
	what := "pagada"
	if res.SupplyCut {
		what = "pagada; el suministro sigue cortado por: " + strings.Join(res.StillOpen, ", ")
	}
	c.setStage(ctx, StagePaid, what, "")
	if len(c.st.Notices) == 0 {
		// Paid before anything was sent: nothing to confirm (PROCESS step 1).
		return nil
	}
	return c.sendNotice(ctx, "pago", activities.KindPaid, nil, nil)
}

// settleATR closes a case that follows the distributor's answers. When the
// settlement leaves the supply point with nothing open, the ledger asks the
// distributor to cancel the cut request (not yet executed) or to restore the
// supply (B1 03), and the case follows that request to its answer.
func (c *invoiceCase) settleATR(ctx workflow.Context) error {
	stage := StagePaid
	switch {
	case c.st.Request != nil && c.st.CutAt != nil:
		stage = StageReconnectRequested
	case c.st.Request != nil:
		stage = StageCutCancelRequested
	}
	now := c.now(ctx)
	var res activities.SettleResult
	if err := c.call(ctx, "cerrar factura y anular o reconectar si procede", a.SettleInvoice, activities.SettleInput{
		Case:   c.refWithStage(stage),
		PaidAt: now,
		DueBy:  now.AddDate(0, 0, c.in.Policy.ReconnectWithinDays),
	}, &res); err != nil {
		return err
	}
	c.st.NextAction, c.st.NextActionAt = "", nil
	switch {
	case res.Request != nil:
		return c.release(ctx, res, now)
	case res.Reconnection:
		// A cut requested before the distributor spoke ATR: nothing answers.
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
	if len(c.st.Notices) == 0 {
		return nil
	}
	return c.sendNotice(ctx, "pago", activities.KindPaid, nil, nil)
}
