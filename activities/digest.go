package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/money"
)

// SendCutsDigest e-mails the cuts desk the cuts scheduled from the day on,
// grouped by cut date (PROCESS "Every day"), and the invoices open in the
// ledger whose case is closed in Temporal (a terminated case runs no code, so
// nothing else would tell). It is stored in the outbox once per day, whatever
// the retries, and delivered like every e-mail.
func (a *Activities) SendCutsDigest(ctx context.Context, in DigestInput) (DigestResult, error) {
	cuts, err := a.Store.ScheduledCuts(ctx, in.Day)
	if err != nil {
		return DigestResult{}, err
	}
	orphans, failed := a.orphans(ctx)
	alerts, err := a.Store.DistributorAlerts(ctx)
	if err != nil {
		return DigestResult{}, err
	}
	day := in.Day.In(calendar.Madrid).Format(time.DateOnly)
	subject, body := DigestText(in.Day, cuts)
	body += OrphansText(orphans, failed)
	body += DistributorAlertsText(alerts)
	if len(orphans) > 0 {
		subject += fmt.Sprintf(" · %d factura(s) abierta(s) sin caso en marcha", len(orphans))
	}
	if len(alerts) > 0 {
		subject += fmt.Sprintf(" · %d aviso(s) de la distribuidora", len(alerts))
	}
	to := a.CutsDeskEmail
	if to == "" {
		to = "cortes@elega.example"
	}
	ref := CaseRef{WorkflowID: "digest-" + day, Invoice: "digest-" + day}
	msgs, err := a.Store.PutOutbox(ctx, ref, []OutboxMessage{{
		Key: "digest/" + day, Kind: "digest_cortes", Channel: ChannelEmail, Recipient: to,
		Subject: subject, Body: body, At: in.Day,
	}})
	if err != nil {
		return DigestResult{}, err
	}
	res := DigestResult{Cuts: len(cuts), Orphans: len(orphans), OutboxID: msgs[0].OutboxID}
	dr, err := a.DeliverNotice(ctx, DeliverInput{Case: ref, OutboxIDs: []int64{res.OutboxID}})
	if len(dr.Delivered) > 0 {
		res.Status = dr.Delivered[0].Status
	}
	return res, err
}

// DigestText renders the cuts desk's e-mail: one block per cut date with
// customer, CUPS, invoice, amount and phone.
func DigestText(day time.Time, cuts []ScheduledCut) (subject, body string) {
	d := day.In(calendar.Madrid).Format("02/01/2006")
	subject = fmt.Sprintf("Cortes programados a %s: %d", d, len(cuts))
	var b strings.Builder
	fmt.Fprintf(&b, "Cortes de suministro programados a partir del %s, para volver a avisar a cada cliente.\n", d)
	if len(cuts) == 0 {
		b.WriteString("\nNo hay cortes programados.\n")
		return subject, b.String()
	}
	var current string
	var total int64
	for _, c := range cuts {
		if day := c.CutDate.In(calendar.Madrid).Format("02/01/2006"); day != current {
			current = day
			fmt.Fprintf(&b, "\nCorte el %s:\n", day)
		}
		phone := c.Phone
		if phone == "" {
			phone = "sin teléfono"
		}
		fmt.Fprintf(&b, "  %s · %s · CUPS %s · factura %s · %s · %s\n",
			c.Customer, phone, c.Cups, c.Invoice, money.Format(c.AmountCents), c.Stage)
		total += c.AmountCents
	}
	fmt.Fprintf(&b, "\nTotal: %d cortes, %s pendientes.\n", len(cuts), money.Format(total))
	return subject, b.String()
}
