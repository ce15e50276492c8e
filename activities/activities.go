// Package activities is where a case touches the world: the database, the
// outbox of communications and the distributor. Each method is one Temporal
// activity; retries are safe because every write is keyed by the case and step.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/letter"
	"github.com/elega/impagos/internal/notice"
)

// Store is the persistence the activities need; internal/store implements it on Postgres.
type Store interface {
	OpenCase(ctx context.Context, in OpenCaseInput) (OpenCaseResult, error)
	Contract(ctx context.Context, c CaseRef) (Contract, error)
	// PutOutbox stores messages once: a message whose key exists is returned as stored.
	PutOutbox(ctx context.Context, c CaseRef, msgs []OutboxMessage) ([]Message, error)
	RecordStage(ctx context.Context, in StageInput) error
	// RecordPayment stores a payment once per key and reports whether it was new.
	RecordPayment(ctx context.Context, in PaymentInput) (bool, error)
	SupplyStatus(ctx context.Context, c CaseRef) (SupplyStatus, error)
	RequestCut(ctx context.Context, in CutInput) (CutResult, error)
	Settle(ctx context.Context, in SettleInput) (SettleResult, error)
	// RecordHold puts a hold on the invoice in the ledger or lifts it, under
	// the supply point's lock, so a cut request and a hold never cross.
	RecordHold(ctx context.Context, in HoldInput) (HoldResult, error)
	// NoticeProof says whether the case's formal notice is proven, and since when.
	NoticeProof(ctx context.Context, c CaseRef) (ProofStatus, error)
	// CancelInvoice closes the invoice as cancelled by a person, once.
	CancelInvoice(ctx context.Context, in CancelInput) error
	// RequestPowerLimit asks the distributor to limit the supply point's
	// power, once per run of the case; a refusal is a *CutRefusal.
	RequestPowerLimit(ctx context.Context, in LimitInput) (LimitResult, error)
	// Deliver claims a pending outbox row ('sending', committed), hands it to
	// send and records the outcome; a row no longer pending is returned as is,
	// with its Claim when it is 'sending'.
	Deliver(ctx context.Context, id int64, send func(OutboxItem) Delivery) (OutboxItem, error)
	// Confirm records the outcome of the claim number attempt of a row left
	// 'sending', as the provider's event proves it.
	Confirm(ctx context.Context, id int64, attempt int32, d Delivery) (OutboxItem, error)
	// Release puts a row left 'sending' by claim number attempt back to pending,
	// with detail, if the provider still reported nothing of it, the claim is
	// older than grace, the attempt that made it has given up, and the provider
	// has reported e-mails it got later. It says whether it did.
	Release(ctx context.Context, id int64, attempt int32, grace time.Duration, detail string) (bool, error)
	// ScheduledCuts lists, by date, the open cases scheduled to be cut on or
	// after the day, and every case awaiting the cuts desk's review.
	ScheduledCuts(ctx context.Context, from time.Time) ([]ScheduledCut, error)
	// ListOpenInvoices lists the invoices open in the ledger, oldest first.
	ListOpenInvoices(ctx context.Context) ([]OpenInvoice, error)
	// UnsentATR lists the ATR messages of a request (all when 0) the ledger
	// holds and has not handed to the distributor; MarkATRSent records one left.
	UnsentATR(ctx context.Context, requestID int64) ([]DistributorMessage, error)
	MarkATRSent(ctx context.Context, id int64) error
	// RequestState says where a request to the distributor stands.
	RequestState(ctx context.Context, id int64) (DistributorState, error)
	// RecordBreach records the distributor's breach of the rules, once per request.
	RecordBreach(ctx context.Context, in BreachInput) error
	// DistributorAlerts lists the breaches of the last week and the
	// reconnections not accepted by their due time.
	DistributorAlerts(ctx context.Context) ([]DistributorAlert, error)
}

// OutboxMessage is a rendered communication ready to be stored.
type OutboxMessage struct {
	Key         string // idempotency key: workflow id, run id and step
	Kind        string
	Channel     string
	Recipient   string
	Subject     string
	Body        string
	At          time.Time
	Attachments []Attachment
}

// Attachment is a file kept with a communication.
type Attachment struct {
	Filename    string
	ContentType string
	Content     []byte
}

// Activities carries the dependencies of every activity.
type Activities struct {
	Store Store
	// Retailer is printed in every communication (name, how to pay, contact).
	Retailer notice.Retailer
	// Mailer sends e-mail; nil or disabled keeps e-mails in the outbox.
	Mailer Mailer
	// Certifier carries formal demands and cut letters; nil means MailEvidence over Mailer.
	Certifier Certifier
	// CutsDeskEmail receives the daily digest of scheduled cuts.
	CutsDeskEmail string
	// Cases finds, for the digest, the open invoices whose case no longer
	// runs; nil leaves that check out.
	Cases Cases
	// ConfirmGrace is how long an e-mail whose sending attempt was cut short
	// waits for the provider's event before it is taken as never sent and sent
	// again; zero means DefaultConfirmGrace.
	ConfirmGrace time.Duration
	// Holidays are the days the retailer adds to the supplies' calendars
	// (IMPAGOS_HOLIDAYS_FILE), for every province or for one.
	Holidays calendar.Extra
	// Distributor carries the ATR messages to the distributor; nil keeps
	// them in the ledger, unsent, for a person to see (starter atr pending).
	Distributor Distributor
	// REECode is the retailer's own code at REE, the sender of every ATR message.
	REECode string
}

// ErrInvalidInput marks an activity input that no retry can fix.
const ErrInvalidInput = "InvalidInput"

// OpenCase registers the returned invoice and reports what the payments ledger
// already holds against it (PROCESS step 1).
func (a *Activities) OpenCase(ctx context.Context, in OpenCaseInput) (OpenCaseResult, error) {
	if in.Case.Invoice == "" || in.AmountCents <= 0 {
		return OpenCaseResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("invoice %q with amount %d cents cannot be opened", in.Case.Invoice, in.AmountCents), ErrInvalidInput, nil)
	}
	return a.Store.OpenCase(ctx, in)
}

// LookupContract returns the contract of the case's supply point (PROCESS step 2),
// with the regional, local and configured holidays of its province, so the
// workflow knows the supply's own calendar of allowed cut days without
// reading a file. A contract without a province, or with one no list knows,
// gets every region's holidays: the strictest calendar.
func (a *Activities) LookupContract(ctx context.Context, in LookupInput) (Contract, error) {
	k, err := a.Store.Contract(ctx, in.Case)
	if err != nil {
		return k, err
	}
	days, through := calendar.Regional(k.Province, a.Holidays)
	k.Holidays = make([]string, len(days))
	for i, d := range days {
		k.Holidays[i] = d.Format(time.DateOnly)
	}
	k.CalendarThrough = through
	return k, nil
}

// SendNotice renders a notice for every channel the customer can be reached by
// and stores it in the outbox. Delivery is the outbox's business, not the case's.
func (a *Activities) SendNotice(ctx context.Context, in NoticeInput) (NoticeResult, error) {
	rendered, err := notice.Render(notice.Data{
		Kind:        in.Kind,
		Segment:     in.Contract.Segment,
		Customer:    firstNonEmpty(in.Contract.Customer, in.Case.Customer),
		TaxID:       in.Contract.TaxID,
		Invoice:     in.Case.Invoice,
		Cups:        in.Case.Cups,
		AmountCents: in.Case.AmountDueCents,
		CutDate:     in.CutDate,
		SuspendFrom: in.SuspendFrom,
		Date:        in.At,
		Retailer:    a.Retailer,
		NewMandate:  in.NewMandate,
	}, notice.Contact{Phone: in.Contract.Phone, Email: in.Contract.Email})
	if err != nil {
		return NoticeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("render %s for invoice %s: %v", in.Kind, in.Case.Invoice, err), ErrInvalidInput, err)
	}
	var atts []Attachment
	if in.Kind == KindCutLetter {
		pdf, err := a.cutLetter(in)
		if err != nil {
			return NoticeResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("cut letter for invoice %s: %v", in.Case.Invoice, err), ErrInvalidInput, err)
		}
		atts = []Attachment{{Filename: LetterFilename(in.Case.Invoice), ContentType: "application/pdf", Content: pdf}}
	}
	msgs := make([]OutboxMessage, 0, len(rendered))
	for _, r := range rendered {
		msgs = append(msgs, OutboxMessage{
			Key:       fmt.Sprintf("%s/%s/%s/%s", in.Case.WorkflowID, in.Case.RunID, in.Step, r.Channel),
			Kind:      in.Kind,
			Channel:   r.Channel,
			Recipient: r.Recipient,
			Subject:   r.Subject,
			Body:      r.Body,
			At:        in.At,
			// The letter and the certified e-mail carry the same PDF.
			Attachments: atts,
		})
	}
	stored, err := a.Store.PutOutbox(ctx, in.Case, msgs)
	if err != nil {
		return NoticeResult{}, err
	}
	activity.GetLogger(ctx).Info("notice stored", "invoice", in.Case.Invoice, "kind", in.Kind, "messages", len(stored))
	res := NoticeResult{Messages: stored}
	if !in.Deliver {
		return res, nil
	}
	// One try at the provider, in the same activity: a failure here is the
	// notice's DeliverNotice to retry, never this activity's.
	ids := make([]int64, 0, len(stored))
	for _, m := range stored {
		ids = append(ids, m.OutboxID)
	}
	d, err := a.DeliverNotice(ctx, DeliverInput{Case: in.Case, OutboxIDs: ids})
	res.Delivered = d.Delivered
	if err != nil {
		// DeliverNotice takes them all again and skips what this try sent.
		res.Undelivered = ids
	}
	return res, nil
}

// RecordStage writes a stage change to the invoice row and the audit trail.
func (a *Activities) RecordStage(ctx context.Context, in StageInput) error {
	return a.Store.RecordStage(ctx, in)
}

// RecordPayment puts a payment in the ledger once, whatever the retries. A key
// that names another payment in the ledger is refused for good (ErrPaymentRefused,
// details a PaymentRefusal).
func (a *Activities) RecordPayment(ctx context.Context, in PaymentInput) (bool, error) {
	if in.AmountCents <= 0 {
		return false, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("payment of %d cents for invoice %s is not positive", in.AmountCents, in.Case.Invoice), ErrInvalidInput, nil)
	}
	inserted, err := a.Store.RecordPayment(ctx, in)
	var r *PaymentRefusal
	if errors.As(err, &r) {
		return false, temporal.NewNonRetryableApplicationError(r.Error(), ErrPaymentRefused, nil, *r)
	}
	return inserted, err
}

// CheckSupply says whether the supply point is already cut for another invoice.
func (a *Activities) CheckSupply(ctx context.Context, in SupplyInput) (SupplyStatus, error) {
	return a.Store.SupplyStatus(ctx, in.Case)
}

// RequestCut asks the distributor to cut the supply point, once per supply point
// however many of its invoices reach the cut (PROCESS step 7). The ledger
// checks the cut in the transaction that writes it; its refusal is final for
// this attempt (ErrCutRefused, details a CutRefusal) and the case goes where
// the reason says.
func (a *Activities) RequestCut(ctx context.Context, in CutInput) (CutResult, error) {
	in.From = a.REECode
	res, err := a.Store.RequestCut(ctx, in)
	if r, ok := AsCutRefusal(err); ok {
		return CutResult{}, cutRefused(r)
	}
	if err != nil || !in.Send || res.Request == nil {
		return res, err
	}
	res.Sent = a.sendCommitted(ctx, in.Case, res.Request.RequestID)
	return res, nil
}

// sendCommitted hands the distributor the messages of a request the ledger
// has just committed, and says whether all went. A failure is not the
// activity's: the request stands in the ledger, the case sends it again with
// SendToDistributor, and the worker's own sweep sends whatever is left.
func (a *Activities) sendCommitted(ctx context.Context, c CaseRef, requestID int64) bool {
	if _, err := SendPending(ctx, a.Store, a.Distributor, requestID); err != nil {
		activity.GetLogger(ctx).Warn("request not handed to the distributor yet", "invoice", c.Invoice, "request", requestID, "error", err)
		return false
	}
	return true
}

// RequestPowerLimit asks the distributor to limit the supply point's power
// (the Suministro Mínimo Vital), once per run of the case. The ledger refuses
// it like a cut when the invoice is no longer open, owes nothing, is on hold,
// or the supply may never be cut.
func (a *Activities) RequestPowerLimit(ctx context.Context, in LimitInput) (LimitResult, error) {
	if in.KW <= 0 {
		return LimitResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("power limit of %v kW for invoice %s is not positive", in.KW, in.Case.Invoice), ErrInvalidInput, nil)
	}
	res, err := a.Store.RequestPowerLimit(ctx, in)
	if r, ok := AsCutRefusal(err); ok {
		return LimitResult{}, cutRefused(r)
	}
	return res, err
}

// cutRefused is the ledger's refusal as the workflow reads it:
// appErr.Details(&refusal).
func cutRefused(r *CutRefusal) error {
	return temporal.NewNonRetryableApplicationError(r.Error(), ErrCutRefused, nil, *r)
}

// SettleInvoice closes the invoice as paid and, when that leaves a cut supply
// point with nothing open, asks the distributor to reconnect it (PROCESS step 8).
func (a *Activities) SettleInvoice(ctx context.Context, in SettleInput) (SettleResult, error) {
	in.From = a.REECode
	res, err := a.Store.Settle(ctx, in)
	if err != nil || !in.Send || res.Request == nil {
		return res, err
	}
	res.Sent = a.sendCommitted(ctx, in.Case, res.Request.RequestID)
	return res, nil
}

// LetterFilename is the name of the business cut letter PDF of an invoice.
func LetterFilename(invoice string) string { return "carta-corte-" + invoice + ".pdf" }

func (a *Activities) cutLetter(in NoticeInput) ([]byte, error) {
	if in.CutDate == nil {
		return nil, fmt.Errorf("a cut letter needs a cut date")
	}
	r := a.Retailer
	return letter.CutLetterPDF(letter.CutLetter{
		Retailer:    letter.Retailer{Name: r.Name, TaxID: r.TaxID, Address: r.Address, Phone: r.Phone, Email: r.Email, IBAN: r.IBAN},
		Customer:    firstNonEmpty(in.Contract.Customer, in.Case.Customer),
		TaxID:       in.Contract.TaxID,
		Cups:        in.Case.Cups,
		Invoices:    []letter.Invoice{{Number: in.Case.Invoice, AmountCents: in.Case.AmountDueCents}},
		AmountCents: in.Case.AmountDueCents,
		CutDate:     *in.CutDate,
		Date:        in.At,
		Reference:   in.Case.WorkflowID,
	})
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// RecordHold writes a hold, or its release, to the ledger, which refuses it
// once the supply point's cut was requested for the invoice.
func (a *Activities) RecordHold(ctx context.Context, in HoldInput) (HoldResult, error) {
	return a.Store.RecordHold(ctx, in)
}

// NoticeProof says whether the formal notice the cut must follow is proven
// (a provider's certificate or a proof a clerk recorded) and since when.
func (a *Activities) NoticeProof(ctx context.Context, in ProofInput) (ProofStatus, error) {
	return a.Store.NoticeProof(ctx, in.Case)
}

// CancelCase closes the invoice as cancelled in the ledger, with who and why.
func (a *Activities) CancelCase(ctx context.Context, in CancelInput) error {
	return a.Store.CancelInvoice(ctx, in)
}
