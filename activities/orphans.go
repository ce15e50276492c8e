package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/elega/impagos/internal/calendar"
)

// OpenInvoice is an invoice the ledger holds open, with the run of its case
// that opened it.
type OpenInvoice struct {
	Invoice    string    `json:"invoice"`
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Stage      string    `json:"stage"`
	OpenedAt   time.Time `json:"opened_at"`
}

// Orphan is an invoice open in the ledger whose case no longer runs: it was
// terminated (which runs no code of the case), timed out, failed, or ended
// without closing it. Nobody collects it any more, nor would settle a payment.
type Orphan struct {
	OpenInvoice
	// Status is the run's in Temporal: terminated, timed_out, failed,
	// completed, canceled, continued_as_new, or not_found (past the
	// namespace's retention, or never started).
	Status   string     `json:"status"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

// Cases tells which of the ledger's open invoices have no running case;
// internal/cases answers it with a Temporal client.
type Cases interface {
	Orphans(ctx context.Context, open []OpenInvoice) ([]Orphan, error)
}

// orphans runs the daily check for the digest. The digest goes out whatever
// the check says: the cuts list is the desk's work of the day, and tomorrow's
// check finds again what today's could not, so a failure is only told, in the
// e-mail and the log.
func (a *Activities) orphans(ctx context.Context) (orphans []Orphan, failed error) {
	if a.Cases == nil {
		return nil, nil
	}
	open, err := a.Store.ListOpenInvoices(ctx)
	if err == nil {
		orphans, err = a.Cases.Orphans(ctx, open)
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("check of the cases closed in Temporal and open in the ledger failed", "error", err)
		return nil, err
	}
	return orphans, nil
}

// OrphansText is the digest's block of the invoices open in the ledger whose
// case is closed in Temporal; empty when there are none and the check ran.
func OrphansText(orphans []Orphan, failed error) string {
	var b strings.Builder
	switch {
	case failed != nil:
		fmt.Fprintf(&b, "\nNo se pudo comprobar hoy qué facturas abiertas no tienen caso en marcha: %v\n", failed)
	case len(orphans) > 0:
		fmt.Fprintf(&b, "\nFacturas abiertas en el libro cuyo caso ya no está en marcha en Temporal (%d): nadie las gestiona.\n", len(orphans))
		b.WriteString("Reabrir el caso (starter start --reopen) o cerrarlas a mano; starter orphans las lista.\n")
		for _, o := range orphans {
			closed := ""
			if o.ClosedAt != nil {
				closed = " el " + o.ClosedAt.In(calendar.Madrid).Format("02/01/2006 15:04")
			}
			fmt.Fprintf(&b, "  factura %s · etapa %s · abierta el %s · caso %s%s\n",
				o.Invoice, o.Stage, o.OpenedAt.In(calendar.Madrid).Format("02/01/2006"), o.Status, closed)
		}
	}
	return b.String()
}
