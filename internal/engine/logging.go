package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/elega/impagos/workflows"
)

// EnvLogFormat names the worker's log format: json (the default, one object
// per line for a log pipeline) or text (for people reading a terminal).
const EnvLogFormat = "IMPAGOS_LOG_FORMAT"

// LoggerFromEnv is the worker's logger on w, in the format IMPAGOS_LOG_FORMAT
// names (see NewLogger).
func LoggerFromEnv(w io.Writer) (*slog.Logger, error) {
	format := strings.TrimSpace(os.Getenv(EnvLogFormat))
	l, err := NewLogger(w, format)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", EnvLogFormat, format, err)
	}
	return l, nil
}

// NewLogger writes JSON lines (format "json" or "") or text lines ("text")
// on w. Every line about a case names its invoice: the SDK's lines carry the
// workflow id (WorkflowID), run id and activity type of the task they are
// about, and the logger adds the invoice that the case's workflow id holds.
// Dial hands slog's default logger to the SDK: set this one as the default
// first.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(w, nil)
	case "text":
		h = slog.NewTextHandler(w, nil)
	default:
		return nil, fmt.Errorf("unknown log format %q: want json or text", format)
	}
	return slog.New(caseHandler{Handler: h}), nil
}

// The attributes caseHandler reads and adds.
const (
	logKeyWorkflowID = "WorkflowID" // as the SDK names it
	logKeyInvoice    = "invoice"    // as the workflow's logger names it
)

// caseHandler adds the invoice to the lines that carry a case's workflow id
// and no invoice yet, and keeps a line from naming the invoice twice (the
// workflow's logger adds it too).
type caseHandler struct {
	slog.Handler
	// invoice says the handler's attributes already name the invoice.
	invoice bool
}

func (h caseHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	attrs, invoice := withInvoice(attrs, h.invoice)
	return caseHandler{Handler: h.Handler.WithAttrs(attrs), invoice: invoice}
}

// WithGroup puts what follows in a group, where an invoice would not be
// found by its key: nothing is added there.
func (h caseHandler) WithGroup(name string) slog.Handler {
	return caseHandler{Handler: h.Handler.WithGroup(name), invoice: true}
}

func (h caseHandler) Handle(ctx context.Context, r slog.Record) error {
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	// Only a line that gained or lost an attribute is written anew.
	if kept, _ := withInvoice(attrs, h.invoice); len(kept) != len(attrs) {
		out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		out.AddAttrs(kept...)
		r = out
	}
	return h.Handler.Handle(ctx, r)
}

// withInvoice is attrs with the invoice a case's workflow id names, unless
// it is there or known already (invoice), and without a second invoice. It
// reports whether the invoice is known after them.
func withInvoice(attrs []slog.Attr, invoice bool) ([]slog.Attr, bool) {
	var out []slog.Attr
	var fromID string
	for _, a := range attrs {
		switch a.Key {
		case logKeyInvoice:
			if invoice {
				continue
			}
			invoice = true
		case logKeyWorkflowID:
			if id := a.Value.String(); strings.HasPrefix(id, workflows.WorkflowID("")) {
				fromID = workflows.InvoiceOf(id)
			}
		}
		out = append(out, a)
	}
	if !invoice && fromID != "" {
		out = append(out, slog.String(logKeyInvoice, fromID))
		invoice = true
	}
	return out, invoice
}
