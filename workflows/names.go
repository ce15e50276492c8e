// Package workflows holds the per-invoice collections workflow: deterministic
// code only, its policy, its state and the names a caller needs.
package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/internal/calendar"
)

// TaskQueue is where workers pick up cases.
const TaskQueue = "impagos"

// WorkflowType is the registered name of the per-invoice workflow.
const WorkflowType = "ReturnedInvoice"

// Signals and queries a caller may send.
const (
	SignalPaid           = "paid"
	SignalApproveCut     = "approve-cut"
	SignalHold           = "hold"
	SignalRelease        = "release"
	SignalContactUpdated = "contact-updated"
	QueryState           = "state"
)

// WorkflowID is the id of the case of an invoice: one case per returned invoice.
func WorkflowID(invoice string) string { return "impago-" + invoice }

// Search attributes the supervisor filters by in the Temporal UI. They must be
// registered on the namespace (make up does it).
var (
	AttrStage         = temporal.NewSearchAttributeKeyKeyword("Stage")
	AttrSegment       = temporal.NewSearchAttributeKeyKeyword("Segment")
	AttrInvoiceNumber = temporal.NewSearchAttributeKeyKeyword("InvoiceNumber")
	AttrCups          = temporal.NewSearchAttributeKeyKeyword("Cups")
	AttrCustomer      = temporal.NewSearchAttributeKeyKeyword("Customer")
	AttrAmountDue     = temporal.NewSearchAttributeKeyFloat64("AmountDue")
	AttrCutDate       = temporal.NewSearchAttributeKeyTime("CutDate")
	AttrNextActionAt  = temporal.NewSearchAttributeKeyTime("NextActionAt")
)

// SearchAttributeTypes lists every custom search attribute with its type name,
// as `temporal operator search-attribute create` expects.
var SearchAttributeTypes = []struct{ Name, Type string }{
	{"Stage", "Keyword"},
	{"Segment", "Keyword"},
	{"InvoiceNumber", "Keyword"},
	{"Cups", "Keyword"},
	{"Customer", "Keyword"},
	{"AmountDue", "Double"},
	{"CutDate", "Datetime"},
	{"NextActionAt", "Datetime"},
}

// InvoiceOf is the invoice number of a case's workflow id.
func InvoiceOf(workflowID string) string { return strings.TrimPrefix(workflowID, "impago-") }

// PaymentKey identifies a payment in the ledger: its reference when it has one,
// else the invoice, day and amount. The payments import and the paid signal
// use the same key, so one payment reported both ways counts once.
func PaymentKey(invoice, reference string, paidAt time.Time, cents int64) string {
	if r := strings.TrimSpace(reference); r != "" {
		return "ref:" + r
	}
	return fmt.Sprintf("%s/%s/%d", invoice, paidAt.In(calendar.Madrid).Format(time.DateOnly), cents)
}
