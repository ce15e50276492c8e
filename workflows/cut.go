package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
)

// A cut is the one act of the case that cannot be undone. The case schedules
// it, sends the pre-cut e-mail, has the cuts desk review it, and then asks the
// ledger for it: the ledger checks every condition again in the transaction
// that writes the request (store.RequestCut), and what it refuses sends the
// case where the reason says.

// neverCutHold keeps essential supplies and protected households on hold: a
// person releasing them makes the case read the contract again, and the case
// goes on only if the supply may now be cut.
func (c *invoiceCase) neverCutHold(ctx workflow.Context) error {
	for c.contract.NeverCut() {
		reason := "suministro esencial: no se corta"
		switch {
		case c.contract.Essential:
		case c.contract.Protected:
			reason = "hogar protegido: no se corta"
		default:
			reason = c.contract.Protection + ": no se corta hasta que una persona lo revise"
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

// plannedCutDay is the first allowed cut day of the supply's calendar at
// least lead days ahead that no decreed ban covers for this consumer. A ban makes the
// case wait in cut_blocked until it ends; a day past the calendar's data makes
// it wait for a person (NeedsAttention) rather than guess.
func (c *invoiceCase) plannedCutDay(ctx workflow.Context, lead int) (time.Time, error) {
	for {
		day := c.cal.NextCutDay(c.now(ctx).AddDate(0, 0, lead))
		if through := c.contract.CalendarThrough; through > 0 && day.Year() > through {
			why := fmt.Sprintf("falta el calendario de %d (días festivos de la provincia %q)", day.Year(), c.contract.Province)
			c.raiseAttention(ctx, why)
			c.calendarMissing = true
			if err := c.blocked(ctx, why, c.now(ctx).AddDate(0, 0, 1), "volver a leer el calendario"); err != nil {
				return time.Time{}, err
			}
			if err := c.lookupContract(ctx); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if c.calendarMissing {
			c.calendarMissing = false
			c.clearAttention(ctx, "calendario disponible")
		}
		ban := c.in.Policy.banOn(day, c.contract)
		if ban == nil {
			return day, nil
		}
		end := ban.To.AddDate(0, 0, 1)
		if err := c.blocked(ctx, ban.Name, c.in.Policy.at(end), "fin de la prohibición de cortes"); err != nil {
			return time.Time{}, err
		}
		if err := c.lookupContract(ctx); err != nil {
			return time.Time{}, err
		}
	}
}

// blocked waits in cut_blocked until the case-time moment until, saying why.
func (c *invoiceCase) blocked(ctx workflow.Context, why string, until time.Time, next string) error {
	if c.st.Stage != StageCutBlocked || c.lastEvent() != why {
		c.setStage(ctx, StageCutBlocked, why, "")
		if err := c.recordStage(ctx, why, ""); err != nil {
			return err
		}
	}
	return c.waitUntil(ctx, until, next)
}

// cutPhase runs from a scheduled cut date to the cut: pre-cut e-mail, review by
// the cuts desk, and the request the ledger arbitrates (PROCESS steps 5–7).
func (c *invoiceCase) cutPhase(ctx workflow.Context, cutDate time.Time) error {
	p := c.in.Policy
	if err := c.waitUntil(ctx, p.at(cutDate.AddDate(0, 0, -p.PreCutEmailDays)), "e-mail de aviso de corte"); err != nil {
		return err
	}
	// The e-mail goes to the contact data of today, and not to a supply that
	// may no longer be cut.
	if err := c.findContact(ctx); err != nil {
		return err
	}
	if err := c.neverCutHold(ctx); err != nil {
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
	} else if c.st.Stage != StageCutScheduled {
		c.scheduleCut(ctx, cutDate, "corte programado")
	}
	c.tell(cutDate)
	if err := c.sendNotice(ctx, "pre_corte", activities.KindPreCut, &cutDate, nil); err != nil {
		return err
	}
	if err := c.waitUntil(ctx, p.at(cutDate), "revisión del corte por la mesa de cortes"); err != nil {
		return err
	}
	return c.approveAndRequest(ctx)
}

// approveAndRequest goes round review, approval and request until the supply
// is cut (or the case settles): the contract is read again, the formal notice
// must be proven, the cuts desk approves, the cut waits for an allowed day,
// and the ledger has the last word.
func (c *invoiceCase) approveAndRequest(ctx workflow.Context) error {
	for {
		if err := c.lookupContract(ctx); err != nil {
			return err
		}
		if err := c.neverCutHold(ctx); err != nil {
			return err
		}
		var supply activities.SupplyStatus
		if err := c.call(ctx, "¿CUPS ya cortado?", a.CheckSupply, activities.SupplyInput{Case: c.ref()}, &supply); err != nil {
			return err
		}
		approvedBy := "" // joining a cut in force needs no approval of its own
		if !supply.Cut {
			if err := c.awaitProof(ctx); err != nil {
				return err
			}
			if err := c.review(ctx); err != nil {
				return err
			}
			fresh, err := c.waitForCutDay(ctx)
			if err != nil {
				return err
			}
			if !fresh {
				c.staleApproval(ctx, "la aprobación era para otro día")
				continue
			}
			// The contract may have changed while the cut waited for its approval.
			if err := c.lookupContract(ctx); err != nil {
				return err
			}
			if c.contract.NeverCut() {
				c.staleApproval(ctx, "el contrato ya no permite el corte aprobado: no se solicita")
				continue
			}
			approvedBy = c.approval.By
		}
		at, ok, err := c.readyToRequest(ctx, approvedBy != "")
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		// The cut date on record is the day the cut is requested.
		today := c.cal.NextCutDay(at)
		c.st.CutDate = &today
		var cut activities.CutResult
		err = c.callActivity(ctx, "solicitud de corte a la distribuidora", a.RequestCut, activities.CutInput{
			Case: c.refWithStage(c.requestStage()), ApprovedBy: approvedBy, At: at,
			Checked: true, Rules: c.cutRules(), ATR: c.atr, Send: c.atr,
		}, &cut)
		if r, ok := cutRefusal(err); ok {
			if err := c.refused(ctx, r); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if c.atr && cut.Request != nil {
			c.requestedAt = at
			done, err := c.followCut(ctx, *cut.Request, approvedBy, cut.Joined, cut.Sent)
			if err != nil || done {
				return err
			}
			continue
		}
		now := c.now(ctx)
		c.st.CutAt = &now
		c.st.CutApprovedBy = approvedBy
		what := "corte solicitado a la distribuidora"
		if cut.Joined {
			what = "el CUPS ya estaba cortado por otra factura: se une a ese corte"
		}
		c.approvalAnswer = "cut requested from the distributor"
		if cut.Joined {
			c.approvalAnswer = "the supply point was already cut for another invoice: joined that cut"
		}
		c.setStage(ctx, StageCut, what, approvedBy)
		return c.waitFor(ctx, func() bool { return false }, "pago de la deuda (paid)")
	}
}

// readyToRequest records every payment and hold received so far in the
// ledger, then checks the day: from that check to the request nothing yields,
// so whatever arrives later is the ledger's to judge, and the day the request
// carries is the one checked. Reading and recording take time, and on a fast
// case clock (the demo policy) days: a day that is no longer an allowed cut
// day sends the case to wait for the next one. It reports false when the case
// must go round again (the approval went stale).
func (c *invoiceCase) readyToRequest(ctx workflow.Context, approved bool) (time.Time, bool, error) {
	for {
		for {
			if err := c.handleInterrupts(ctx); err != nil {
				return time.Time{}, false, err
			}
			if !c.interrupted() {
				break
			}
		}
		if approved && c.holds != c.approvalHolds {
			c.staleApproval(ctx, "el caso estuvo en espera tras la aprobación")
			return time.Time{}, false, nil
		}
		at := c.now(ctx)
		if !approved || c.cal.IsAllowedCutDay(at) {
			return at, true, nil
		}
		fresh, err := c.waitForCutDay(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		if !fresh {
			c.staleApproval(ctx, "la aprobación era para otro día")
			return time.Time{}, false, nil
		}
	}
}

// review puts the case before the cuts desk until it approves.
func (c *invoiceCase) review(ctx workflow.Context) error {
	if c.approval != nil && c.st.Stage == StageCutReview {
		return nil
	}
	c.approval = nil
	c.setStage(ctx, StageCutReview, "a revisión de la mesa de cortes", "")
	if err := c.recordStage(ctx, "a revisión de la mesa de cortes", ""); err != nil {
		return err
	}
	if err := c.waitFor(ctx, func() bool { return c.approval != nil }, "aprobación de la mesa de cortes (approve-cut)"); err != nil {
		return err
	}
	c.st.CutApprovedBy = c.approval.By
	return nil
}

// waitForCutDay holds an approval given on a day that is not an allowed cut
// day until the first allowed day after it, for which it stays good. It
// reports false when the approval has gone stale: that day passed without
// the cut, so the cuts desk must look again. A case whose clock runs faster
// than real time (the demo policy) may wake a few of its days late through no
// fault of anyone: an approval is stale only once more real time passed than
// the wait needed and a minute.
func (c *invoiceCase) waitForCutDay(ctx workflow.Context) (bool, error) {
	good := c.cal.NextCutDay(c.approvedAt)
	slack := c.in.Policy.realDuration(good.Sub(c.approvedAt)) + time.Minute
	late := func() bool {
		return c.cal.NextCutDay(c.now(ctx)).After(good) && workflow.Now(ctx).Sub(c.approvedReal) > slack
	}
	for now := c.now(ctx); !c.cal.IsAllowedCutDay(now); now = c.now(ctx) {
		if late() {
			return false, nil
		}
		day := c.cal.NextCutDay(now)
		c.st.CutDate = &day
		c.approvalAnswer = "cut postponed to the next allowed cut day, " + day.Format("02/01/2006")
		c.event(ctx, "corte aplazado al siguiente día permitido", "")
		if err := c.waitUntil(ctx, c.in.Policy.at(day), "corte en día permitido"); err != nil {
			return false, err
		}
	}
	return !late(), nil
}

func (c *invoiceCase) staleApproval(ctx workflow.Context, why string) {
	if c.approval == nil {
		return
	}
	c.approval = nil
	c.st.CutApprovedBy = ""
	c.event(ctx, "aprobación caducada ("+why+"): vuelve a revisión", "")
}

// awaitProof waits in cut_blocked until the ledger holds a proof that the
// formal notice reached the customer: a qualified provider's certificate or
// a proof a clerk recorded (starter proof, which wakes the case).
func (c *invoiceCase) awaitProof(ctx workflow.Context) error {
	for {
		// Cleared before the read: a proof recorded while it runs must wake the wait.
		c.proofRecorded = false
		var proof activities.ProofStatus
		if err := c.call(ctx, "¿aviso formal probado?", a.NoticeProof, activities.ProofInput{Case: c.ref()}, &proof); err != nil {
			return err
		}
		c.st.Proof = &proof
		if proof.Proven && proof.ProvenOn != nil {
			return nil
		}
		why := "sin prueba de entrega del aviso formal: no se puede cortar"
		if c.st.Stage != StageCutBlocked {
			c.setStage(ctx, StageCutBlocked, why, "")
			if err := c.recordStage(ctx, why, ""); err != nil {
				return err
			}
		}
		if err := c.waitFor(ctx, func() bool { return c.proofRecorded }, "prueba de entrega del aviso formal (starter proof)"); err != nil {
			return err
		}
	}
}

// refused takes the ledger's refusal of a cut request where its reason says:
// settle, on hold, never cut, wait for proof, or wait out the reason and go
// back to review.
func (c *invoiceCase) refused(ctx workflow.Context, r activities.CutRefusal) error {
	c.event(ctx, fmt.Sprintf("el registro rechaza el corte (%s): %s", r.Reason, r.Detail), "")
	c.approvalAnswer = fmt.Sprintf("cut refused by the ledger (%s): %s", r.Reason, r.Detail)
	c.staleApproval(ctx, "rechazo del registro")
	until := c.now(ctx).AddDate(0, 0, 1)
	if r.Until != nil && r.Until.After(c.now(ctx)) {
		until = *r.Until
	}
	switch r.Reason {
	case activities.RefusedNothingDue:
		// Payments the ledger has and the case has not heard of (an import).
		c.st.AmountDueCents = 0
		c.publish(ctx)
		return errSettled
	case activities.RefusedOnHold:
		if c.hold == nil {
			c.hold = &Hold{Reason: "espera en el registro: " + r.Detail, By: "registro", At: c.now(ctx), Recorded: true}
			c.ledgerHold = true
		}
		return nil
	case activities.RefusedNeverCut, activities.RefusedNotProven:
		return nil // read again at the top of the loop
	case activities.RefusedNotCutDay, activities.RefusedWaitNotOver, activities.RefusedMinimumSupply, activities.RefusedCutBan:
		return c.blocked(ctx, r.Detail, c.in.Policy.at(until), "fin de la espera: "+r.Reason)
	case activities.RefusedNoCalendar:
		c.raiseAttention(ctx, r.Detail)
		return c.blocked(ctx, r.Detail, until, "volver a leer el calendario")
	}
	// The ledger closed the invoice (paid or cancelled elsewhere) or gave a
	// reason this code does not know: a person decides.
	c.raiseAttention(ctx, fmt.Sprintf("el registro rechaza el corte: %s (%s)", r.Detail, r.Reason))
	c.hold = &Hold{Reason: "el registro rechaza el corte: " + r.Detail, By: "sistema", At: c.now(ctx), NeverCut: true}
	return c.handleInterrupts(ctx)
}

// cutRefusal reads the ledger's refusal out of a RequestCut error.
func cutRefusal(err error) (activities.CutRefusal, bool) {
	var app *temporal.ApplicationError
	var r activities.CutRefusal
	if !errors.As(err, &app) || app.Type() != activities.ErrCutRefused {
		return r, false
	}
	if derr := app.Details(&r); derr != nil || r.Reason == "" {
		r = activities.CutRefusal{Reason: "unknown", Detail: app.Error()}
	}
	return r, true
}

// requestStage is the stage the ledger records with the cut request.
func (c *invoiceCase) requestStage() Stage {
	if c.atr {
		return StageCutRequested
	}
	return StageCut
}

// cutRules are what the ledger checks besides its own rows.
func (c *invoiceCase) cutRules() activities.CutRules {
	p := c.in.Policy
	return activities.CutRules{
		CaseClock: p.Scale > 1,
		NotBefore: c.notBefore,
		// The supply's own days (its province's and the local ones
		// configured) as the case knows them, with the policy's.
		Holidays:             append(append([]string(nil), p.Holidays...), c.contract.Holidays...),
		RegulatoryWaitMonths: p.RegulatoryWaitMonths,
		BonoSocialWaitMonths: p.BonoSocialWaitMonths,
		MinimumSupplyMonths:  p.MinimumSupplyMonths,
		Bans:                 p.CutBans,
	}
}
