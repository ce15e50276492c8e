package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// domestic sends three notices with no cut date, the contract read again
// before each; the third, the formal demand, must be proven to have reached
// the customer, and only after the regulatory wait counted from that proven
// day (and, for Bono Social, the Suministro Mínimo Vital) may a cut be
// scheduled (PROCESS step 3, "Vulnerable consumers").
func (c *invoiceCase) domestic(ctx workflow.Context) error {
	steps := []struct {
		stage       Stage
		kind, label string
	}{
		{StageNotice1, activities.KindAviso1, "aviso 1"},
		{StageNotice2, activities.KindAviso2, "aviso 2"},
		{StageNotice3, activities.KindRequerimiento, "aviso 3 (requerimiento fehaciente)"},
	}
	next := c.now(ctx)
	for i, s := range steps {
		if err := c.waitUntil(ctx, next, s.label); err != nil {
			return err
		}
		// Contact data, Bono Social and the never-cut flags may have changed
		// since the contract was read (the first notice goes right after).
		if i > 0 {
			if err := c.findContact(ctx); err != nil {
				return err
			}
		}
		c.setStage(ctx, s.stage, "envío de "+s.label, "")
		var suspendFrom *time.Time
		// A supply that is never cut is not threatened with a suspension date.
		if s.kind == activities.KindRequerimiento && !c.contract.NeverCut() {
			end := c.regulatoryEnd(c.now(ctx))
			if c.contract.BonoSocial {
				end = end.AddDate(0, c.in.Policy.MinimumSupplyMonths, 0)
			}
			d := c.cal.NextCutDay(end.AddDate(0, 0, c.in.Policy.PreCutEmailDays))
			suspendFrom = &d
			c.tell(d)
		}
		if err := c.sendNotice(ctx, s.kind, s.kind, nil, suspendFrom); err != nil {
			return err
		}
		next = c.now(ctx).AddDate(0, 0, c.in.Policy.NoticeSpacingDays)
	}
	// A supply that may not be cut is held for a person first; once it may
	// be, the wait and the proof are looked at again.
	for sent := c.now(ctx); ; {
		if err := c.waitAfterDemand(ctx, sent); err != nil {
			return err
		}
		if !c.contract.NeverCut() {
			break
		}
		if err := c.neverCutHold(ctx); err != nil {
			return err
		}
	}
	cutDate, err := c.plannedCutDay(ctx, c.in.Policy.PreCutEmailDays)
	if err != nil {
		return err
	}
	c.scheduleCut(ctx, cutDate, "espera reglamentaria cumplida: corte programado")
	if err := c.recordStage(ctx, "corte programado", ""); err != nil {
		return err
	}
	return c.cutPhase(ctx, cutDate)
}

// waitAfterDemand waits the regulatory wait after the formal demand sent at
// sent: 2 months (4 for Bono Social) counted from the day a proof says it
// reached the customer; no proof can predate the sending, so the case first
// waits from then. A Bono Social household then keeps the Suministro Mínimo
// Vital. The contract is read again after every wait.
func (c *invoiceCase) waitAfterDemand(ctx workflow.Context, sent time.Time) error {
	if err := c.waitUntil(ctx, c.regulatoryEnd(sent), "fin de la espera reglamentaria"); err != nil {
		return err
	}
	for {
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
		if c.contract.NeverCut() {
			return nil // no proof is awaited for a cut that may not happen
		}
		if err := c.awaitProof(ctx); err != nil {
			return err
		}
		waitEnd := c.regulatoryEnd(*c.st.Proof.ProvenOn)
		if c.now(ctx).Before(waitEnd) {
			if c.st.Stage != StageNotice3 {
				c.setStage(ctx, StageNotice3, "espera reglamentaria desde la entrega probada", "")
			}
			if err := c.waitUntil(ctx, waitEnd, "fin de la espera reglamentaria (desde la entrega probada)"); err != nil {
				return err
			}
			continue
		}
		if !c.contract.BonoSocial {
			return nil
		}
		end := waitEnd.AddDate(0, c.in.Policy.MinimumSupplyMonths, 0)
		if c.changed(ctx, smvFromLimitation) {
			// The household lives its months with the power limited, counted
			// from the limitation however late the proof came (the ledger
			// counts them so too): before, a proof recorded after the window
			// let the cut through with the power never limited.
			if c.smvFrom != nil && !c.now(ctx).Before(later(end, c.smvFrom.AddDate(0, c.in.Policy.MinimumSupplyMonths, 0))) {
				return nil
			}
			if err := c.minimumSupplyFromLimit(ctx, end); err != nil {
				return err
			}
			continue
		}
		if !c.now(ctx).Before(end) {
			return nil
		}
		if err := c.minimumSupply(ctx, end); err != nil {
			return err
		}
	}
}

// minimumSupply keeps a Bono Social household supplied until end with its
// power limited to 3.5 kW (the Suministro Mínimo Vital), asking the
// distributor for the limitation when the contracted power is above that or
// unknown. Cases started before smvFromLimitation.
func (c *invoiceCase) minimumSupply(ctx workflow.Context, end time.Time) error {
	if c.st.Stage != StageMinimumSupply {
		c.setStage(ctx, StageMinimumSupply, "suministro mínimo vital hasta el "+end.In(c.now(ctx).Location()).Format("02/01/2006"), "")
		if err := c.recordStage(ctx, "suministro mínimo vital", ""); err != nil {
			return err
		}
		if c.contract.PowerKW == 0 || c.contract.PowerKW > MinimumSupplyKW {
			var res activities.LimitResult
			err := c.callActivity(ctx, "limitación de potencia a 3,5 kW", a.RequestPowerLimit, activities.LimitInput{
				Case: c.ref(), KW: MinimumSupplyKW, At: c.now(ctx),
			}, &res)
			if r, ok := cutRefusal(err); ok {
				// The ledger checks a limitation as it checks a cut: paid meanwhile
				// settles; anything else leaves the supply as it is, and says why.
				if r.Reason == activities.RefusedNothingDue {
					c.st.AmountDueCents = 0
					return errSettled
				}
				c.event(ctx, fmt.Sprintf("limitación de potencia no solicitada: el registro la rechaza (%s): %s", r.Reason, r.Detail), "")
			} else if err != nil {
				return err
			} else {
				c.event(ctx, "limitación de potencia a 3,5 kW solicitada a la distribuidora", "")
			}
		}
	}
	return c.waitUntil(ctx, end, "fin del suministro mínimo vital")
}

// minimumSupplyFromLimit keeps a Bono Social household supplied with its
// power limited for the policy's months from the day the ledger recorded the
// limitation (at least until windowEnd). The limitation is asked until the
// ledger takes it (one it refuses, e.g. on hold, is asked again the next day);
// a supply already at most 3.5 kW asks nothing of the distributor, but the
// ledger records when its months began all the same: it allows no cut of a
// Bono Social household before them.
func (c *invoiceCase) minimumSupplyFromLimit(ctx workflow.Context, windowEnd time.Time) error {
	if c.st.Stage != StageMinimumSupply {
		c.setStage(ctx, StageMinimumSupply, "suministro mínimo vital", "")
		if err := c.recordStage(ctx, "suministro mínimo vital", ""); err != nil {
			return err
		}
	}
	for c.smvFrom == nil {
		low := c.contract.PowerKW > 0 && c.contract.PowerKW <= MinimumSupplyKW
		in := activities.LimitInput{Case: c.ref(), KW: MinimumSupplyKW, At: c.now(ctx)}
		if low {
			in.KW, in.AlreadyLimited = c.contract.PowerKW, true
		}
		var res activities.LimitResult
		err := c.callActivity(ctx, "limitación de potencia a 3,5 kW", a.RequestPowerLimit, in, &res)
		r, refused := cutRefusal(err)
		switch {
		case refused && r.Reason == activities.RefusedNothingDue:
			c.st.AmountDueCents = 0
			return errSettled
		case refused:
			c.event(ctx, fmt.Sprintf("limitación de potencia no registrada (%s): %s; se pide de nuevo mañana", r.Reason, r.Detail), "")
			if err := c.waitUntil(ctx, c.now(ctx).AddDate(0, 0, 1), "volver a pedir la limitación de potencia"); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case low:
			c.event(ctx, fmt.Sprintf("potencia contratada de %g kW: ya dentro del suministro mínimo vital", c.contract.PowerKW), "")
		default:
			c.event(ctx, "limitación de potencia a 3,5 kW solicitada a la distribuidora", "")
		}
		now := c.now(ctx)
		c.smvFrom = &now
	}
	end := later(windowEnd, c.smvFrom.AddDate(0, c.in.Policy.MinimumSupplyMonths, 0))
	return c.waitUntil(ctx, end, "fin del suministro mínimo vital ("+end.In(calendar.Madrid).Format("02/01/2006")+")")
}

// later is the later of two moments.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// business sends the cut letter with its scheduled cut date and the certified
// e-mail at once (PROCESS step 4).
func (c *invoiceCase) business(ctx workflow.Context) error {
	if c.contract.NeverCut() {
		// A supply that is never cut still gets the formal demand, without a cut date.
		c.setStage(ctx, StageNotice3, "requerimiento de pago (suministro que no se corta)", "")
		if err := c.sendNotice(ctx, activities.KindRequerimiento, activities.KindRequerimiento, nil, nil); err != nil {
			return err
		}
		if err := c.neverCutHold(ctx); err != nil {
			return err
		}
	}
	cutDate, err := c.plannedCutDay(ctx, c.in.Policy.BusinessCutLeadDays)
	if err != nil {
		return err
	}
	c.scheduleCut(ctx, cutDate, "carta de corte y e-mail certificado")
	c.tell(cutDate)
	if err := c.sendNotice(ctx, activities.KindCutLetter, activities.KindCutLetter, &cutDate, nil); err != nil {
		return err
	}
	return c.cutPhase(ctx, cutDate)
}

// tell keeps the latest date a notice gave the customer: they are never cut
// before it.
func (c *invoiceCase) tell(day time.Time) {
	if c.notBefore == nil || day.After(*c.notBefore) {
		c.notBefore = &day
	}
}

// regulatoryEnd is when a domestic cut may first be scheduled after the formal demand.
func (c *invoiceCase) regulatoryEnd(demand time.Time) time.Time {
	months := c.in.Policy.RegulatoryWaitMonths
	if c.contract.BonoSocial {
		months = c.in.Policy.BonoSocialWaitMonths
	}
	return demand.AddDate(0, months, 0)
}

// sendNotice renders a notice into the outbox and records what went out.
func (c *invoiceCase) sendNotice(ctx workflow.Context, step, kind string, cutDate, suspendFrom *time.Time) error {
	var res activities.NoticeResult
	send := c.callActivity
	if c.notify {
		// In the task that decides it, falling back to an ordinary activity
		// (call). A task the server loses after its notice went out is run
		// again, maybe on another path: what the case must know of its
		// notices it asks the ledger too (settle).
		send = c.call
	}
	err := send(ctx, "comunicado "+kind, a.SendNotice, activities.NoticeInput{
		Case: c.ref(), Step: step, Kind: kind, Contract: c.contract,
		CutDate: cutDate, SuspendFrom: suspendFrom, At: c.now(ctx),
		NewMandate: c.st.Task == TaskNewMandate,
		// A case started with localLedger has it delivered in the same
		// activity: one dispatch and one workflow task fewer a notice.
		Deliver: c.local,
	}, &res)
	if isInvalidInput(err) {
		c.event(ctx, fmt.Sprintf("comunicado %s no enviado: %v", kind, err), "")
		return nil
	}
	if err != nil {
		return err
	}
	channels := make([]string, 0, len(res.Messages))
	ids := make([]int64, 0, len(res.Messages))
	for _, m := range res.Messages {
		c.st.Notices = append(c.st.Notices, Notice{Kind: kind, Channel: m.Channel, OutboxID: m.OutboxID, At: m.At, Status: activities.StatusPending})
		channels = append(channels, m.Channel)
		ids = append(ids, m.OutboxID)
	}
	c.event(ctx, fmt.Sprintf("comunicado %s por %s", kind, strings.Join(channels, ", ")), "")
	// Cases started before notices were delivered by the worker keep to their history.
	if !c.changed(ctx, "deliver-notices") {
		return nil
	}
	if c.local {
		if err := c.delivered(ctx, kind, activities.DeliverResult{Delivered: res.Delivered}, nil); err != nil {
			return err
		}
		if len(res.Undelivered) == 0 {
			return nil
		}
		c.deliverLater(ctx, kind, res.Undelivered)
		return nil
	}
	return c.deliver(ctx, kind, ids)
}

// deliverLater delivers e-mails while the case waits for its next step: the
// answer changes only the notices' status, and the case does not close
// before it comes (close).
func (c *invoiceCase) deliverLater(ctx workflow.Context, kind string, ids []int64) {
	c.delivering++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { c.delivering-- }()
		_ = c.deliver(ctx, kind, ids)
	})
}

// deliver sends the e-mails of a notice. The provider's temporary failures are
// retried with backoff for up to a day; a refusal is shown in the state and the
// history, and the case goes on: a notice that cannot be e-mailed never stops
// the collection of the debt.
func (c *invoiceCase) deliver(ctx workflow.Context, kind string, ids []int64) error {
	in := activities.DeliverInput{Case: c.ref(), OutboxIDs: ids}
	var res activities.DeliverResult
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = "entrega " + kind
	opts.StartToCloseTimeout = 2 * time.Minute
	opts.ScheduleToCloseTimeout = 24 * time.Hour
	opts.RetryPolicy = &temporal.RetryPolicy{
		InitialInterval:        10 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        30 * time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrInvalidInput},
	}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.DeliverNotice, in).Get(ctx, &res)
	return c.delivered(ctx, kind, res, err)
}

// delivered takes what a delivery answered into the notices' status.
func (c *invoiceCase) delivered(ctx workflow.Context, kind string, res activities.DeliverResult, err error) error {
	if err != nil {
		if temporal.IsCanceledError(err) {
			return err
		}
		c.event(ctx, fmt.Sprintf("entrega de %s no completada: %v", kind, err), "")
		return nil
	}
	for _, d := range res.Delivered {
		for i := range c.st.Notices {
			if n := &c.st.Notices[i]; n.OutboxID == d.OutboxID {
				n.Status, n.Detail = d.Status, d.Detail
			}
		}
		if d.Status == activities.StatusFailed {
			c.event(ctx, fmt.Sprintf("%s de %s rechazado: %s", d.Channel, kind, d.Detail), "")
		}
	}
	return nil
}
