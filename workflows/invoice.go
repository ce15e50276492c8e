package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// a refers to the activities by method, so a renamed activity is a compile error.
var a *activities.Activities

// MaxPaymentCents bounds a single payment; anything above is a typing error, not money.
const MaxPaymentCents = 100_000_000 // 1.000.000,00 €

// errSettled unwinds the process when the amount due reaches zero.
var errSettled = errors.New("invoice settled")

// ReturnedInvoice runs the collections process of one returned invoice, from
// the unpaid check to the cut and the reconnection (PROCESS.md steps 1–8).
func ReturnedInvoice(ctx workflow.Context, in Input) (Result, error) {
	c, err := setup(ctx, in)
	if err != nil {
		return Result{}, err
	}
	return c.run(ctx)
}

// invoiceCase is the whole state of a case; signal handlers change it and the
// main path waits on it.
type invoiceCase struct {
	in       Input
	cal      calendar.Calendar
	origin   time.Time
	runID    string
	logger   log.Logger
	st       State
	contract activities.Contract

	pending        []Payment // payments received and not yet in the ledger
	seen           map[string]bool
	hold           *Hold
	releasedBy     string
	resumeStage    Stage
	approval       *ApproveCutSignal
	contactUpdated bool
	nextRealAt     time.Time // when the next timer fires, in real time
	published      published
}

func setup(ctx workflow.Context, in Input) (*invoiceCase, error) {
	in.Invoice = strings.TrimSpace(in.Invoice)
	if in.Invoice == "" || in.Cups == "" || in.AmountCents <= 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("a case needs an invoice, a CUPS and a positive amount; got invoice %q, CUPS %q, %d cents", in.Invoice, in.Cups, in.AmountCents),
			"InvalidInput", nil)
	}
	// A case started while the reconnection bound could be set longer is held
	// to PROCESS step 8 (by the next day at the latest) all the same. The bound
	// travels only in the reconnection request, an activity's input, so a case
	// replays as it ran.
	in.Policy.ReconnectWithinDays = min(in.Policy.ReconnectWithinDays, 1)
	if err := in.Policy.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	cal, _ := in.Policy.Calendar() // Validate checked it
	info := workflow.GetInfo(ctx)
	c := &invoiceCase{
		in:     in,
		cal:    cal,
		origin: workflow.Now(ctx),
		runID:  info.WorkflowExecution.RunID,
		logger: log.With(workflow.GetLogger(ctx), "invoice", in.Invoice),
		seen:   map[string]bool{},
		st: State{
			Invoice:        in.Invoice,
			Customer:       in.Customer,
			Cups:           in.Cups,
			Policy:         in.Policy.Name,
			AmountCents:    in.AmountCents,
			AmountDueCents: in.AmountCents,
			History:        []Event{},
		},
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (State, error) { return c.snapshot(), nil }); err != nil {
		return nil, err
	}
	workflow.Go(ctx, c.listen)
	return c, nil
}

func (c *invoiceCase) run(ctx workflow.Context) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrInvalidInput},
		},
	})
	err := c.process(ctx)
	if errors.Is(err, errSettled) {
		err = c.settle(ctx)
	}
	if err == nil {
		// Payments that arrived while closing still belong in the ledger.
		err = c.flushPayments(ctx)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Stage: c.st.Stage, PaidCents: c.paidCents(), CutAt: c.st.CutAt, ReconnectAt: c.st.ReconnectAt}, nil
}

// process runs the case until it is settled (errSettled) or fails.
func (c *invoiceCase) process(ctx workflow.Context) error {
	c.setStage(ctx, StageChecking, "caso abierto", "")
	var opened activities.OpenCaseResult
	if err := c.exec(ctx, "comprobar pagos", a.OpenCase, activities.OpenCaseInput{
		Case: c.ref(), AmountCents: c.in.AmountCents, ReturnedAt: c.in.ReturnedAt,
	}).Get(ctx, &opened); err != nil {
		return err
	}
	for _, k := range opened.PaymentKeys {
		c.seen[k] = true
	}
	if opened.PaidCents > 0 {
		c.applyPayment(ctx, Payment{Key: "ledger", AmountCents: opened.PaidCents, PaidAt: c.now(ctx)}, "ya pagado según el registro de pagos")
	}
	if err := c.findContact(ctx); err != nil {
		return err
	}
	if c.contract.Segment == activities.SegmentBusiness {
		return c.business(ctx)
	}
	return c.domestic(ctx)
}

// findContact looks the contract up and waits in needs_contact until the
// customer can be reached (PROCESS step 2).
func (c *invoiceCase) findContact(ctx workflow.Context) error {
	for {
		if err := c.handleInterrupts(ctx); err != nil {
			return err
		}
		// Cleared before the lookup: an update signalled while it runs must wake the wait below.
		c.contactUpdated = false
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
		missing := contactProblem(c.contract)
		if missing == "" {
			return nil
		}
		c.setStage(ctx, StageNeedsContact, missing, "")
		if err := c.recordStage(ctx, missing, ""); err != nil {
			return err
		}
		if err := c.waitFor(ctx, func() bool { return c.contactUpdated }, "esperar datos de contacto (contact-updated)"); err != nil {
			return err
		}
	}
}

func contactProblem(k activities.Contract) string {
	switch {
	case !k.Found:
		return "sin contrato para el CUPS"
	case k.Segment != activities.SegmentDomestic && k.Segment != activities.SegmentBusiness:
		return fmt.Sprintf("tipo de cliente desconocido %q", k.Segment)
	case !k.Reachable():
		return "sin teléfono ni e-mail"
	}
	return ""
}

// domestic sends three notices with no cut date; only after the regulatory
// wait that follows the formal demand may a cut be scheduled (PROCESS step 3).
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
	for _, s := range steps {
		if err := c.waitUntil(ctx, next, s.label); err != nil {
			return err
		}
		c.setStage(ctx, s.stage, "envío de "+s.label, "")
		var suspendFrom *time.Time
		// A supply that is never cut is not threatened with a suspension date.
		if s.kind == activities.KindRequerimiento && !c.contract.NeverCut() {
			d := c.cal.NextCutDay(c.regulatoryEnd(c.now(ctx)).AddDate(0, 0, c.in.Policy.PreCutEmailDays))
			suspendFrom = &d
		}
		if err := c.sendNotice(ctx, s.kind, s.kind, nil, suspendFrom); err != nil {
			return err
		}
		next = c.now(ctx).AddDate(0, 0, c.in.Policy.NoticeSpacingDays)
	}
	waitEnd := c.regulatoryEnd(c.now(ctx))
	if err := c.waitUntil(ctx, waitEnd, "fin de la espera reglamentaria"); err != nil {
		return err
	}
	if err := c.neverCutHold(ctx); err != nil {
		return err
	}
	cutDate := c.cal.NextCutDay(c.now(ctx).AddDate(0, 0, c.in.Policy.PreCutEmailDays))
	c.scheduleCut(ctx, cutDate, "espera reglamentaria cumplida: corte programado")
	if err := c.recordStage(ctx, "corte programado", ""); err != nil {
		return err
	}
	return c.cutPhase(ctx, cutDate)
}

// regulatoryEnd is when a domestic cut may first be scheduled after the formal demand.
func (c *invoiceCase) regulatoryEnd(demand time.Time) time.Time {
	months := c.in.Policy.RegulatoryWaitMonths
	if c.contract.BonoSocial {
		months = c.in.Policy.BonoSocialWaitMonths
	}
	return demand.AddDate(0, months, 0)
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
	cutDate := c.cal.NextCutDay(c.now(ctx).AddDate(0, 0, c.in.Policy.BusinessCutLeadDays))
	c.scheduleCut(ctx, cutDate, "carta de corte y e-mail certificado")
	if err := c.sendNotice(ctx, activities.KindCutLetter, activities.KindCutLetter, &cutDate, nil); err != nil {
		return err
	}
	return c.cutPhase(ctx, cutDate)
}

// neverCutHold keeps essential supplies and protected households on hold: a
// person releasing them makes the case read the contract again, and the case
// goes on only if the supply may now be cut.
func (c *invoiceCase) neverCutHold(ctx workflow.Context) error {
	for c.contract.NeverCut() {
		reason := "suministro esencial: no se corta"
		if !c.contract.Essential {
			reason = "hogar protegido: no se corta"
		}
		c.hold = &Hold{Reason: reason, By: "sistema", At: c.now(ctx), NeverCut: true}
		if err := c.handleInterrupts(ctx); err != nil {
			return err
		}
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
		if c.contract.NeverCut() {
			c.event(ctx, "sigue sin poder cortarse según el contrato", c.releasedBy)
		}
	}
	return nil
}

// contractBeforeCut is the change id of the contract read again once the cut
// is approved, right before it is requested (see cutPhase).
const contractBeforeCut = "contract-before-cut"

// cutPhase runs from a scheduled cut date to the cut: pre-cut e-mail, review by
// the cuts desk, and the request to the distributor (PROCESS steps 5–7).
func (c *invoiceCase) cutPhase(ctx workflow.Context, cutDate time.Time) error {
	p := c.in.Policy
	if err := c.waitUntil(ctx, p.at(cutDate.AddDate(0, 0, -p.PreCutEmailDays)), "e-mail de aviso de corte"); err != nil {
		return err
	}
	// A hold may have outlasted the e-mail's moment: the customer is still
	// told PreCutEmailDays ahead, never of a date already gone.
	if earliest := c.cal.NextCutDay(c.now(ctx).AddDate(0, 0, p.PreCutEmailDays)); cutDate.Before(earliest) {
		cutDate = earliest
		c.scheduleCut(ctx, cutDate, "corte reprogramado tras la espera")
		if err := c.recordStage(ctx, "corte reprogramado", ""); err != nil {
			return err
		}
	}
	if err := c.sendNotice(ctx, "pre_corte", activities.KindPreCut, &cutDate, nil); err != nil {
		return err
	}
	if err := c.waitUntil(ctx, p.at(cutDate), "revisión del corte por la mesa de cortes"); err != nil {
		return err
	}
	// The contract may have changed since the cut was scheduled, and again
	// while the cut waited for its approval: the supply is cut only if it may
	// be when the request leaves. A supply that became essential or protected
	// in the meantime goes on hold, and once released, back to review.
	approvedBy := ""
	for checked := false; ; {
		if !checked {
			if err := c.lookupContract(ctx); err != nil {
				return err
			}
		}
		if err := c.neverCutHold(ctx); err != nil {
			return err
		}
		var supply activities.SupplyStatus
		if err := c.exec(ctx, "¿CUPS ya cortado?", a.CheckSupply, activities.SupplyInput{Case: c.ref()}).Get(ctx, &supply); err != nil {
			return err
		}
		if supply.Cut {
			break
		}
		c.approval = nil
		c.setStage(ctx, StageCutReview, "a revisión de la mesa de cortes", "")
		if err := c.recordStage(ctx, "a revisión de la mesa de cortes", ""); err != nil {
			return err
		}
		if err := c.waitFor(ctx, func() bool { return c.approval != nil }, "aprobación de la mesa de cortes (approve-cut)"); err != nil {
			return err
		}
		approvedBy = c.approval.By
		c.st.CutApprovedBy = approvedBy
		// An approval that comes late still cuts only on an allowed cut day,
		// and so does a hold released while waiting for that day.
		for now := c.now(ctx); !c.cal.IsAllowedCutDay(now); now = c.now(ctx) {
			day := c.cal.NextCutDay(now)
			c.st.CutDate = &day
			c.event(ctx, "corte aplazado al siguiente día permitido", "")
			if err := c.waitUntil(ctx, p.at(day), "corte en día permitido"); err != nil {
				return err
			}
		}
		// The cut date on record is the day the cut is requested.
		today := c.cal.NextCutDay(c.now(ctx))
		c.st.CutDate = &today
		// Cases approved before this check keep to their history.
		if workflow.GetVersion(ctx, contractBeforeCut, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			break
		}
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
		if !c.contract.NeverCut() {
			break
		}
		checked = true
		approvedBy, c.st.CutApprovedBy = "", ""
		c.event(ctx, "el contrato ya no permite el corte aprobado: no se solicita", "")
	}
	var cut activities.CutResult
	if err := c.exec(ctx, "solicitud de corte a la distribuidora", a.RequestCut, activities.CutInput{
		Case: c.refWithStage(StageCut), ApprovedBy: approvedBy, At: c.now(ctx),
	}).Get(ctx, &cut); err != nil {
		return err
	}
	now := c.now(ctx)
	c.st.CutAt = &now
	what := "corte solicitado a la distribuidora"
	if cut.Joined {
		what = "el CUPS ya estaba cortado por otra factura: se une a ese corte"
	}
	c.setStage(ctx, StageCut, what, approvedBy)
	return c.waitFor(ctx, func() bool { return false }, "pago de la deuda (paid)")
}

// settle closes a case whose amount due reached zero: before a cut it is
// simply paid; after one the distributor is asked to reconnect, once every
// invoice of the supply point is paid (PROCESS step 8).
func (c *invoiceCase) settle(ctx workflow.Context) error {
	if err := c.flushPayments(ctx); err != nil {
		return err
	}
	c.hold, c.st.Hold = nil, nil
	stage := StagePaid
	if c.st.CutAt != nil {
		stage = StageReconnecting
		c.setStage(ctx, StageReconnecting, "pagada tras el corte: reconexión", "")
	}
	now := c.now(ctx)
	var res activities.SettleResult
	if err := c.exec(ctx, "cerrar factura y reconexión si procede", a.SettleInvoice, activities.SettleInput{
		Case:   c.refWithStage(stage),
		PaidAt: now,
		DueBy:  now.AddDate(0, 0, c.in.Policy.ReconnectWithinDays),
	}).Get(ctx, &res); err != nil {
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
// is due, and keeps the case on hold until it is released.
func (c *invoiceCase) handleInterrupts(ctx workflow.Context) error {
	for {
		if err := c.flushPayments(ctx); err != nil {
			return err
		}
		if c.st.AmountDueCents <= 0 {
			return errSettled
		}
		if c.hold == nil {
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

// flushPayments writes received payments to the ledger.
func (c *invoiceCase) flushPayments(ctx workflow.Context) error {
	for len(c.pending) > 0 {
		p := c.pending[0]
		err := c.exec(ctx, "registrar pago", a.RecordPayment, activities.PaymentInput{
			Case: c.ref(), Key: p.Key, AmountCents: p.AmountCents, PaidAt: p.PaidAt, Reference: p.Reference,
		}).Get(ctx, nil)
		if err != nil && !isInvalidInput(err) {
			return err
		}
		if err != nil {
			c.event(ctx, "pago no registrado: "+err.Error(), "")
		}
		c.pending = c.pending[1:]
	}
	return nil
}

// listen applies signals to the case as they arrive; the main path reacts.
func (c *invoiceCase) listen(ctx workflow.Context) {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalPaid), func(ch workflow.ReceiveChannel, _ bool) {
		var s PaidSignal
		ch.Receive(ctx, &s)
		c.onPaid(ctx, s)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalApproveCut), func(ch workflow.ReceiveChannel, _ bool) {
		var s ApproveCutSignal
		ch.Receive(ctx, &s)
		switch {
		case c.st.Stage != StageCutReview:
			c.event(ctx, fmt.Sprintf("aprobación de corte rechazada: el caso está en %s", c.st.Stage), s.By)
		case c.approval != nil:
			c.event(ctx, "aprobación de corte repetida", s.By)
		default:
			c.approval = &s
			c.event(ctx, strings.TrimSpace("corte aprobado "+s.Note), s.By)
		}
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalHold), func(ch workflow.ReceiveChannel, _ bool) {
		var s HoldSignal
		ch.Receive(ctx, &s)
		switch {
		case c.st.Stage == StageCut || c.st.Stage == StageReconnecting || c.st.Stage.Closed():
			c.event(ctx, fmt.Sprintf("espera rechazada: el caso está en %s", c.st.Stage), s.By)
		case c.hold != nil:
			c.event(ctx, "ya estaba en espera: "+c.hold.Reason, s.By)
		default:
			reason := strings.TrimSpace(s.Reason)
			if reason == "" {
				reason = "sin motivo indicado"
			}
			c.hold = &Hold{Reason: reason, By: s.By, At: c.now(ctx)}
		}
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalRelease), func(ch workflow.ReceiveChannel, _ bool) {
		var s ReleaseSignal
		ch.Receive(ctx, &s)
		if c.hold == nil {
			c.event(ctx, "liberación ignorada: el caso no está en espera", s.By)
			return
		}
		c.hold, c.releasedBy = nil, s.By
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalContactUpdated), func(ch workflow.ReceiveChannel, _ bool) {
		var s ContactUpdatedSignal
		ch.Receive(ctx, &s)
		c.contactUpdated = true
		c.event(ctx, "datos de contacto actualizados", s.By)
	})
	for {
		sel.Select(ctx)
	}
}

// onPaid validates a payment and lowers the amount due at once; the main path
// writes it to the ledger.
func (c *invoiceCase) onPaid(ctx workflow.Context, s PaidSignal) {
	switch {
	case s.AmountCents <= 0:
		c.event(ctx, fmt.Sprintf("pago rechazado: importe %d no positivo", s.AmountCents), "")
		return
	case s.AmountCents > MaxPaymentCents:
		c.event(ctx, fmt.Sprintf("pago rechazado: importe %s fuera de rango", money.Format(s.AmountCents)), "")
		return
	}
	if s.PaidAt.IsZero() {
		s.PaidAt = c.now(ctx)
	}
	key := PaymentKey(c.in.Invoice, s.Reference, s.PaidAt, s.AmountCents)
	if c.seen[key] {
		c.event(ctx, "pago repetido ignorado ("+key+")", "")
		return
	}
	c.seen[key] = true
	p := Payment{Key: key, AmountCents: s.AmountCents, PaidAt: s.PaidAt, Reference: s.Reference}
	c.pending = append(c.pending, p)
	c.applyPayment(ctx, p, "pago recibido")
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

func (c *invoiceCase) paidCents() int64 {
	var sum int64
	for _, p := range c.st.Payments {
		sum += p.AmountCents
	}
	return sum
}

func (c *invoiceCase) lookupContract(ctx workflow.Context) error {
	var k activities.Contract
	if err := c.exec(ctx, "buscar contrato", a.LookupContract, activities.LookupInput{Case: c.ref()}).Get(ctx, &k); err != nil {
		return err
	}
	c.contract = k
	c.st.Segment = k.Segment
	c.st.Phone, c.st.Email = k.Phone, k.Email
	c.st.BonoSocial, c.st.Essential, c.st.Protected = k.BonoSocial, k.Essential, k.Protected
	if k.Customer != "" && c.st.Customer == "" {
		c.st.Customer = k.Customer
	}
	c.publish(ctx)
	return nil
}

// sendNotice renders a notice into the outbox and records what went out.
func (c *invoiceCase) sendNotice(ctx workflow.Context, step, kind string, cutDate, suspendFrom *time.Time) error {
	var res activities.NoticeResult
	err := c.exec(ctx, "comunicado "+kind, a.SendNotice, activities.NoticeInput{
		Case: c.ref(), Step: step, Kind: kind, Contract: c.contract,
		CutDate: cutDate, SuspendFrom: suspendFrom, At: c.now(ctx),
	}).Get(ctx, &res)
	if isInvalidInput(err) {
		c.event(ctx, fmt.Sprintf("comunicado %s no enviado: %v", kind, err), "")
		return nil
	}
	if err != nil {
		return err
	}
	first := len(c.st.Notices)
	channels := make([]string, 0, len(res.Messages))
	ids := make([]int64, 0, len(res.Messages))
	for _, m := range res.Messages {
		c.st.Notices = append(c.st.Notices, Notice{Kind: kind, Channel: m.Channel, OutboxID: m.OutboxID, At: m.At, Status: activities.StatusPending})
		channels = append(channels, m.Channel)
		ids = append(ids, m.OutboxID)
	}
	c.event(ctx, fmt.Sprintf("comunicado %s por %s", kind, strings.Join(channels, ", ")), "")
	// Cases started before notices were delivered by the worker keep to their history.
	if workflow.GetVersion(ctx, "deliver-notices", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	return c.deliver(ctx, kind, ids, c.st.Notices[first:])
}

// deliver sends the e-mails of a notice. The provider's temporary failures are
// retried with backoff for up to a day; a refusal is shown in the state and the
// history, and the case goes on: a notice that cannot be e-mailed never stops
// the collection of the debt.
func (c *invoiceCase) deliver(ctx workflow.Context, kind string, ids []int64, notices []Notice) error {
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
	var res activities.DeliverResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.DeliverNotice,
		activities.DeliverInput{Case: c.ref(), OutboxIDs: ids}).Get(ctx, &res)
	if err != nil {
		if temporal.IsCanceledError(err) {
			return err
		}
		c.event(ctx, fmt.Sprintf("entrega de %s no completada: %v", kind, err), "")
		return nil
	}
	for _, d := range res.Delivered {
		for i := range notices {
			if notices[i].OutboxID == d.OutboxID {
				notices[i].Status, notices[i].Detail = d.Status, d.Detail
			}
		}
		if d.Status == activities.StatusFailed {
			c.event(ctx, fmt.Sprintf("%s de %s rechazado: %s", d.Channel, kind, d.Detail), "")
		}
	}
	return nil
}

func (c *invoiceCase) recordStage(ctx workflow.Context, detail, actor string) error {
	return c.exec(ctx, "etapa "+string(c.st.Stage), a.RecordStage, activities.StageInput{
		Case: c.ref(), Detail: detail, Actor: actor, At: c.now(ctx),
	}).Get(ctx, nil)
}

func (c *invoiceCase) exec(ctx workflow.Context, summary string, activity any, arg any) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	opts.Summary = summary
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activity, arg)
}

func (c *invoiceCase) scheduleCut(ctx workflow.Context, day time.Time, what string) {
	c.st.CutDate = &day
	c.setStage(ctx, StageCutScheduled, what+" para el "+day.Format("02/01/2006"), "")
}

// now is the case's clock: real time, sped up by the policy's scale.
func (c *invoiceCase) now(ctx workflow.Context) time.Time {
	elapsed := workflow.Now(ctx).Sub(c.origin)
	return c.origin.Add(elapsed * time.Duration(c.in.Policy.Scale)).In(calendar.Madrid)
}

func (c *invoiceCase) ref() activities.CaseRef { return c.refWithStage(c.st.Stage) }

func (c *invoiceCase) refWithStage(s Stage) activities.CaseRef {
	return activities.CaseRef{
		WorkflowID:     WorkflowID(c.in.Invoice),
		RunID:          c.runID,
		Invoice:        c.in.Invoice,
		Customer:       c.st.Customer,
		Cups:           c.in.Cups,
		Stage:          string(s),
		AmountDueCents: c.st.AmountDueCents,
		CutDate:        c.st.CutDate,
	}
}

func (c *invoiceCase) setStage(ctx workflow.Context, s Stage, what, by string) {
	c.st.Stage = s
	c.event(ctx, what, by)
	c.logger.Info("stage", "stage", s, "what", what)
	c.publish(ctx)
}

func (c *invoiceCase) setNext(ctx workflow.Context, what string, at *time.Time, realAt time.Time) {
	c.st.NextAction, c.st.NextActionAt = what, at
	c.nextRealAt = realAt
	c.publish(ctx)
}

func (c *invoiceCase) event(ctx workflow.Context, what, by string) {
	c.st.History = append(c.st.History, Event{At: c.now(ctx), Stage: c.st.Stage, What: what, By: by})
}

func (c *invoiceCase) snapshot() State {
	s := c.st
	s.History = append([]Event(nil), c.st.History...)
	s.Notices = append([]Notice(nil), c.st.Notices...)
	s.Payments = append([]Payment(nil), c.st.Payments...)
	return s
}

func isInvalidInput(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.Type() == activities.ErrInvalidInput
}
