package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
)

// The distributor cuts and reconnects; the case asks it by the CNMC's ATR
// process B1 and follows its answers (signal distributor): cut_requested
// until the distributor executes the cut (step 05, with the day it did),
// cut_cancel_requested when the debt is paid before that, and
// reconnect_requested until it accepts to restore the supply (step 04).
// Cases started before the distributor spoke ATR keep their path: the cut is
// the request, and the reconnection is asked for once (atr false).

// distributorATR is the change id of the cases that follow the distributor's answers.
const distributorATR = "distributor-atr"

// cutHeardOnRelease is the change id of the cases that take, while they
// follow the 03, a cut they had not heard of as the distributor executed it:
// its day as their cut date and a forbidden day as its breach.
const cutHeardOnRelease = "cut-heard-on-release"

// cutReadOnReconnect is the change id of the cases that, paid after a cut
// they never heard of (the ledger asks for the reconnection), read that cut
// from the ledger before they follow the 03.
const cutReadOnReconnect = "cut-read-on-reconnect"

// cutReadOnCancel is the change id of the cases that, when the distributor
// accepts the cancellation of their cut, read the cut request from the ledger
// before they close as never cut: a 05 the case was never told of (the
// distributor cut before it read the cancellation, and the worker stopped
// before it told the case) makes the acceptance a reconnection. Cases started
// with localNotices take it without a marker.
const cutReadOnCancel = "cut-read-on-cancel"

// flushWhileSettled is the change id of the cases that, settled and waiting
// for the distributor's answer to their 03 (or for a person, after a
// rejection or a late answer), write a payment reported by signal to the
// ledger when it comes. Before it such a payment (money paid twice, or more
// than was due) waited in the case until it closed, and a case may wait days.
const flushWhileSettled = "flush-while-settled"

// onDistributor takes an answer of the distributor, once per answer.
func (c *invoiceCase) onDistributor(ctx workflow.Context, s activities.DistributorAnswer) {
	if c.answersSeen[s.MessageID] {
		return
	}
	c.answersSeen[s.MessageID] = true
	c.answers = append(c.answers, s)
}

// takeAnswers applies the answers received to the requests the case follows.
// It reports whether anything moved.
func (c *invoiceCase) takeAnswers(ctx workflow.Context) bool {
	moved := false
	for len(c.answers) > 0 {
		s := c.answers[0]
		c.answers = c.answers[1:]
		if s.Cut != nil && c.st.Request == nil && c.st.Release != nil && s.Request.RequestID == c.st.Release.RequestID {
			// The release of a cut another invoice's case asked for.
			cut := *s.Cut
			c.st.Request = &cut
		}
		if c.takeState(ctx, s.Request, s.File) {
			moved = true
		}
		if s.Cut != nil && c.takeState(ctx, *s.Cut, "") {
			moved = true
		}
	}
	return moved
}

// takeState records what the ledger says of a request the case follows.
func (c *invoiceCase) takeState(ctx workflow.Context, r activities.DistributorState, file string) bool {
	var mine **activities.DistributorState
	switch {
	case c.st.Request != nil && r.RequestID == c.st.Request.RequestID:
		mine = &c.st.Request
	case c.st.Release != nil && r.RequestID == c.st.Release.RequestID:
		mine = &c.st.Release
	default:
		return false
	}
	old := *mine
	if old.Status == r.Status && old.Answer >= r.Answer {
		return false
	}
	copied := r
	*mine = &copied
	what := fmt.Sprintf("respuesta de la distribuidora a la solicitud %s (%s): %s", r.Code, r.Kind, r.Status)
	if file != "" {
		what += " [" + file + "]"
	}
	for _, rj := range r.Rejections {
		what += fmt.Sprintf("; rechazo %s %s", rj.Code, rj.Text)
	}
	c.event(ctx, what, "distribuidora")
	return true
}

// followCut follows the cut request to the distributor until the supply is cut
// (step 05), or the distributor refuses it. It reports false when the case
// must go round the review again (the request was refused and a person
// released the case).
func (c *invoiceCase) followCut(ctx workflow.Context, req activities.DistributorState, approvedBy string, joined, sent bool) (bool, error) {
	c.st.Request = &req
	c.st.CutAt = nil
	what := fmt.Sprintf("corte solicitado a la distribuidora (B1 %s, fecha prevista %s)", req.Code, dmyPtr(req.PlannedOn))
	if joined {
		what = fmt.Sprintf("el CUPS ya tiene una solicitud de corte (B1 %s): se une a ella", req.Code)
	}
	c.approvalAnswer = "cut requested from the distributor (B1 " + req.Code + "), planned for " + dmyPtr(req.PlannedOn)
	if joined {
		c.approvalAnswer = "the supply point already had a cut request (B1 " + req.Code + "): joined it"
	}
	c.setStage(ctx, StageCutRequested, what, approvedBy)
	if req.Status != activities.RequestExecuted && !sent {
		if err := c.sendToDistributor(ctx, req.RequestID); err != nil {
			return false, err
		}
	}
	for {
		c.takeAnswers(ctx)
		r := *c.st.Request
		switch r.Status {
		case activities.RequestExecuted:
			return true, c.cutExecuted(ctx, r)
		case activities.RequestRejected:
			return c.cutRejected(ctx, r)
		}
		if err := c.awaitAnswer(ctx, c.answerDue(r), r); err != nil {
			return false, err
		}
	}
}

// answerDue is when the case stops waiting quietly for the distributor: the
// policy's working days for the acceptance (02), and for the cut itself (05)
// that many working days after the day the distributor announced.
func (c *invoiceCase) answerDue(r activities.DistributorState) time.Time {
	p := c.in.Policy
	if r.Status == activities.RequestAccepted && r.PlannedOn != nil {
		return p.at(c.cal.AddWorkingDays(*r.PlannedOn, p.ExecuteWithinWorkingDays))
	}
	return p.at(c.cal.AddWorkingDays(c.requestedAt, p.AnswerWithinWorkingDays))
}

// awaitAnswer waits for an answer of the distributor until due; past it, the
// case asks the ledger (an answer may have been read while the case did not
// hear of it), and if there is none raises NeedsAttention and goes on waiting.
func (c *invoiceCase) awaitAnswer(ctx workflow.Context, due time.Time, r activities.DistributorState) error {
	next := "aceptación de la distribuidora (paso 02)"
	if r.Status == activities.RequestAccepted {
		next = "corte por la distribuidora (paso 05)"
	}
	if r.Kind != activities.RequestCut {
		next = "respuesta de la distribuidora a la anulación (paso 04)"
	}
	if c.st.Attention == "" || !strings.HasPrefix(c.st.Attention, "la distribuidora no responde") {
		err := c.waitUntilOr(ctx, due, next, func() bool { return len(c.answers) > 0 })
		if err != nil || len(c.answers) > 0 {
			return err
		}
		var now activities.DistributorState
		if err := c.call(ctx, "¿respuesta de la distribuidora?", a.DistributorRequest, activities.RequestInput{Case: c.ref(), RequestID: r.RequestID}, &now); err != nil {
			return err
		}
		if c.takeState(ctx, now, "") {
			return nil
		}
		c.raiseAttention(ctx, fmt.Sprintf("la distribuidora no responde a la solicitud %s (%s) desde el %s", r.Code, next, c.now(ctx).Format("02/01/2006")))
	}
	return c.waitFor(ctx, func() bool { return len(c.answers) > 0 }, next)
}

// waitUntilOr is waitUntil that also wakes when cond holds.
func (c *invoiceCase) waitUntilOr(ctx workflow.Context, at time.Time, next string, cond func() bool) error {
	for {
		if err := c.handleInterrupts(ctx); err != nil {
			return err
		}
		now := c.now(ctx)
		if cond() || !now.Before(at) {
			return nil
		}
		d := c.in.Policy.realDuration(at.Sub(now))
		c.setNext(ctx, next, &at, workflow.Now(ctx).Add(d))
		opts := workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: next}}
		if _, err := workflow.AwaitWithOptions(ctx, opts, func() bool { return cond() || c.interrupted() }); err != nil {
			return err
		}
	}
}

// cutExecuted records the cut as the distributor executed it, on the day it
// says: that is the case's cut date. A cut on a day no cut is allowed is the
// distributor's breach, recorded and flagged for a person.
func (c *invoiceCase) cutExecuted(ctx workflow.Context, r activities.DistributorState) error {
	day := c.now(ctx)
	if r.ExecutedOn != nil {
		day = *r.ExecutedOn
	}
	c.st.CutDate, c.st.CutAt = &day, &day
	if c.st.Attention != "" && strings.HasPrefix(c.st.Attention, "la distribuidora no responde") {
		c.clearAttention(ctx, "la distribuidora respondió")
	}
	c.setStage(ctx, StageCut, "suministro cortado por la distribuidora el "+day.Format("02/01/2006"), "distribuidora")
	if err := c.breachOn(ctx, day, r); err != nil {
		return err
	}
	if err := c.recordStage(ctx, "suministro cortado por la distribuidora", "distribuidora"); err != nil {
		return err
	}
	return c.waitFor(ctx, func() bool { return false }, "pago de la deuda (paid)")
}

// breachOn records a cut the distributor executed on a day no cut is
// allowed as its breach, and flags it for a person.
func (c *invoiceCase) breachOn(ctx workflow.Context, day time.Time, r activities.DistributorState) error {
	if c.cal.IsAllowedCutDay(day) {
		return nil
	}
	why := fmt.Sprintf("la distribuidora cortó el %s, día en que no se permite cortar (solicitud %s)", day.Format("02/01/2006"), r.Code)
	if err := c.call(ctx, "incumplimiento de la distribuidora", a.RecordBreach, activities.BreachInput{
		Case: c.ref(), RequestID: r.RequestID, What: why, At: c.now(ctx),
	}, nil); err != nil {
		return err
	}
	c.st.Breach = why
	c.raiseAttention(ctx, why)
	return nil
}

// cutRejected takes the distributor's refusal of the cut where its reasons
// say: a protected supply (essential, court order, energy poverty, Bono
// Social, minimum vital) is held for good and its supply point flagged by the
// ledger; a supply already cut is this case's cut; anything else (technical,
// a request already in progress, a code this code does not know) holds the
// case with NeedsAttention until a person releases it. It reports false when
// the case must go round the review again.
func (c *invoiceCase) cutRejected(ctx workflow.Context, r activities.DistributorState) (bool, error) {
	c.st.Request = nil
	// A protected supply outranks a cut already in force, which outranks
	// the rest.
	rank := map[string]int{"never_cut": 2, "already_cut": 1}
	var codes []string
	class := "other"
	for _, rj := range r.Rejections {
		codes = append(codes, rj.Code+" "+rj.Text)
		if rank[rj.Class] > rank[class] {
			class = rj.Class
		}
	}
	why := fmt.Sprintf("la distribuidora rechaza el corte (B1 %s): %s", r.Code, strings.Join(codes, "; "))
	c.approval, c.st.CutApprovedBy = nil, ""
	c.st.CutDate = nil
	switch class {
	case "already_cut":
		day := c.now(ctx)
		if r.AnsweredOn != nil {
			day = *r.AnsweredOn
		}
		c.st.CutDate, c.st.CutAt = &day, &day
		c.st.Request = &r
		c.setStage(ctx, StageCut, why+": el suministro ya estaba cortado, el caso se une a ese corte", "distribuidora")
		if err := c.recordStage(ctx, "suministro ya cortado según la distribuidora", "distribuidora"); err != nil {
			return false, err
		}
		return true, c.waitFor(ctx, func() bool { return false }, "pago de la deuda (paid)")
	case "never_cut":
		c.event(ctx, why+": el suministro queda marcado para que una persona lo revise", "distribuidora")
		c.setStage(ctx, StageCutReview, "vuelve a revisión tras el rechazo", "")
		return false, nil // the contract, read again, holds the case for good
	}
	c.raiseAttention(ctx, why)
	c.hold = &Hold{Reason: why, By: "distribuidora", At: c.now(ctx)}
	c.setStage(ctx, StageCutReview, "vuelve a revisión tras el rechazo", "")
	return false, c.handleInterrupts(ctx)
}

// sendToDistributor hands the distributor the messages of a request.
func (c *invoiceCase) sendToDistributor(ctx workflow.Context, requestID int64) error {
	return c.callActivity(ctx, "enviar a la distribuidora (ATR B1)", a.SendToDistributor,
		activities.SendInput{Case: c.ref(), RequestID: requestID}, nil)
}

// release follows the step 03 a settlement asked for: the cancellation of a
// cut not yet executed, or the reconnection of one that was. The reconnection
// is due by the end of the day after the payment; a cancellation answered
// after the distributor cut anyway is a reconnection.
func (c *invoiceCase) release(ctx workflow.Context, res activities.SettleResult, paidAt time.Time) error {
	req := *res.Request
	c.st.Release = &req
	due := c.reconnectBy(paidAt)
	if res.Release == activities.RequestCancel {
		c.setStage(ctx, StageCutCancelRequested, "pagada antes del corte: anulación de la solicitud (B1 03 "+req.Code+")", "")
	} else {
		c.reconnectDue(ctx, due)
		c.setStage(ctx, StageReconnectRequested, "pagada tras el corte: reconexión solicitada (B1 03 "+req.Code+"), a más tardar el "+due.Format("02/01/2006"), "")
	}
	if !res.Sent {
		if err := c.sendToDistributor(ctx, req.RequestID); err != nil {
			return err
		}
	}
	if res.Release != activities.RequestCancel && c.st.CutAt == nil && c.st.Request != nil &&
		c.st.Request.Status != activities.RequestExecuted &&
		c.changed(ctx, cutReadOnReconnect) {
		// The ledger asks for a reconnection, so it holds the cut the case
		// has not heard of (its 05 recorded, and the worker never told the
		// case): the case reads it there, for its date and its breach.
		var cut activities.DistributorState
		if err := c.call(ctx, "¿corte ejecutado?", a.DistributorRequest, activities.RequestInput{Case: c.ref(), RequestID: c.st.Request.RequestID}, &cut); err != nil {
			return err
		}
		c.takeState(ctx, cut, "")
	}
	for {
		c.takeAnswers(ctx)
		if err := c.cutHeard(ctx, due); err != nil {
			return err
		}
		r := *c.st.Release
		switch r.Status {
		case activities.RequestAccepted:
			c.st.ReconnectDueAt, c.reconnectDueReal = nil, time.Time{}
			c.st.NextAction, c.st.NextActionAt = "", nil
			if strings.HasPrefix(c.st.Attention, "la distribuidora") || strings.HasPrefix(c.st.Attention, "reconexión") {
				c.clearAttention(ctx, "la distribuidora aceptó")
			}
			if c.st.Stage == StageCutCancelRequested && c.st.Request != nil && c.st.Request.Status != activities.RequestExecuted &&
				(c.notify || workflow.GetVersion(ctx, cutReadOnCancel, workflow.DefaultVersion, 1) >= 1) {
				var cut activities.DistributorState
				if err := c.call(ctx, "¿corte ejecutado?", a.DistributorRequest, activities.RequestInput{Case: c.ref(), RequestID: c.st.Request.RequestID}, &cut); err != nil {
					return err
				}
				if cut.Status == activities.RequestExecuted && c.takeState(ctx, cut, "") {
					continue // cutHeard makes the acceptance the reconnection
				}
			}
			if c.st.Stage == StageCutCancelRequested {
				c.setStage(ctx, StagePaid, "la distribuidora anuló la solicitud de corte: no se cortó", "distribuidora")
				return c.sendNotice(ctx, "pago", activities.KindPaid, nil, nil)
			}
			now := c.now(ctx)
			c.st.ReconnectAt = &now
			c.setStage(ctx, StageReconnected, "la distribuidora aceptó la reconexión", "distribuidora")
			return c.sendNotice(ctx, "reconexion", activities.KindReconnected, nil, nil)
		case activities.RequestRejected:
			var codes []string
			for _, rj := range r.Rejections {
				codes = append(codes, rj.Code+" "+rj.Text)
			}
			c.raiseAttention(ctx, fmt.Sprintf("la distribuidora rechaza la solicitud %s (%s): %s", r.Code, r.Kind, strings.Join(codes, "; ")))
			if err := c.settledWait(ctx, time.Time{}, "una persona resuelve el rechazo con la distribuidora"); err != nil {
				return err
			}
			continue
		}
		bound := c.in.Policy.at(c.cal.AddWorkingDays(paidAt, c.in.Policy.AnswerWithinWorkingDays))
		next := "anulación aceptada por la distribuidora (paso 04)"
		if c.st.Stage == StageReconnectRequested {
			bound, next = due, "reconexión aceptada por la distribuidora (paso 04)"
		}
		if c.now(ctx).Before(bound) {
			if err := c.settledWait(ctx, bound, next); err != nil {
				return err
			}
			continue
		}
		var now activities.DistributorState
		if err := c.call(ctx, "¿respuesta de la distribuidora?", a.DistributorRequest, activities.RequestInput{Case: c.ref(), RequestID: r.RequestID}, &now); err != nil {
			return err
		}
		if c.takeState(ctx, now, "") {
			continue
		}
		what := "la distribuidora no responde a la anulación " + r.Code
		if c.st.Stage == StageReconnectRequested {
			what = "reconexión no aceptada a tiempo: debía estar el " + due.Format("02/01/2006") + " (solicitud " + r.Code + ")"
		}
		c.raiseAttention(ctx, what)
		if err := c.settledWait(ctx, time.Time{}, next); err != nil {
			return err
		}
	}
}

// cutHeard takes, while the case follows its 03, a cut it had not heard of:
// the distributor cut before it read the cancellation (its answer to the 03
// is now the reconnection), or the cut reached the ledger before the payment
// and the case only now (the worker recorded the 05 and stopped before it
// told the case, and the settlement asked for the reconnection). The cut date
// is the day the distributor gives, and a 05 on a day no cut is allowed its
// breach.
func (c *invoiceCase) cutHeard(ctx workflow.Context, due time.Time) error {
	r := c.st.Request
	if r == nil {
		return nil
	}
	day, executed := executedOn(*r)
	cancelling := c.st.Stage == StageCutCancelRequested
	if !executed || (!cancelling && c.st.CutAt != nil) || (cancelling && r.Status != activities.RequestExecuted) {
		return nil // only a 05 makes a cancellation a reconnection
	}
	heard := c.changed(ctx, cutHeardOnRelease)
	if !heard && !cancelling {
		return nil // cases that ran before it took only a 05 to their cancellation
	}
	if day.IsZero() {
		day = c.now(ctx)
	}
	c.st.CutDate, c.st.CutAt = &day, &day
	if cancelling {
		c.reconnectDue(ctx, due)
		c.setStage(ctx, StageReconnectRequested, "la distribuidora cortó el "+day.Format("02/01/2006")+" antes de leer la anulación: se pide la reconexión", "distribuidora")
	} else {
		c.event(ctx, "la distribuidora había cortado el suministro el "+day.Format("02/01/2006"), "distribuidora")
		c.publish(ctx)
	}
	if !heard || r.Status != activities.RequestExecuted {
		return nil // a supply already cut was not cut on the day of the rejection
	}
	return c.breachOn(ctx, day, *r)
}

// executedOn is the day the distributor cut the supply of a request, as the
// ledger told the case: the day of its 05, or of its rejection because the
// supply was already cut (zero when the ledger knows no day).
func executedOn(r activities.DistributorState) (time.Time, bool) {
	switch {
	case r.Status == activities.RequestExecuted:
		if r.ExecutedOn != nil {
			return *r.ExecutedOn, true
		}
		return time.Time{}, true
	case r.Status == activities.RequestRejected:
		for _, rj := range r.Rejections {
			if rj.Class == "never_cut" {
				return time.Time{}, false
			}
		}
		for _, rj := range r.Rejections {
			if rj.Class == "already_cut" && r.AnsweredOn != nil {
				return *r.AnsweredOn, true
			}
		}
	}
	return time.Time{}, false
}

// reconnectDue sets when the reconnection must have been accepted.
func (c *invoiceCase) reconnectDue(ctx workflow.Context, due time.Time) {
	c.st.ReconnectDueAt = &due
	c.reconnectDueReal = workflow.Now(ctx).Add(c.in.Policy.realDuration(due.Sub(c.now(ctx))))
}

// settledWait waits, with the debt paid, for an answer of the distributor,
// until the case-time moment until (none when zero). A payment reported by
// signal meanwhile goes to the ledger when it comes (flushWhileSettled).
func (c *invoiceCase) settledWait(ctx workflow.Context, until time.Time, next string) error {
	if workflow.GetVersion(ctx, flushWhileSettled, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		cond := func() bool { return len(c.answers) > 0 }
		if until.IsZero() {
			c.setNext(ctx, next, nil, time.Time{})
			return workflow.Await(ctx, cond)
		}
		d := c.in.Policy.realDuration(until.Sub(c.now(ctx)))
		c.setNext(ctx, next, &until, workflow.Now(ctx).Add(d))
		_, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: next}}, cond)
		return err
	}
	// One timer for the whole wait, however many payments come meanwhile,
	// left to run out when an answer comes first, as AwaitWithOptions leaves
	// its own: the commands are the ones the old path gave.
	var timer workflow.Future
	if until.IsZero() {
		c.setNext(ctx, next, nil, time.Time{})
	} else {
		d := c.in.Policy.realDuration(until.Sub(c.now(ctx)))
		c.setNext(ctx, next, &until, workflow.Now(ctx).Add(d))
		timer = workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: next})
	}
	for {
		if err := workflow.Await(ctx, func() bool {
			return len(c.answers) > 0 || len(c.pending) > 0 || (timer != nil && timer.IsReady())
		}); err != nil {
			return err
		}
		if len(c.pending) == 0 {
			return nil
		}
		if err := c.flushPayments(ctx); err != nil {
			return err
		}
	}
}

func dmyPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.In(calendar.Madrid).Format("02/01/2006")
}
