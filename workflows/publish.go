package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// published remembers what the UI last got, so unchanged values are not sent
// again: every upsert is an event in the history.
type published struct {
	started, dueSet         bool
	stage, segment, details string
	customer                string
	attention               bool
	due                     float64
	cutDate, nextAt         time.Time
	reconnectDue            time.Time
	reason                  string
}

// publish keeps the supervisor's view current: typed search attributes for the
// list filters and the current details for the workflow page. A case started
// with localLedger sends its attributes once per workflow task, as the task
// ends (publisher); the others at each change.
func (c *invoiceCase) publish(ctx workflow.Context) {
	if c.local {
		c.dirty = true
		c.setDetails(ctx)
		return
	}
	c.upsert(ctx)
}

// publisher sends what changed once the case waits on something other than a
// local activity: for a timer, a signal, an ordinary activity or the end of
// the case, all of which end the workflow task. Every change made in the task
// leaves in one upsert, one billable action, however many attributes it sets.
func (c *invoiceCase) publisher(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return c.dirty && c.inLocal == 0 }); err != nil {
			return
		}
		// A signal applied by the listener wakes the main path too: let
		// every goroutine of the case run once more, so what they change in
		// this task (or a local activity they start) goes with this upsert.
		settled := false
		workflow.Go(ctx, func(workflow.Context) { settled = true })
		if err := workflow.Await(ctx, func() bool { return settled }); err != nil {
			return
		}
		if c.inLocal == 0 {
			c.flush(ctx)
		}
	}
}

// flush sends what publish left to the publisher: the case calls it before it
// ends, since a workflow that returns runs no other goroutine.
func (c *invoiceCase) flush(ctx workflow.Context) {
	if c.dirty {
		c.dirty = false
		c.upsert(ctx)
	}
}

func (c *invoiceCase) upsert(ctx workflow.Context) {
	p := &c.published
	var ups []temporal.SearchAttributeUpdate
	if !p.started {
		ups = append(ups, AttrInvoiceNumber.ValueSet(c.in.Invoice), AttrCups.ValueSet(c.in.Cups))
		p.started = true
	}
	if s := string(c.st.Stage); s != p.stage {
		ups = append(ups, AttrStage.ValueSet(s))
		p.stage = s
	}
	if c.st.Segment != p.segment {
		ups = append(ups, AttrSegment.ValueSet(c.st.Segment))
		p.segment = c.st.Segment
	}
	if c.st.Customer != p.customer {
		ups = append(ups, AttrCustomer.ValueSet(c.st.Customer))
		p.customer = c.st.Customer
	}
	if due := float64(c.st.AmountDueCents) / 100; !p.dueSet || due != p.due {
		ups = append(ups, AttrAmountDue.ValueSet(due))
		p.due, p.dueSet = due, true
	}
	var cut time.Time
	if c.st.CutDate != nil {
		cut = *c.st.CutDate
	}
	if !cut.Equal(p.cutDate) {
		if cut.IsZero() {
			ups = append(ups, AttrCutDate.ValueUnset())
		} else {
			ups = append(ups, AttrCutDate.ValueSet(cut))
		}
		p.cutDate = cut
	}
	next := c.nextRealAt
	if c.st.NextActionAt == nil || c.st.Stage.Closed() {
		next = time.Time{}
	}
	if !next.Equal(p.nextAt) {
		if next.IsZero() {
			ups = append(ups, AttrNextActionAt.ValueUnset())
		} else {
			ups = append(ups, AttrNextActionAt.ValueSet(next))
		}
		p.nextAt = next
	}
	due := c.reconnectDueReal
	if c.st.ReconnectDueAt == nil || c.st.Stage.Closed() {
		due = time.Time{}
	}
	if !due.Equal(p.reconnectDue) {
		if due.IsZero() {
			ups = append(ups, AttrReconnectDueAt.ValueUnset())
		} else {
			ups = append(ups, AttrReconnectDueAt.ValueSet(due))
		}
		p.reconnectDue = due
	}
	if c.st.Return != nil && c.st.Return.Reason != p.reason {
		ups = append(ups, AttrReturnReason.ValueSet(c.st.Return.Reason))
		p.reason = c.st.Return.Reason
	}
	// Only cases that ever needed attention carry the attribute.
	if attention := c.st.Attention != "" && !c.st.Stage.Closed(); attention != p.attention {
		ups = append(ups, AttrNeedsAttention.ValueSet(attention))
		p.attention = attention
	}
	if len(ups) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, ups...); err != nil {
			c.logger.Warn("search attributes not updated", "error", err)
		}
	}
	c.setDetails(ctx)
}

func (c *invoiceCase) setDetails(ctx workflow.Context) {
	if d := c.details(); d != c.published.details {
		workflow.SetCurrentDetails(ctx, d)
		c.published.details = d
	}
}

// details reads like a row of the clerk's sheet, in Temporal's markdown.
func (c *invoiceCase) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Factura** %s · **Cliente** %s · **CUPS** %s\n\n", c.in.Invoice, c.st.Customer, c.in.Cups)
	fmt.Fprintf(&b, "**Etapa:** %s · **Pendiente:** %s de %s", c.st.Stage, money.Format(c.st.AmountDueCents), money.Format(c.in.AmountCents))
	if c.st.Segment != "" {
		fmt.Fprintf(&b, " · **Segmento:** %s", c.st.Segment)
	}
	b.WriteString("\n\n")
	if c.st.NextAction != "" {
		fmt.Fprintf(&b, "**Próxima acción:** %s", c.st.NextAction)
		if c.st.NextActionAt != nil {
			fmt.Fprintf(&b, " el %s", c.st.NextActionAt.In(calendar.Madrid).Format("02/01/2006 15:04"))
		}
		b.WriteString("\n\n")
	}
	if c.st.CutDate != nil {
		fmt.Fprintf(&b, "**Fecha de corte:** %s", c.st.CutDate.In(calendar.Madrid).Format("02/01/2006"))
		if c.st.CutAt != nil {
			fmt.Fprintf(&b, " · **Cortado:** %s", c.st.CutAt.In(calendar.Madrid).Format("02/01/2006 15:04"))
		}
		b.WriteString("\n\n")
	}
	if c.st.Return != nil {
		fmt.Fprintf(&b, "**Devolución del banco:** %s · **Camino:** %s\n\n", c.st.Return.label(), c.st.Return.Path)
	}
	if c.st.Task != "" {
		fmt.Fprintf(&b, "**Tarea:** %s\n\n", c.st.Task)
	}
	if c.st.Hold != nil {
		fmt.Fprintf(&b, "**En espera:** %s (%s)\n\n", c.st.Hold.Reason, c.st.Hold.By)
	}
	if c.st.Attention != "" {
		fmt.Fprintf(&b, "**Requiere atención:** %s\n\n", c.st.Attention)
	}
	fmt.Fprintf(&b, "**Avisos enviados:** %d", len(c.st.Notices))
	return b.String()
}
