package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/xuri/excelize/v2"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/engine"
	"github.com/elega/impagos/internal/money"
	"github.com/elega/impagos/internal/report"
	"github.com/elega/impagos/internal/store"
	"github.com/elega/impagos/workflows"
)

func withStore(ctx context.Context, f func(*store.Store) error) error {
	db, err := store.Open(ctx, engine.FromEnv().DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	return f(db)
}

func cmdOutbox(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	channel := fs.String("channel", "", "email, whatsapp, sms, certified or letter")
	status := fs.String("status", "", "pending, sending, sent, failed or not_sent")
	invoice := fs.String("invoice", "", "only this invoice")
	limit := fs.Int("limit", 200, "at most this many rows (0: all)")
	body := fs.Bool("body", false, "print each message's text")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	switch *channel {
	case "", activities.ChannelEmail, activities.ChannelWhatsApp, activities.ChannelSMS, activities.ChannelCertified, activities.ChannelLetter:
	default:
		return fmt.Errorf("--channel %q: want email, whatsapp, sms, certified or letter", *channel)
	}
	return withStore(ctx, func(db *store.Store) error {
		rows, err := db.Outbox(ctx, store.OutboxFilter{Invoice: *invoice, Channel: *channel, Status: *status, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDATE\tINVOICE\tKIND\tCHANNEL\tTO\tSTATUS\tDETAIL")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, when(&r.NoticeAt, "02/01/2006"), r.Invoice, r.Kind,
				r.Channel, r.Recipient, r.Status, firstLine(r.StatusDetail, claimDetail(r), r.MessageID))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if *body {
			for _, r := range rows {
				fmt.Fprintf(out, "\n--- #%d %s %s to %s\n", r.ID, r.Kind, r.Channel, r.Recipient)
				if r.Subject != "" {
					fmt.Fprintf(out, "Asunto: %s\n", r.Subject)
				}
				fmt.Fprintln(out, r.Body)
			}
		}
		fmt.Fprintf(out, "%d message(s)\n", len(rows))
		return nil
	})
}

// claimDetail says since when an e-mail is 'sending': being sent, or awaiting
// SendGrid's event after an attempt that was cut short.
func claimDetail(r store.OutboxRow) string {
	if r.Status != activities.StatusSending || r.ClaimedAt == nil {
		return ""
	}
	return fmt.Sprintf("claimed %s (claim %d): being sent, or awaiting SendGrid's event", when(r.ClaimedAt, "02/01/2006 15:04:05"), r.Attempts)
}

func firstLine(s ...string) string {
	for _, v := range s {
		if v != "" {
			line, _, _ := strings.Cut(v, "\n")
			return line
		}
	}
	return ""
}

func cmdLetter(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("letter", flag.ContinueOnError)
	path := fs.String("out", "", "where to write the PDF (default carta-corte-INVOICE.pdf)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	invoice, err := one(pos, "invoice")
	if err != nil {
		return err
	}
	return withStore(ctx, func(db *store.Store) error {
		rows, err := db.Outbox(ctx, store.OutboxFilter{Invoice: invoice, Kind: activities.KindCutLetter, Channel: activities.ChannelLetter})
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("invoice %s has no cut letter (only business cases get one)", invoice)
		}
		atts, err := db.Attachments(ctx, rows[len(rows)-1].ID)
		if err != nil {
			return err
		}
		if len(atts) == 0 {
			return errors.New("the cut letter has no PDF")
		}
		dst := *path
		if dst == "" {
			dst = atts[0].Filename
		}
		if err := os.WriteFile(dst, atts[0].Content, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "cut letter of %s written to %s (%d bytes)\n", invoice, dst, len(atts[0].Content))
		return nil
	})
}

func cmdCallList(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("calllist", flag.ContinueOnError)
	xlsx := fs.String("xlsx", "", "also write the list to this workbook")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	return withStore(ctx, func(db *store.Store) error {
		list, err := db.CallList(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CUSTOMER\tPHONE\tINVOICES\tREASONS\tTOTAL OWED\tTASK")
		for _, e := range list {
			phone := e.Phone
			if phone == "" {
				phone = "sin teléfono"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Customer, phone, strings.Join(e.Invoices, ", "), callReasons(e),
				money.Format(e.TotalCents), callTask(e))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d customer(s) with more than one open returned invoice, or one whose account or mandate failed\n", len(list))
		if *xlsx == "" {
			return nil
		}
		if err := writeCallList(*xlsx, list); err != nil {
			return err
		}
		fmt.Fprintf(out, "written to %s\n", *xlsx)
		return nil
	})
}

// callReasons names, once each, the bank's reasons of the customer's open
// invoices, as the clerks' table does.
func callReasons(e store.CallEntry) string {
	var out []string
	seen := map[string]bool{}
	for i := range e.Invoices {
		var reason, path string
		if i < len(e.Reasons) && i < len(e.Paths) {
			reason, path = e.Reasons[i], e.Paths[i]
		}
		if l := report.ReasonLabel(reason, path); !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}

// callTask is what the call must ask for besides the payment.
func callTask(e store.CallEntry) string {
	if e.NewMandate {
		return workflows.TaskNewMandate
	}
	return ""
}

func writeCallList(path string, list []store.CallEntry) error {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "LLAMADAS"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	euro, err := f.NewStyle(&excelize.Style{CustomNumFmt: strPtr(`#,##0.00 "€"`)})
	if err != nil {
		return err
	}
	header := []any{"Cliente", "NIF/CIF", "Teléfono", "Email", "Facturas", "Nº facturas", "Total pendiente", "Motivos", "Tarea"}
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		return err
	}
	for i, e := range list {
		row := []any{e.Customer, e.TaxID, e.Phone, e.Email, strings.Join(e.Invoices, ", "), len(e.Invoices),
			float64(e.TotalCents) / 100, callReasons(e), callTask(e)}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			return err
		}
		total, _ := excelize.CoordinatesToCellName(7, i+2)
		if err := f.SetCellStyle(sheet, total, total, euro); err != nil {
			return err
		}
	}
	// Strings go in as text cells: a name such as "=SUM(A1)" is never a formula.
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	return f.SaveAs(path)
}

func strPtr(s string) *string { return &s }
