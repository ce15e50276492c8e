package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// The regulation's shortest waits, which hold whatever a case's rules say: two
// months after the proven formal demand of a domestic supply, four for a Bono
// Social household, then six of Suministro Mínimo Vital before its cut.
const (
	minRegulatoryWaitMonths = 2
	minBonoSocialWaitMonths = 4
	minMinimumSupplyMonths  = 6
)

// errRefused rolls back the transaction of a refused request; the refusal
// itself travels beside it.
var errRefused = errors.New("refused")

// refuse builds a refusal; until is nil when the ledger cannot say when the
// reason ends.
func refuse(reason string, until *time.Time, format string, args ...any) *activities.CutRefusal {
	return &activities.CutRefusal{Reason: reason, Detail: fmt.Sprintf(format, args...), Until: until}
}

// requestDay is the day a cut is requested, in Madrid: the case's clock when
// its rules say so (the demo policy), else the ledger's.
func (s *Store) requestDay(ctx context.Context, tx pgx.Tx, in activities.CutInput) (time.Time, error) {
	if in.Rules.CaseClock {
		if in.At.IsZero() {
			return time.Time{}, errors.New("the case's clock rules the cut but the request has no time")
		}
		return madridDay(in.At), nil
	}
	return s.today(ctx, tx)
}

// checkInvoice locks the invoice row and refuses a cut for an invoice that the
// ledger says is not open, owes nothing or is on hold. What is owed is the
// invoice's amount less the payments of the ledger from the day of its return
// on (Madrid), as OpenCase counts them: never the amount due the workflow
// wrote, which a payment may not have reached yet. It returns the run the
// invoice row belongs to.
func checkInvoice(ctx context.Context, tx pgx.Tx, invoice string) (string, *activities.CutRefusal, error) {
	var status, runID, holdReason, holdBy string
	var amount int64
	var returnedAt *time.Time
	err := tx.QueryRow(ctx, `
		SELECT status, run_id, hold_reason, hold_by, amount_cents, returned_at
		FROM invoices WHERE invoice = $1 FOR UPDATE`, invoice).Scan(
		&status, &runID, &holdReason, &holdBy, &amount, &returnedAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", refuse(activities.RefusedNotOpen, nil, "la factura %s no consta en el libro", invoice), nil
	case err != nil:
		return "", nil, fmt.Errorf("invoice %s: %w", invoice, err)
	}
	if status != "open" {
		return runID, refuse(activities.RefusedNotOpen, nil, "la factura %s está %s en el libro", invoice, statusText(status)), nil
	}
	var paid int64
	if err := tx.QueryRow(ctx, `
		SELECT COALESCE(sum(amount_cents), 0)::bigint FROM payments
		WHERE invoice = $1
		  AND ($2::timestamptz IS NULL
		       OR (paid_at AT TIME ZONE 'Europe/Madrid')::date >= ($2::timestamptz AT TIME ZONE 'Europe/Madrid')::date)`,
		invoice, returnedAt).Scan(&paid); err != nil {
		return "", nil, fmt.Errorf("payments of invoice %s: %w", invoice, err)
	}
	if paid >= amount {
		return runID, refuse(activities.RefusedNothingDue, nil, "el libro de pagos cubre la factura %s: pagado %s de %s",
			invoice, money.Format(paid), money.Format(amount)), nil
	}
	if holdReason != "" {
		return runID, refuse(activities.RefusedOnHold, nil, "retenida por %s: %s", firstNonEmpty(holdBy, "desconocido"), holdReason), nil
	}
	return runID, nil, nil
}

// statusText is an invoice status as the clerks say it.
func statusText(status string) string {
	switch status {
	case "paid":
		return "pagada"
	case "cancelled":
		return "anulada"
	}
	return status
}

// supplyContract is what the cut check reads of the contract of a supply point.
type supplyContract struct {
	segment, province                string
	bonoSocial, essential, protected bool
	protection                       string // the distributor's refusal for a protected reason
}

// contractForCut reads the contract of the supply point and keeps it from
// changing until the transaction ends, so an import that marks the supply
// essential or protected is either seen by the cut or waits for it.
func contractForCut(ctx context.Context, tx pgx.Tx, cups string) (supplyContract, bool, error) {
	var k supplyContract
	err := tx.QueryRow(ctx, `
		SELECT k.segment, k.province, k.bono_social, k.essential, k.protected, COALESCE(sp.protection, '')
		FROM contracts k LEFT JOIN supply_points sp ON sp.cups = k.cups WHERE k.cups = $1 FOR SHARE OF k`,
		cups).Scan(&k.segment, &k.province, &k.bonoSocial, &k.essential, &k.protected, &k.protection)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return k, false, nil
	case err != nil:
		return k, false, fmt.Errorf("contract of %s: %w", cups, err)
	}
	return k, true, nil
}

// checkCut refuses a new cut of the supply point unless the contract allows
// it, the formal notice is proven and its wait is over, no ban covers the
// consumer and day is an allowed cut day of the supply's own calendar.
func (s *Store) checkCut(ctx context.Context, tx pgx.Tx, in activities.CutInput, runID string, day time.Time) (*activities.CutRefusal, error) {
	c, r := in.Case, in.Rules
	k, found, err := contractForCut(ctx, tx, c.Cups)
	if err != nil {
		return nil, err
	}
	switch {
	case !found:
		return refuse(activities.RefusedNeverCut, nil, "sin contrato del CUPS %s: nada dice que el suministro se pueda cortar", c.Cups), nil
	case k.essential:
		return refuse(activities.RefusedNeverCut, nil, "suministro esencial"), nil
	case k.protected:
		return refuse(activities.RefusedNeverCut, nil, "hogar protegido"), nil
	case k.protection != "":
		return refuse(activities.RefusedNeverCut, nil, "%s", k.protection), nil
	}

	proof, err := earliestProof(ctx, tx, c.Invoice, runID)
	if err != nil {
		return nil, err
	}
	if !proof.Proven {
		return refuse(activities.RefusedNotProven, nil, "no consta que el requerimiento llegara al cliente: falta el certificado o la prueba de entrega"), nil
	}
	proven := *proof.ProvenOn
	if k.segment == activities.SegmentDomestic {
		months, what := max(r.RegulatoryWaitMonths, minRegulatoryWaitMonths), "la espera"
		if k.bonoSocial {
			months, what = max(r.BonoSocialWaitMonths, minBonoSocialWaitMonths), "la espera del Bono Social"
		}
		if end := proven.AddDate(0, months, 0); day.Before(end) {
			return refuse(activities.RefusedWaitNotOver, &end, "%s de %d meses desde el %s (%s) acaba el %s",
				what, months, dmy(proven), proof.Kind, dmy(end)), nil
		}
		if k.bonoSocial {
			smv := max(r.MinimumSupplyMonths, minMinimumSupplyMonths)
			if end := proven.AddDate(0, months+smv, 0); day.Before(end) {
				return refuse(activities.RefusedMinimumSupply, &end, "Bono Social: el Suministro Mínimo Vital de %d meses acaba el %s",
					smv, dmy(end)), nil
			}
			// The household lives its months with the power limited before
			// any cut, however late the proof came: they run from the
			// limitation asked of the distributor.
			var limited *time.Time
			if err := tx.QueryRow(ctx, `SELECT min(requested_at) FROM power_limits WHERE invoice = $1 AND run_id = $2`,
				c.Invoice, runID).Scan(&limited); err != nil {
				return nil, err
			}
			if limited == nil {
				return refuse(activities.RefusedMinimumSupply, nil,
					"Bono Social: no consta la limitación de potencia del Suministro Mínimo Vital: ningún corte sin ella"), nil
			}
			from := madridDay(*limited)
			if end := from.AddDate(0, smv, 0); day.Before(end) {
				return refuse(activities.RefusedMinimumSupply, &end, "Bono Social: el Suministro Mínimo Vital de %d meses desde la limitación del %s acaba el %s",
					smv, dmy(from), dmy(end)), nil
			}
		}
	}
	if r.NotBefore != nil {
		if nb := madridDay(*r.NotBefore); day.Before(nb) {
			return refuse(activities.RefusedWaitNotOver, &nb, "se dijo al cliente que no habría corte antes del %s", dmy(nb)), nil
		}
	}
	if ban, until, ok := banOn(r.Bans, k, day); ok {
		return refuse(activities.RefusedCutBan, &until, "%s prohíbe cortar este suministro hasta el %s incluido",
			firstNonEmpty(ban.Name, "una prohibición decretada"), dmy(until.AddDate(0, 0, -1))), nil
	}

	extra := make([]time.Time, 0, len(r.Holidays))
	for _, h := range r.Holidays {
		d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(h), calendar.Madrid)
		if err != nil {
			return refuse(activities.RefusedNoCalendar, nil, "festivo %q mal escrito en las reglas del caso (AAAA-MM-DD)", h), nil
		}
		extra = append(extra, d)
	}
	calendarOf := s.calendarOf
	if calendarOf == nil {
		calendarOf = calendar.ForProvince
	}
	cal, through := calendarOf(k.province, calendar.Extra{All: extra})
	if through > 0 && day.Year() > through {
		return refuse(activities.RefusedNoCalendar, nil, "no hay festivos de %s para %d (los datos llegan a %d)",
			firstNonEmpty(k.province, "la provincia"), day.Year(), through), nil
	}
	if !cal.IsAllowedCutDay(day) {
		next := cal.NextCutDay(day)
		return refuse(activities.RefusedNotCutDay, &next, "el %s no es día de corte (festivo, víspera o fin de semana en %s); el siguiente es el %s",
			dmy(day), firstNonEmpty(k.province, "la provincia"), dmy(next)), nil
	}
	return nil, nil
}

// banOn finds a decreed ban that covers the consumer on day, and the day it
// ends (the day after its last one). Of several, the one that ends last
// rules. A ban that names no class covers every supply: a ban read wrong must
// stop a cut, not let it through.
func banOn(bans []activities.CutBan, k supplyContract, day time.Time) (activities.CutBan, time.Time, bool) {
	classes := map[string]bool{
		activities.ClassBonoSocial: k.bonoSocial,
		activities.ClassProtected:  k.protected,
		activities.ClassDomestic:   k.segment == activities.SegmentDomestic,
	}
	var found activities.CutBan
	var until time.Time
	for _, b := range bans {
		from, to := madridDay(b.From), madridDay(b.To)
		if day.Before(from) || day.After(to) {
			continue
		}
		covers := len(b.Classes) == 0
		for _, cl := range b.Classes {
			covers = covers || classes[cl]
		}
		if end := to.AddDate(0, 0, 1); covers && end.After(until) {
			found, until = b, end
		}
	}
	return found, until, !until.IsZero()
}

// dmy is a day as the clerks write it.
func dmy(t time.Time) string { return t.In(calendar.Madrid).Format("02/01/2006") }

// recordRefusal puts a refused request on the audit trail, once per run,
// reason and day, in a transaction of its own: the request's was rolled back.
func (s *Store) recordRefusal(ctx context.Context, c activities.CaseRef, what, actor string, at, day time.Time, r *activities.CutRefusal) error {
	detail := map[string]any{"reason": r.Reason, "detail": r.Detail, "day": day.Format(time.DateOnly), "cups": c.Cups}
	if r.Until != nil {
		detail["until"] = r.Until.In(calendar.Madrid).Format(time.DateOnly)
	}
	key := auditKey(c.WorkflowID, c.RunID, what, r.Reason, day.Format(time.DateOnly))
	return s.inTx(ctx, fmt.Sprintf("record %s of invoice %s", what, c.Invoice), func(tx pgx.Tx) error {
		return audit(ctx, tx, c, firstNonEmpty(actor, actorSystem), what, at, detail, key)
	})
}
