package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/activities"
)

// The paths of the cases started before the ledger checked every cut request
// (cutSafety): they must replay exactly as they ran, so they are kept here as
// they were and are not changed. New cases take notices.go and cut.go.

// domesticBefore sends three notices with no cut date; only after the regulatory
// wait that follows the formal demand may a cut be scheduled (PROCESS step 3).
func (c *invoiceCase) domesticBefore(ctx workflow.Context) error {
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
	return c.cutPhaseBefore(ctx, cutDate)
}

// businessBefore sends the cut letter with its scheduled cut date and the certified
// e-mail at once (PROCESS step 4).
func (c *invoiceCase) businessBefore(ctx workflow.Context) error {
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
	return c.cutPhaseBefore(ctx, cutDate)
}

// contractBeforeCut is the change id of the contract read again once the cut
// is approved, right before it is requested (see cutPhaseBefore).
const contractBeforeCut = "contract-before-cut"

// cutPhaseBefore runs from a scheduled cut date to the cut: pre-cut e-mail, review by
// the cuts desk, and the request to the distributor (PROCESS steps 5–7).
func (c *invoiceCase) cutPhaseBefore(ctx workflow.Context, cutDate time.Time) error {
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
		if !c.changed(ctx, contractBeforeCut) {
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
