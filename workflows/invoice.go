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
)

// The case's phases live one per file: notices.go (the domestic and business
// paths up to a cut date), cut.go (review, the ledger's check and the cut),
// settle.go (payment in full and the reconnection), waits.go, signals.go
// (signals and updates), attention.go (activities that keep failing) and
// legacy.go (the paths of cases started before the ledger checked the cut).

// a refers to the activities by method, so a renamed activity is a compile error.
var a *activities.Activities

// MaxPaymentCents bounds a single payment; anything above is a typing error, not money.
const MaxPaymentCents = 100_000_000 // 1.000.000,00 €

// refusals are the errors no retry of a ledger call can heal: the call comes
// back with them at once, ordinary or local.
var refusals = []string{activities.ErrInvalidInput, activities.ErrCutRefused, activities.ErrPaymentRefused}

// errSettled unwinds the process when the amount due reaches zero.
var errSettled = errors.New("invoice settled")

// cutSafety is the change id of the ledger's check of every cut request,
// proofs of the formal notice, updates, NeedsAttention and the paths that go
// with them. Cases started before it keep their own path (legacy.go).
const cutSafety = "cut-safety"

// smvFromLimitation is the change id of the Bono Social cases whose
// Suministro Mínimo Vital runs its months from the power limitation, which
// is always asked of the distributor, however late the proof of the formal
// demand came.
const smvFromLimitation = "smv-from-limitation"

// localLedger is the change id of the cases whose short reads and writes of
// the ledger run as local activities, inside the workflow task that needs
// them, and whose search attributes are sent once per workflow task. A case
// started with it takes every change made before it (cutSafety,
// distributorATR and the rest) without asking for each: its history holds
// one version marker instead of one per change.
const localLedger = "local-ledger"

// localNotices is localLedger's second version: a notice is stored and
// delivered by a local activity too, in the workflow task that decides it
// (sendNotice). Its first version sends them by an ordinary activity.
const localNotices workflow.Version = 2

// ReturnedInvoice runs the collections process of one returned invoice, from
// the unpaid check to the cut and the reconnection (PROCESS.md steps 1–8).
func ReturnedInvoice(ctx workflow.Context, in Input) (Result, error) {
	c, err := setup(ctx, in)
	if err != nil {
		return Result{}, err
	}
	return c.run(ctx)
}

// invoiceCase is the whole state of a case; signal and update handlers change
// it and the main path waits on it.
type invoiceCase struct {
	in       Input
	safe     bool // the case runs with the ledger's check (cutSafety)
	local    bool // ledger calls run as local activities, published once per task (localLedger)
	notify   bool // notices are sent by a local activity too (localNotices)
	atr      bool // the case follows the distributor's answers (distributorATR)
	cal      calendar.Calendar
	origin   time.Time
	runID    string
	logger   log.Logger
	st       State
	contract activities.Contract
	// stages counts the stages this run recorded in the ledger: a task run
	// again after the server lost it counts them the same way, whatever its
	// clock reads, so the ledger writes each audit line once.
	stages int

	pending         []Payment // payments received by signal and not yet in the ledger
	recording       int       // payments an update is writing to the ledger now
	seen            map[string]bool
	hold            *Hold
	ledgerHold      bool // the ledger holds the case (RecordHold)
	holds           int  // holds so far: an approval given before one is stale
	releasedBy      string
	resumeStage     Stage
	approval        *ApproveCutSignal
	approvalAnswer  string    // what came of the approval, for the approve-cut update
	approvedAt      time.Time // case time
	approvedReal    time.Time // workflow time
	approvalHolds   int       // holds when the approval was given
	calendarMissing bool      // the case raised NeedsAttention for a missing calendar
	contactUpdated  bool
	proofRecorded   bool
	notBefore       *time.Time // the latest date a notice told the customer
	smvFrom         *time.Time // case time the Suministro Mínimo Vital began (smvFromLimitation)
	closing         bool
	nextRealAt      time.Time // when the next timer fires, in real time
	published       published
	dirty           bool              // the UI's view changed and is not sent yet (localLedger)
	inLocal         int               // local activities the case is waiting on now
	delivering      int               // deliveries of notices under way (localLedger)
	signals         workflow.Selector // the listener's, to see a signal taken but not yet applied

	answers          []activities.DistributorAnswer // received and not yet applied
	answersSeen      map[int64]bool
	requestedAt      time.Time // case time the cut was asked of the distributor
	reconnectDueReal time.Time // ReconnectDueAt in real time, for the UI
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
	if in.Return != nil {
		if err := in.Return.validate(); err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
		}
	}
	ledger := workflow.GetVersion(ctx, localLedger, workflow.DefaultVersion, localNotices)
	local := ledger >= 1
	safe := local || workflow.GetVersion(ctx, cutSafety, workflow.DefaultVersion, 1) >= 1
	atr := false
	if safe {
		in.Policy = in.Policy.withDefaults()
		atr = local || workflow.GetVersion(ctx, distributorATR, workflow.DefaultVersion, 1) >= 1
	}
	cal, _ := in.Policy.Calendar() // Validate checked it
	info := workflow.GetInfo(ctx)
	c := &invoiceCase{
		in:     in,
		safe:   safe,
		local:  local,
		notify: ledger >= localNotices,
		atr:    atr,
		cal:    cal,
		origin: workflow.Now(ctx),
		runID:  info.WorkflowExecution.RunID,
		logger: log.With(workflow.GetLogger(ctx), "invoice", in.Invoice),
		seen:   map[string]bool{},

		answersSeen: map[int64]bool{},
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
	if err := c.registerUpdates(ctx); err != nil {
		return nil, err
	}
	if err := c.registerBankReturn(ctx); err != nil {
		return nil, err
	}
	workflow.Go(ctx, c.listen)
	if local {
		// Disconnected: a cancelled case still shows how it ended.
		pctx, _ := workflow.NewDisconnectedContext(ctx)
		workflow.Go(pctx, c.publisher)
	}
	return c, nil
}

// changed reports whether the case takes the new branch of a change made
// before localLedger: a case started with localLedger takes them all. A
// change made after localLedger asks workflow.GetVersion itself.
func (c *invoiceCase) changed(ctx workflow.Context, change string) bool {
	return c.local || workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) >= 1
}

func (c *invoiceCase) run(ctx workflow.Context) (Result, error) {
	res, err := c.runCase(ctx)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	c.flush(dctx)
	return res, err
}

func (c *invoiceCase) runCase(ctx workflow.Context) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: refusals,
		},
	})
	err := c.process(ctx)
	if errors.Is(err, errSettled) {
		err = c.settle(ctx)
	}
	if c.safe && isCanceled(ctx, err) {
		return Result{}, c.cancelled(ctx, err)
	}
	if err == nil {
		err = c.close(ctx)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Stage: c.st.Stage, PaidCents: c.paidCents(), CutAt: c.st.CutAt, ReconnectAt: c.st.ReconnectAt}, nil
}

// close records what arrived while the case was closing: payments still
// belong in the ledger, and an update in flight gets its answer first.
func (c *invoiceCase) close(ctx workflow.Context) error {
	if !c.safe {
		return c.flushPayments(ctx)
	}
	c.closing = true
	if err := c.letListenerRun(ctx); err != nil {
		return err
	}
	c.drainSignals(ctx)
	if err := workflow.Await(ctx, func() bool {
		return workflow.AllHandlersFinished(ctx) && c.recording == 0 && c.delivering == 0 && (c.signals == nil || !c.signals.HasPending())
	}); err != nil {
		return err
	}
	if err := c.letListenerRun(ctx); err != nil {
		return err
	}
	c.drainSignals(ctx)
	return c.flushPayments(ctx)
}

// letListenerRun lets the signal listener apply a signal it already took in
// this workflow task (one that came with the last activity's result): a
// goroutine started now runs only after it.
func (c *invoiceCase) letListenerRun(ctx workflow.Context) error {
	ran := false
	workflow.Go(ctx, func(workflow.Context) { ran = true })
	return workflow.Await(ctx, func() bool { return ran })
}

// cancelled closes the invoice as cancelled in the ledger when a person
// cancels the case (starter cancel, or the Web UI), then ends it as cancelled.
func (c *invoiceCase) cancelled(ctx workflow.Context, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	c.closing = true
	c.st.NextAction, c.st.NextActionAt = "", nil
	c.clearAttention(dctx, "")
	c.setStage(dctx, StageCancelled, "caso cancelado: no se envía nada más", "")
	err := c.call(dctx, "cerrar factura cancelada", a.CancelCase, activities.CancelInput{
		Case: c.ref(), By: "Temporal", Reason: "cancelado desde Temporal", At: c.now(dctx),
	}, nil)
	if err != nil {
		c.logger.Error("cancelled case not closed in the ledger", "error", err)
	}
	return cause
}

func isCanceled(ctx workflow.Context, err error) bool {
	return err != nil && (temporal.IsCanceledError(err) || errors.Is(ctx.Err(), workflow.ErrCanceled))
}

// process runs the case until it is settled (errSettled) or fails.
func (c *invoiceCase) process(ctx workflow.Context) error {
	c.setStage(ctx, StageChecking, "caso abierto", "")
	var opened activities.OpenCaseResult
	if err := c.call(ctx, "comprobar pagos", a.OpenCase, activities.OpenCaseInput{
		Case: c.ref(), AmountCents: c.in.AmountCents, ReturnedAt: c.in.ReturnedAt,
	}, &opened); err != nil {
		return err
	}
	for _, k := range opened.PaymentKeys {
		c.seen[k] = true
	}
	if opened.PaidCents > 0 {
		c.applyPayment(ctx, Payment{Key: "ledger", AmountCents: opened.PaidCents, PaidAt: c.now(ctx)}, "ya pagado según el registro de pagos")
	}
	if c.in.Return != nil && c.safe {
		// A case a bank's file started: its reason sets the path before
		// anything is sent (the hold is taken at the first wait below).
		c.takeReturn(ctx, *c.in.Return)
	}
	if err := c.findContact(ctx); err != nil {
		return err
	}
	switch {
	case !c.safe && c.contract.Segment == activities.SegmentBusiness:
		return c.businessBefore(ctx)
	case !c.safe:
		return c.domesticBefore(ctx)
	case c.contract.Segment == activities.SegmentBusiness:
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

// lookupContract reads the contract of the supply point. The supply's own
// calendar (its province's holidays) comes with it: the workflow never reads
// the holiday data itself, so a corrected file never changes a replay.
func (c *invoiceCase) lookupContract(ctx workflow.Context) error {
	var k activities.Contract
	if err := c.call(ctx, "buscar contrato", a.LookupContract, activities.LookupInput{Case: c.ref()}, &k); err != nil {
		return err
	}
	c.contract = k
	c.st.Segment = k.Segment
	c.st.Phone, c.st.Email = k.Phone, k.Email
	c.st.BonoSocial, c.st.Essential, c.st.Protected = k.BonoSocial, k.Essential, k.Protected
	if k.Customer != "" && c.st.Customer == "" {
		c.st.Customer = k.Customer
	}
	if c.safe {
		c.cal = c.supplyCalendar()
	}
	c.publish(ctx)
	return nil
}

// supplyCalendar is the calendar of allowed cut days of the supply: national
// holidays, those of its province's community and the local ones configured.
func (c *invoiceCase) supplyCalendar() calendar.Calendar {
	days := make([]time.Time, 0, len(c.in.Policy.Holidays)+len(c.contract.Holidays))
	for _, h := range append(append([]string(nil), c.in.Policy.Holidays...), c.contract.Holidays...) {
		if d, err := time.ParseInLocation(time.DateOnly, h, calendar.Madrid); err == nil {
			days = append(days, d)
		}
	}
	return calendar.New(days...)
}

func (c *invoiceCase) recordStage(ctx workflow.Context, detail, actor string) error {
	// Seq is data, not a command: a local activity's marker records its
	// result, never its input, and replay matches an activity by type and
	// id, so histories recorded before Seq replay unchanged (no GetVersion).
	c.stages++
	return c.call(ctx, "etapa "+string(c.st.Stage), a.RecordStage, activities.StageInput{
		Case: c.ref(), Detail: detail, Actor: actor, At: c.now(ctx), Seq: c.stages,
	}, nil)
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
