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
	SignalProofRecorded  = "proof-recorded"
	// SignalDistributor carries an answer of the distributor (activities.DistributorAnswer).
	SignalDistributor = "distributor"
	QueryState        = "state"
)

// The clerks' actions are also updates of the same names, so the command line
// gets the case's answer; the signals stay for the Web UI and the histories
// recorded with them.
const (
	UpdatePaid           = SignalPaid
	UpdateApproveCut     = SignalApproveCut
	UpdateHold           = SignalHold
	UpdateRelease        = SignalRelease
	UpdateContactUpdated = SignalContactUpdated
	// UpdateBankReturn tells an open case why the bank returned its invoice
	// (BankReturn): the reason sets its path.
	UpdateBankReturn = "bank-return"
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
	// AttrNeedsAttention is set while a person must look at the case (State.Attention says why).
	AttrNeedsAttention = temporal.NewSearchAttributeKeyBool("NeedsAttention")
	// AttrReconnectDueAt is when the distributor must have accepted the
	// reconnection, while it has not (real time, like NextActionAt). The
	// three Datetime slots carry CutDate, NextActionAt and this.
	AttrReconnectDueAt = temporal.NewSearchAttributeKeyTime("ReconnectDueAt")
	// AttrReturnReason is the SEPA reason code of the bank's return (AM04,
	// MD06...), on the cases a bank's return file started or reached.
	AttrReturnReason = temporal.NewSearchAttributeKeyKeyword("ReturnReason")
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
	{"NeedsAttention", "Bool"},
	{"ReconnectDueAt", "Datetime"},
	{"ReturnReason", "Keyword"},
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

// PaymentKeyOf identifies a payment in the ledger by what makes it one: a
// transfer may pay several invoices under one reference, so the reference,
// invoice, day and amount together are one payment however often it is
// reported, and the same reference and invoice with another day or amount is a
// further partial payment. Without a reference it is PaymentKey's. The ledger
// takes a payment stored under PaymentKey's older "ref:R" key for the same
// invoice and amount as this one.
func PaymentKeyOf(invoice, reference string, paidAt time.Time, cents int64) string {
	r := strings.TrimSpace(reference)
	if r == "" {
		return PaymentKey(invoice, "", paidAt, cents)
	}
	return fmt.Sprintf("ref:%s|%s|%s|%d", r, invoice, paidAt.In(calendar.Madrid).Format(time.DateOnly), cents)
}
