package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/money"
)

// listen applies signals to the case as they arrive; the main path reacts.
func (c *invoiceCase) listen(ctx workflow.Context) {
	sel := workflow.NewSelector(ctx)
	c.signals = sel
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalPaid), func(ch workflow.ReceiveChannel, _ bool) {
		var s PaidSignal
		ch.Receive(ctx, &s)
		c.onPaid(ctx, s)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalApproveCut), func(ch workflow.ReceiveChannel, _ bool) {
		var s ApproveCutSignal
		ch.Receive(ctx, &s)
		c.onApprove(ctx, s)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalHold), func(ch workflow.ReceiveChannel, _ bool) {
		var s HoldSignal
		ch.Receive(ctx, &s)
		c.onHold(ctx, s)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalRelease), func(ch workflow.ReceiveChannel, _ bool) {
		var s ReleaseSignal
		ch.Receive(ctx, &s)
		c.onRelease(ctx, s)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalContactUpdated), func(ch workflow.ReceiveChannel, _ bool) {
		var s ContactUpdatedSignal
		ch.Receive(ctx, &s)
		c.contactUpdated = true
		c.event(ctx, "datos de contacto actualizados", s.By)
	})
	if c.safe {
		sel.AddReceive(workflow.GetSignalChannel(ctx, SignalProofRecorded), func(ch workflow.ReceiveChannel, _ bool) {
			var s ProofRecordedSignal
			ch.Receive(ctx, &s)
			c.proofRecorded = true
			c.event(ctx, "prueba de entrega del aviso formal registrada", s.By)
		})
	}
	if c.atr {
		sel.AddReceive(workflow.GetSignalChannel(ctx, SignalDistributor), func(ch workflow.ReceiveChannel, _ bool) {
			var s activities.DistributorAnswer
			ch.Receive(ctx, &s)
			c.onDistributor(ctx, s)
		})
	}
	for {
		sel.Select(ctx)
	}
}

// drainSignals takes the signals that arrived while the case was closing, so
// none is lost: a payment still goes to the ledger, the rest are recorded.
func (c *invoiceCase) drainSignals(ctx workflow.Context) {
	for {
		var paid PaidSignal
		if !workflow.GetSignalChannel(ctx, SignalPaid).ReceiveAsync(&paid) {
			break
		}
		c.onPaid(ctx, paid)
	}
	for _, name := range []string{SignalApproveCut, SignalHold, SignalRelease, SignalContactUpdated, SignalProofRecorded} {
		ch := workflow.GetSignalChannel(ctx, name)
		for {
			var ignored map[string]any
			if !ch.ReceiveAsync(&ignored) {
				break
			}
			by, _ := ignored["by"].(string)
			c.event(ctx, fmt.Sprintf("%s recibido con el caso ya cerrado (%s): sin efecto", name, c.st.Stage), by)
		}
	}
}

func (c *invoiceCase) onApprove(ctx workflow.Context, s ApproveCutSignal) {
	if why := c.approveRefusal(); why.en != "" {
		c.event(ctx, "aprobación de corte rechazada: "+why.es, s.By)
		return
	}
	c.approval = &s
	c.approvalAnswer = ""
	c.approvedAt, c.approvedReal, c.approvalHolds = c.now(ctx), workflow.Now(ctx), c.holds
	c.event(ctx, strings.TrimSpace("corte aprobado "+s.Note), s.By)
}

// why says why the case refuses a clerk's action: in English for the
// command line's answer, in Spanish for the case's history. Empty: accepted.
type why struct{ en, es string }

// approveRefusal says why an approval cannot be taken now.
func (c *invoiceCase) approveRefusal() why {
	switch {
	case c.st.Stage == StageCutBlocked:
		return why{fmt.Sprintf("not under review (stage %s: %s)", c.st.Stage, c.st.NextAction),
			fmt.Sprintf("el caso está en %s: %s", c.st.Stage, c.st.NextAction)}
	case c.st.Stage != StageCutReview:
		return why{fmt.Sprintf("not under review (stage %s)", c.st.Stage), fmt.Sprintf("el caso está en %s", c.st.Stage)}
	case c.approval != nil:
		return why{"already approved by " + c.approval.By, "ya aprobado por " + c.approval.By}
	}
	return why{}
}

func (c *invoiceCase) onHold(ctx workflow.Context, s HoldSignal) {
	if why := c.holdRefusal(); why.en != "" {
		c.event(ctx, "espera rechazada: "+why.es, s.By)
		return
	}
	c.hold = &Hold{Reason: holdReason(s.Reason), By: s.By, At: c.now(ctx)}
}

// holdRefusal says why a hold cannot be taken now.
func (c *invoiceCase) holdRefusal() why {
	switch {
	case c.st.Stage == StageCut || c.st.Stage == StageReconnecting || c.st.Stage.Closed() || c.closing,
		c.st.Stage == StageCutRequested || c.st.Stage == StageCutCancelRequested || c.st.Stage == StageReconnectRequested:
		return why{fmt.Sprintf("nothing left to hold (stage %s)", c.st.Stage), fmt.Sprintf("el caso está en %s", c.st.Stage)}
	case c.hold != nil:
		return why{"already on hold: " + c.hold.Reason, "ya estaba en espera: " + c.hold.Reason}
	}
	return why{}
}

func holdReason(r string) string {
	if r = strings.TrimSpace(r); r == "" {
		return "sin motivo indicado"
	}
	return r
}

func (c *invoiceCase) onRelease(ctx workflow.Context, s ReleaseSignal) {
	if c.hold == nil {
		c.event(ctx, "liberación ignorada: el caso no está en espera", s.By)
		return
	}
	c.hold, c.releasedBy = nil, s.By
	if c.safe {
		c.clearAttention(ctx, "liberado por "+s.By)
	}
}

// onPaid validates a payment and lowers the amount due at once; the main path
// writes it to the ledger.
func (c *invoiceCase) onPaid(ctx workflow.Context, s PaidSignal) {
	if why := paymentRefusal(s); why.en != "" {
		c.event(ctx, "pago rechazado: "+why.es, "")
		return
	}
	p, dup := c.takePayment(ctx, s)
	if dup {
		c.event(ctx, "pago repetido ignorado ("+p.Key+")", "")
		return
	}
	c.pending = append(c.pending, p)
	c.applyPayment(ctx, p, "pago recibido")
}

// paymentRefusal says why a reported payment is not money.
func paymentRefusal(s PaidSignal) why {
	switch {
	case s.AmountCents <= 0:
		return why{fmt.Sprintf("amount %d is not positive", s.AmountCents), fmt.Sprintf("importe %d no positivo", s.AmountCents)}
	case s.AmountCents > MaxPaymentCents:
		return why{fmt.Sprintf("amount %s out of range", money.Format(s.AmountCents)),
			fmt.Sprintf("importe %s fuera de rango", money.Format(s.AmountCents))}
	}
	return why{}
}

// takePayment names a reported payment by its ledger key and says whether
// the case already has it.
func (c *invoiceCase) takePayment(ctx workflow.Context, s PaidSignal) (Payment, bool) {
	dated := s.PaidAt.IsZero()
	if dated {
		s.PaidAt = c.now(ctx)
	}
	key := PaymentKey(c.in.Invoice, s.Reference, s.PaidAt, s.AmountCents)
	if c.safe {
		key = PaymentKeyOf(c.in.Invoice, s.Reference, s.PaidAt, s.AmountCents)
	}
	p := Payment{Key: key, AmountCents: s.AmountCents, PaidAt: s.PaidAt, Reference: s.Reference, dated: dated}
	if c.seen[key] {
		return p, true
	}
	c.seen[key] = true
	return p, false
}

func (c *invoiceCase) applyPayment(ctx workflow.Context, p Payment, what string) {
	c.st.Payments = append(c.st.Payments, p)
	c.st.AmountDueCents -= p.AmountCents
	if c.st.AmountDueCents < 0 {
		what += fmt.Sprintf(" (pago en exceso de %s)", money.Format(-c.st.AmountDueCents))
		c.st.AmountDueCents = 0
	}
	c.event(ctx, fmt.Sprintf("%s: %s; pendiente %s", what, money.Format(p.AmountCents), money.Format(c.st.AmountDueCents)), "")
	c.publish(ctx)
}

// takeBack removes a payment the ledger refused: the amount due is again the
// invoice's less the payments the case keeps.
func (c *invoiceCase) takeBack(ctx workflow.Context, p Payment) {
	for i, q := range c.st.Payments {
		if q.Key == p.Key && q.AmountCents == p.AmountCents {
			c.st.Payments = append(c.st.Payments[:i:i], c.st.Payments[i+1:]...)
			break
		}
	}
	delete(c.seen, p.Key)
	c.st.AmountDueCents = max(c.in.AmountCents-c.paidCents(), 0)
	c.event(ctx, fmt.Sprintf("pago de %s retirado; pendiente %s", money.Format(p.AmountCents), money.Format(c.st.AmountDueCents)), "")
	c.publish(ctx)
}

func (c *invoiceCase) paidCents() int64 {
	var sum int64
	for _, p := range c.st.Payments {
		sum += p.AmountCents
	}
	return sum
}

// registerUpdates lets the command line act on the case and get its real
// answer. Each validator refuses what makes no sense in the case's stage
// before anything is written to the history; the command line keeps that
// refusal in the audit trail.
func (c *invoiceCase) registerUpdates(ctx workflow.Context) error {
	refuse := func(w ...why) error {
		for _, w := range w {
			if w.en != "" {
				return temporal.NewApplicationError(w.en, "Refused")
			}
		}
		return nil
	}
	closed := func() why {
		if c.st.Stage.Closed() || c.closing {
			return why{fmt.Sprintf("the case is closed (%s)", c.st.Stage), ""}
		}
		return why{}
	}
	handlers := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdatePaid, c.paidUpdate, func(s PaidSignal) error {
			return refuse(closed(), paymentRefusal(s))
		}},
		{UpdateApproveCut, c.approveUpdate, func(ApproveCutSignal) error {
			return refuse(closed(), c.approveRefusal())
		}},
		{UpdateHold, c.holdUpdate, func(HoldSignal) error {
			return refuse(closed(), c.holdRefusal())
		}},
		{UpdateRelease, c.releaseUpdate, func(ReleaseSignal) error {
			if c.hold == nil {
				return refuse(closed(), why{fmt.Sprintf("not on hold (stage %s)", c.st.Stage), ""})
			}
			return refuse(closed())
		}},
		{UpdateContactUpdated, c.contactUpdate, func(ContactUpdatedSignal) error {
			return refuse(closed())
		}},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler,
			workflow.UpdateHandlerOptions{Validator: h.validator}); err != nil {
			return err
		}
	}
	return nil
}

func (c *invoiceCase) answer(outcome, detail string) Answer {
	return Answer{Outcome: outcome, Stage: c.st.Stage, AmountDueCents: c.st.AmountDueCents, Detail: detail}
}

// paidUpdate records the payment in the ledger before it answers, then waits
// for what the payment did: the case goes on with less due, or closes, with a
// reconnection when the supply was cut.
func (c *invoiceCase) paidUpdate(ctx workflow.Context, s PaidSignal) (Answer, error) {
	p, dup := c.takePayment(ctx, s)
	if dup {
		return c.answer("duplicate", "already recorded ("+p.Key+"): "+money.Format(c.st.AmountDueCents)+" due"), nil
	}
	c.recording++
	c.applyPayment(ctx, p, "pago recibido")
	err := c.recordPayment(ctx, p)
	c.recording--
	if err != nil {
		c.takeBack(ctx, p)
		if isRefusedPayment(err) {
			return Answer{}, temporal.NewApplicationError("payment not recorded: "+appMessage(err), "Refused")
		}
		return Answer{}, err
	}
	if c.st.AmountDueCents > 0 {
		return c.answer("recorded", "recorded: "+money.Format(c.st.AmountDueCents)+" due"), nil
	}
	if err := workflow.Await(ctx, func() bool { return c.st.Stage.Closed() }); err != nil {
		return Answer{}, err
	}
	detail := "recorded: 0,00 € due; case closed as " + string(c.st.Stage)
	if c.st.ReconnectAt != nil {
		detail = "recorded: 0,00 € due; reconnection requested"
	}
	return c.answer("recorded", detail), nil
}

// approveUpdate takes the approval and answers with what came of it: the cut
// requested, postponed to an allowed day, or refused by the ledger and why.
func (c *invoiceCase) approveUpdate(ctx workflow.Context, s ApproveCutSignal) (Answer, error) {
	c.onApprove(ctx, s)
	if !c.safe {
		return c.answer("approved", "approved"), nil
	}
	mine := c.approval
	// A case that closes meanwhile (paid) answers too: an update never keeps it open.
	if err := workflow.Await(ctx, func() bool {
		return c.approval != mine || c.approvalAnswer != "" || c.closing || c.st.Stage.Closed()
	}); err != nil {
		return Answer{}, err
	}
	if c.approvalAnswer == "" {
		return c.answer("approved", "approved"), nil
	}
	return c.answer("approved", "approved: "+c.approvalAnswer), nil
}

// holdUpdate writes the hold to the ledger before it answers: a hold the
// ledger refuses (the cut was already requested) is refused to the clerk.
func (c *invoiceCase) holdUpdate(ctx workflow.Context, s HoldSignal) (Answer, error) {
	h := &Hold{Reason: holdReason(s.Reason), By: s.By, At: c.now(ctx)}
	c.hold = h
	if c.safe {
		applied, err := c.recordHoldOf(ctx, h)
		if err != nil {
			return Answer{}, err
		}
		if !applied {
			return Answer{}, temporal.NewApplicationError("hold refused by the ledger: "+c.lastEvent(), "Refused")
		}
	}
	if err := workflow.Await(ctx, func() bool { return c.st.Stage == StageOnHold || c.hold != h || c.st.Stage.Closed() || c.closing }); err != nil {
		return Answer{}, err
	}
	return c.answer("on_hold", "on hold: "+h.Reason), nil
}

func (c *invoiceCase) releaseUpdate(ctx workflow.Context, s ReleaseSignal) (Answer, error) {
	h := c.hold
	if c.safe && c.ledgerHold && !h.NeverCut {
		if err := c.recordHold(ctx, false, "", s.By); err != nil {
			return Answer{}, err
		}
	}
	c.onRelease(ctx, s)
	if h.NeverCut {
		return c.answer("released", "released: it reads its contract again and stays on hold if the supply still may not be cut"), nil
	}
	return c.answer("released", "released"), nil
}

func (c *invoiceCase) contactUpdate(ctx workflow.Context, s ContactUpdatedSignal) (Answer, error) {
	c.contactUpdated = true
	c.event(ctx, "datos de contacto actualizados", s.By)
	return c.answer("contact_read", "the case reads its contract again"), nil
}

func (c *invoiceCase) lastEvent() string {
	if n := len(c.st.History); n > 0 {
		return c.st.History[n-1].What
	}
	return ""
}

// appMessage is an activity error's own message, without the activity's frame.
func appMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	return err.Error()
}
