package activities

import "time"

// Segments of a contract, as TRADE's customer type says.
const (
	SegmentDomestic = "domestico" // Doméstico
	SegmentBusiness = "empresa"   // Empresa
)

// Notice kinds: what a communication to the customer is about.
const (
	KindAviso1        = "aviso_1"
	KindAviso2        = "aviso_2"
	KindRequerimiento = "requerimiento" // aviso 3, the formal payment demand
	KindCutLetter     = "carta_corte"   // business cut letter with the scheduled cut date
	KindPreCut        = "pre_corte"     // e-mail that the cut is coming
	KindPaid          = "pago"          // payment confirmation
	KindReconnected   = "reconexion"    // reconnection confirmation
)

// Channels a communication goes through.
const (
	ChannelEmail     = "email"
	ChannelWhatsApp  = "whatsapp"
	ChannelSMS       = "sms"
	ChannelCertified = "certified" // e-mail with evidence of content and delivery
	ChannelLetter    = "letter"    // PDF letter kept with the case
)

// CaseRef identifies a case and carries what every write should keep current on
// the invoice row, so the database reads like the clerk's sheet without extra calls.
type CaseRef struct {
	WorkflowID     string     `json:"workflow_id"`
	RunID          string     `json:"run_id"`
	Invoice        string     `json:"invoice"`
	Customer       string     `json:"customer"`
	Cups           string     `json:"cups"`
	Stage          string     `json:"stage"`
	AmountDueCents int64      `json:"amount_due_cents"`
	CutDate        *time.Time `json:"cut_date,omitempty"`
}

// OpenCaseInput registers a returned invoice.
type OpenCaseInput struct {
	Case        CaseRef   `json:"case"`
	AmountCents int64     `json:"amount_cents"`
	ReturnedAt  time.Time `json:"returned_at"`
}

// OpenCaseResult says how much of the invoice the payments ledger already covers.
type OpenCaseResult struct {
	PaidCents int64 `json:"paid_cents"`
	// PaymentKeys are the ledger keys of the payments counted, so the same
	// payment reported again by signal is not counted twice.
	PaymentKeys []string `json:"payment_keys,omitempty"`
}

// Contract is what TRADE's contracts say about the supply point.
type Contract struct {
	Found      bool   `json:"found"`
	Customer   string `json:"customer"`
	TaxID      string `json:"tax_id"`
	Cups       string `json:"cups"`
	Segment    string `json:"segment"`
	Phone      string `json:"phone"`
	Email      string `json:"email"`
	Province   string `json:"province"`
	BonoSocial bool   `json:"bono_social"`
	Essential  bool   `json:"essential"` // Suministro Esencial
	Protected  bool   `json:"protected"` // household the regulation shields from cuts
	// Protection is the distributor's refusal to cut the supply for a
	// protected reason (essential, court order, energy poverty...), kept
	// until a person clears it.
	Protection string `json:"protection,omitempty"`
	// PowerKW is the contracted power in kW, 0 when the contracts do not say.
	PowerKW float64 `json:"power_kw,omitempty"`
	// Holidays are the regional and local holidays (YYYY-MM-DD) of the
	// supply's calendar, from its province, for every year the data covers;
	// the workflow adds them to the national ones it computes.
	Holidays []string `json:"holidays,omitempty"`
	// CalendarThrough is the last year the holiday data covers; a cut day
	// after it is not guessed.
	CalendarThrough int `json:"calendar_through,omitempty"`
}

// Reachable reports whether the customer can be contacted at all.
func (c Contract) Reachable() bool { return c.Found && (c.Phone != "" || c.Email != "") }

// NeverCut reports whether the supply must never be cut.
func (c Contract) NeverCut() bool { return c.Essential || c.Protected || c.Protection != "" }

// LookupInput asks for the contract of a case.
type LookupInput struct {
	Case CaseRef `json:"case"`
}

// NoticeInput asks to render a notice and put it in the outbox.
type NoticeInput struct {
	Case     CaseRef  `json:"case"`
	Step     string   `json:"step"` // unique within the case; with the run it forms the idempotency key
	Kind     string   `json:"kind"`
	Contract Contract `json:"contract"`
	// CutDate is the scheduled cut date; domestic notices never carry one.
	CutDate *time.Time `json:"cut_date,omitempty"`
	// SuspendFrom is the first day supply may be suspended, for the formal demand.
	SuspendFrom *time.Time `json:"suspend_from,omitempty"`
	At          time.Time  `json:"at"`
	// NewMandate asks the customer for a new IBAN or direct-debit mandate:
	// the bank returned the invoice for the account or the mandate.
	NewMandate bool `json:"new_mandate,omitempty"`
	// Deliver has the activity also send what it stored, once: what the
	// provider does not take then is left to DeliverNotice.
	Deliver bool `json:"deliver,omitempty"`
}

// Message is one communication stored in the outbox.
type Message struct {
	OutboxID  int64     `json:"outbox_id"`
	Channel   string    `json:"channel"`
	Recipient string    `json:"recipient"`
	At        time.Time `json:"at"`
}

// NoticeResult lists what was stored.
type NoticeResult struct {
	Messages []Message `json:"messages"`
	// Delivered is what became of each message when Deliver was asked;
	// Undelivered, when the provider did not take them all, the outbox ids
	// for DeliverNotice.
	Delivered   []Delivered `json:"delivered,omitempty"`
	Undelivered []int64     `json:"undelivered,omitempty"`
}

// StageInput records a stage change that no other activity records.
type StageInput struct {
	Case   CaseRef   `json:"case"`
	Detail string    `json:"detail"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	// Seq is the stage's number among those the run recorded, from 1: with
	// the run, it makes the audit line once when a workflow task is run
	// again at a later time. 0 in inputs from before it, keyed by At.
	Seq int `json:"seq,omitempty"`
}

// PaymentInput records a payment in the ledger.
type PaymentInput struct {
	Case        CaseRef   `json:"case"`
	Key         string    `json:"key"`
	AmountCents int64     `json:"amount_cents"`
	PaidAt      time.Time `json:"paid_at"`
	Reference   string    `json:"reference"`
}

// SupplyInput asks about a supply point.
type SupplyInput struct {
	Case CaseRef `json:"case"`
}

// SupplyStatus says whether the supply point is cut now.
type SupplyStatus struct {
	Cut   bool  `json:"cut"`
	CutID int64 `json:"cut_id"`
}

// CutInput asks the distributor to cut the supply point.
type CutInput struct {
	Case       CaseRef   `json:"case"`
	ApprovedBy string    `json:"approved_by"`
	At         time.Time `json:"at"`
	// Rules are checked by the ledger in the transaction that writes the
	// request; cases from before the check send none (Checked false).
	Rules   CutRules `json:"rules"`
	Checked bool     `json:"checked,omitempty"`
	// ATR has the request leave as a CNMC ATR B1 message (step 01, motive
	// 03) committed with it; cases from before send none.
	ATR bool `json:"atr,omitempty"`
	// Send has the request's messages handed to the distributor by this
	// activity once the ledger has committed them; what the distributor does
	// not take is left for SendToDistributor (CutResult.Sent false).
	Send bool `json:"send,omitempty"`
	// From is the retailer's REE code; the activity fills it in.
	From string `json:"-"`
}

// CutResult describes the cut the case is part of.
type CutResult struct {
	CutID int64 `json:"cut_id"`
	// Joined is true when the supply point was already cut for another invoice,
	// so no second request went to the distributor.
	Joined bool `json:"joined"`
	// Request is the cut request to the distributor the case is now part of;
	// nil for requests from before ATR.
	Request *DistributorState `json:"request,omitempty"`
	// Sent is true when CutInput.Send handed every message of Request to the
	// distributor.
	Sent bool `json:"sent,omitempty"`
}

// SettleInput marks an invoice as paid in full.
type SettleInput struct {
	Case   CaseRef   `json:"case"`
	PaidAt time.Time `json:"paid_at"`
	// DueBy is when the distributor must have reconnected, if a reconnection is requested.
	DueBy time.Time `json:"due_by"`
	// Send has the messages of the request this settlement asks for handed
	// to the distributor once committed, as CutInput.Send.
	Send bool `json:"send,omitempty"`
	// From is the retailer's REE code; the activity fills it in.
	From string `json:"-"`
}

// SettleResult says what paying this invoice did to the supply point.
type SettleResult struct {
	// SupplyCut is true when the supply point was cut when the invoice was settled.
	SupplyCut bool `json:"supply_cut"`
	// Reconnection is true when this settlement requested the reconnection:
	// the supply point was cut and no other invoice on it is still open.
	Reconnection bool `json:"reconnection"`
	// StillOpen lists the other open invoices that keep the supply point cut.
	StillOpen []string `json:"still_open,omitempty"`
	// Release is what this settlement asked of the distributor for the cut
	// of the supply point: RequestCancel (the cut was not executed yet) or
	// RequestReconnect; empty when it asked nothing.
	Release string `json:"release,omitempty"`
	// Request is the B1 step 03 this settlement asked for, nil when none or
	// when the cut was requested before ATR (no message, no answer).
	Request *DistributorState `json:"request,omitempty"`
	// Sent is true when SettleInput.Send handed every message of Request to
	// the distributor.
	Sent bool `json:"sent,omitempty"`
	// Notified is true when the outbox holds a notice of this run of the
	// case: one sent by a workflow task the server never recorded counts,
	// though the case does not know of it.
	Notified bool `json:"notified,omitempty"`
	// Unsent are the e-mails of this run's notices still pending or left
	// sending by an attempt cut short: one a lost workflow task stored, which
	// the case never follows, is among them.
	Unsent []int64 `json:"unsent,omitempty"`
}

// OutboxItem is an outbox row as delivery sees it.
type OutboxItem struct {
	ID          int64
	Key         string
	Invoice     string
	Kind        string
	Channel     string
	Recipient   string
	Subject     string
	Body        string
	Status      string
	Detail      string
	MessageID   string
	Attempts    int32 // claims of the row so far; the current claim's number while it is 'sending'
	Attachments []Attachment
	// Claim describes a row found 'sending': claimed by an attempt that was cut
	// short before it recorded the provider's answer. Nil otherwise.
	Claim *Claim
}

// Claim is what is known of an e-mail left 'sending', for deciding whether the
// provider got it, may still report it, or never saw it.
type Claim struct {
	// Dated is false for rows claimed before claims were dated: nothing can be
	// judged of them, and they are left for a clerk.
	Dated bool
	// Age is the time since the claim, by the database's clock.
	Age time.Duration
	// Running is how much longer the attempt that claimed the row could still
	// be running (its deadline); zero or less once it has certainly given up.
	Running time.Duration
	// Event is the provider's first event of the e-mail, if any arrived.
	Event *MailEvent
	// Webhook says the provider's events reach the system: some arrived in the
	// day before the claim or since.
	Webhook bool
	// Later says the provider has reported other e-mails it got after the claim.
	Later bool
}

// MailEvent is an event the e-mail provider reported of a message.
type MailEvent struct {
	Event     string    // processed, delivered, dropped, bounce...
	MessageID string    // the provider's message id
	At        time.Time // when it happened at the provider
}

// Delivery is the outcome of one delivery attempt. An empty Status leaves the
// row pending: the attempt failed in a way a retry may fix.
type Delivery struct {
	Status    string // sent, failed or not_sent
	MessageID string
	Detail    string
	Evidence  *Evidence
}

// Evidence is what the certified channel keeps of a communication.
type Evidence struct {
	Provider          string            `json:"provider"`
	ContentSHA256     string            `json:"content_sha256"`
	AttachmentsSHA256 map[string]string `json:"attachments_sha256"`
	MessageID         string            `json:"message_id"`
	SentAt            time.Time         `json:"sent_at"`
	// Certificate is a qualified provider's certificate of delivery, which
	// proves the formal notice reached the customer; nil for evidence only
	// (SendGrid's, whose "delivered" event proves nothing in law).
	Certificate *Certificate `json:"certificate,omitempty"`
}

// Certificate is a qualified certified-delivery provider's certificate that a
// communication reached its recipient.
type Certificate struct {
	ID          string    `json:"id"`           // the provider's certificate id
	DeliveredAt time.Time `json:"delivered_at"` // when the provider certifies delivery
}

// DeliverInput asks to deliver the outbox rows of a notice.
type DeliverInput struct {
	Case      CaseRef `json:"case"`
	OutboxIDs []int64 `json:"outbox_ids"`
}

// Delivered is the state of one outbox row after delivery.
type Delivered struct {
	OutboxID  int64  `json:"outbox_id"`
	Channel   string `json:"channel"`
	Status    string `json:"status"`
	MessageID string `json:"message_id,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// DeliverResult lists the rows delivered, failed or left for the clerks.
type DeliverResult struct {
	Delivered []Delivered `json:"delivered"`
}

// DigestInput asks for the cuts digest of a day.
type DigestInput struct {
	Day time.Time `json:"day"`
}

// DigestResult says what the digest held.
type DigestResult struct {
	Skipped bool `json:"skipped,omitempty"` // a holiday: no digest
	Cuts    int  `json:"cuts"`
	// Orphans counts the invoices open in the ledger whose case is closed.
	Orphans  int    `json:"orphans,omitempty"`
	OutboxID int64  `json:"outbox_id,omitempty"`
	Status   string `json:"status,omitempty"`
}

// ScheduledCut is one case on the cuts desk's list.
type ScheduledCut struct {
	CutDate     time.Time `json:"cut_date"`
	Invoice     string    `json:"invoice"`
	Customer    string    `json:"customer"`
	Cups        string    `json:"cups"`
	AmountCents int64     `json:"amount_cents"`
	Phone       string    `json:"phone"`
	Stage       string    `json:"stage"`
}
