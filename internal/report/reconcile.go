package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/store"
)

// Outcomes of the check of the total.
const (
	CheckFirst      = store.RunFirst      // no previous total: nothing to check against
	CheckBalanced   = store.RunBalanced   // previous + new returns - payments = total
	CheckUnbalanced = store.RunUnbalanced // it does not add up
	CheckAccepted   = store.RunAccepted   // it did not add up and a person accepted the total
	CheckSkipped    = "not_checked"       // the report is for a moment before the last checked one
)

// maxExplanations bounds the invoices listed as explaining a difference.
const maxExplanations = 50

// Explanation is an invoice (or the stored previous total, with no invoice)
// and how much of the difference it accounts for.
type Explanation struct {
	Invoice string `json:"invoice,omitempty"`
	Cents   int64  `json:"cents"`
	Reason  string `json:"reason"`
}

// Reconciliation is the clerks' check of the Total General: the previous
// total, plus the invoices returned since, minus the payments recorded since
// against them, must give the new total.
type Reconciliation struct {
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`

	PreviousRunID int64     `json:"previous_run_id,omitempty"`
	PreviousAt    time.Time `json:"previous_at,omitzero"` // the instant the previous total describes
	PreviousCents int64     `json:"previous_cents"`

	NewReturns      int   `json:"new_returns"`
	NewReturnsCents int64 `json:"new_returns_cents"`
	Payments        int   `json:"payments"`
	PaymentsCents   int64 `json:"payments_cents"`
	// OverpaidCents is what payments brought beyond what their invoices owed:
	// shown, never subtracted.
	OverpaidCents int64         `json:"overpaid_cents"`
	Overpaid      []Explanation `json:"overpaid,omitempty"`
	// Stray are the payments recorded since that no invoice of the table takes.
	Stray store.StrayPayments `json:"stray_payments"`

	ExpectedCents   int64 `json:"expected_cents"`
	TotalCents      int64 `json:"total_cents"`
	DifferenceCents int64 `json:"difference_cents"` // total - expected

	Explanations     []Explanation `json:"explanations,omitempty"`
	MoreExplanations int           `json:"more_explanations,omitempty"` // not listed
}

// Balanced reports whether the report may stand as the next previous total.
func (r *Reconciliation) Balanced() bool { return r.Status != CheckUnbalanced }

// checker checks the total against the previous run invoice by invoice, as
// the rows stream, so that a difference comes with the invoices that explain
// it.
type checker struct {
	prev      *store.ReportRun
	active    bool // there is a previous run to check against
	rec       Reconciliation
	explained int64
}

func newChecker(prev *store.ReportRun, cutoff time.Time) *checker {
	c := &checker{prev: prev}
	switch {
	case prev == nil:
		c.rec.Status = CheckFirst
		c.rec.Note = "primer informe: no hay total anterior con que comprobar"
	case !cutoff.After(prev.CutoffAt):
		c.rec.Status = CheckSkipped
		c.rec.PreviousRunID, c.rec.PreviousAt, c.rec.PreviousCents = prev.ID, prev.CutoffAt, prev.TotalCents
		c.rec.Note = fmt.Sprintf("sin comprobar: el último informe comprobado (nº %d) es de %s, posterior a esta fecha",
			prev.ID, prev.CutoffAt.In(madrid).Format("02/01/2006 15:04"))
	default:
		c.active = true
		c.rec.PreviousRunID, c.rec.PreviousAt, c.rec.PreviousCents = prev.ID, prev.CutoffAt, prev.TotalCents
	}
	return c
}

// add counts what moved for one invoice: what it owed in the previous run,
// plus its amount if it was returned since, minus what was paid since (never
// more than it owed), must be what it owes now.
func (c *checker) add(m store.ReportMovement) {
	if !c.active {
		return
	}
	rec := &c.rec
	var opened int64
	if m.Opened {
		opened = m.AmountCents
		rec.NewReturns++
		rec.NewReturnsCents += opened
	}
	owed := m.PreviousCents + opened
	applied := min(m.PaidCents, owed)
	rec.Payments += m.Payments
	rec.PaymentsCents += applied
	if over := m.PaidCents - applied; over > 0 {
		rec.OverpaidCents += over
		if len(rec.Overpaid) < maxExplanations {
			rec.Overpaid = append(rec.Overpaid, Explanation{Invoice: m.Invoice, Cents: over,
				Reason: fmt.Sprintf("pagos de %s para una deuda de %s", money.Format(m.PaidCents), money.Format(owed))})
		}
	}
	if diff := m.PendingCents - (owed - applied); diff != 0 {
		c.explained += diff
		rec.explain(Explanation{Invoice: m.Invoice, Cents: diff, Reason: reason(m, opened, applied, diff)})
	}
}

// finish compares the total with the previous one and what moved.
func (c *checker) finish(total int64, stray store.StrayPayments) Reconciliation {
	rec := c.rec
	rec.TotalCents = total
	if !c.active {
		rec.ExpectedCents = total
		return rec
	}
	rec.Stray = stray
	rec.ExpectedCents = rec.PreviousCents + rec.NewReturnsCents - rec.PaymentsCents
	rec.DifferenceCents = rec.TotalCents - rec.ExpectedCents
	explained := c.explained
	if d := c.prev.LinesCents - c.prev.TotalCents; d != 0 {
		explained += d
		rec.explain(Explanation{Cents: d, Reason: fmt.Sprintf(
			"el total anterior guardado (%s) no es la suma de lo que debían sus facturas (%s): se cambió después de guardarlo",
			money.Format(c.prev.TotalCents), money.Format(c.prev.LinesCents))})
	}
	if rest := rec.DifferenceCents - explained; rest != 0 {
		// Cannot happen while the lines and the table are read in one
		// snapshot; said rather than hidden if it ever does.
		rec.explain(Explanation{Cents: rest, Reason: "diferencia que ninguna factura explica"})
	}
	sort.SliceStable(rec.Explanations, func(i, j int) bool {
		return abs(rec.Explanations[i].Cents) > abs(rec.Explanations[j].Cents)
	})
	// Differences that cancel out still fail: each is an amount due that
	// moved without a return or a payment to account for it.
	switch {
	case rec.DifferenceCents != 0:
		rec.Status = CheckUnbalanced
		rec.Note = "no cuadra: diferencia de " + money.Format(rec.DifferenceCents)
	case len(rec.Explanations) > 0:
		rec.Status = CheckUnbalanced
		rec.Note = "el total cuadra, pero no factura a factura: hay diferencias que se compensan"
	default:
		rec.Status = CheckBalanced
		rec.Note = "cuadra"
	}
	return rec
}

// explain lists an explanation, keeping the largest ones when there are many.
func (r *Reconciliation) explain(e Explanation) {
	if len(r.Explanations) < maxExplanations {
		r.Explanations = append(r.Explanations, e)
		return
	}
	r.MoreExplanations++
	smallest := 0
	for i, x := range r.Explanations {
		if abs(x.Cents) < abs(r.Explanations[smallest].Cents) {
			smallest = i
		}
	}
	if abs(e.Cents) > abs(r.Explanations[smallest].Cents) {
		r.Explanations[smallest] = e
	}
}

// reason says in the clerks' words why an invoice owes diff more (or less)
// than the previous total and the movements since say it should.
func reason(m store.ReportMovement, opened, applied, diff int64) string {
	was := fmt.Sprintf("debía %s", money.Format(m.PreviousCents))
	if m.Opened {
		was += fmt.Sprintf(", devuelta de nuevo por %s", money.Format(opened))
	}
	if m.Payments > 0 {
		was += fmt.Sprintf(", pagos registrados %s", money.Format(applied))
	}
	switch {
	case !m.InTable:
		return fmt.Sprintf("ya no está en la tabla (%s)", was)
	case m.Opened && m.PreviousCents > 0:
		return fmt.Sprintf("devuelta de nuevo: lo que debía el caso anterior ya no cuenta (%s, ahora debe %s)",
			was, money.Format(m.PendingCents))
	case diff < 0 && applied > 0:
		return fmt.Sprintf("lo pendiente bajó %s más de lo que explican los pagos registrados (%s, ahora debe %s)",
			money.Format(-diff), was, money.Format(m.PendingCents))
	case diff < 0:
		return fmt.Sprintf("lo pendiente bajó %s sin pago registrado que lo explique (%s, ahora debe %s)",
			money.Format(-diff), was, money.Format(m.PendingCents))
	case applied > 0:
		return fmt.Sprintf("hay pagos registrados por %s que lo pendiente no refleja (%s, ahora debe %s)",
			money.Format(diff), was, money.Format(m.PendingCents))
	default:
		return fmt.Sprintf("lo pendiente subió %s sin devolución nueva (%s, ahora debe %s)",
			money.Format(diff), was, money.Format(m.PendingCents))
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
