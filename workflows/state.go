package workflows

import (
	"strings"
	"time"

	"github.com/elega/impagos/activities"
)

// Stage is where a case stands. The vocabulary is small and fixed; the README
// explains each stage for the supervisor.
type Stage string

// Stages, in the order a case usually goes through them.
const (
	StageChecking           Stage = "checking"             // looking the invoice up in the payments ledger
	StageNeedsContact       Stage = "needs_contact"        // no phone or e-mail: waiting for contact data
	StageNotice1            Stage = "notice_1"             // aviso 1 sent (domestic)
	StageNotice2            Stage = "notice_2"             // aviso 2 sent (domestic)
	StageNotice3            Stage = "notice_3"             // formal demand sent; regulatory wait running (domestic)
	StageCutScheduled       Stage = "cut_scheduled"        // a cut date is set; pre-cut e-mail before it
	StageCutReview          Stage = "cut_review"           // cut date reached: waiting for the cuts desk
	StageCutBlocked         Stage = "cut_blocked"          // no cut may be requested yet: no proof of the formal notice, a cut ban, no calendar
	StageMinimumSupply      Stage = "minimum_supply"       // Bono Social: Suministro Mínimo Vital, power limited, before any cut
	StageOnHold             Stage = "on_hold"              // paused by a person, or never to be cut
	StageCutRequested       Stage = "cut_requested"        // the cut was asked of the distributor (B1 01): waiting for it to cut
	StageCut                Stage = "cut"                  // the distributor cut the supply (B1 05); before ATR: the cut was requested
	StageCutCancelRequested Stage = "cut_cancel_requested" // paid before the cut: the request is being cancelled (B1 03)
	StageReconnectRequested Stage = "reconnect_requested"  // paid after the cut: reconnection asked of the distributor (B1 03)
	StageReconnecting       Stage = "reconnecting"         // before ATR: paid after the cut, reconnection being requested
	StagePaid               Stage = "paid"                 // closed: paid (before any cut of this invoice)
	StageReconnected        Stage = "reconnected"          // closed: paid after the cut and reconnection requested
	StageCancelled          Stage = "cancelled"            // closed: cancelled by a person; nothing more is sent
)

// Closed reports whether the stage ends the case.
func (s Stage) Closed() bool {
	return s == StagePaid || s == StageReconnected || s == StageCancelled
}

// Answer is a case's answer to a clerk's update: what it did, and where the
// case stands after it.
type Answer struct {
	Outcome        string `json:"outcome"` // approved, recorded, duplicate, on_hold, released, contact_read
	Stage          Stage  `json:"stage"`
	AmountDueCents int64  `json:"amount_due_cents"`
	Detail         string `json:"detail"`
}

// ProofRecordedSignal says a proof of the formal notice was recorded in the ledger.
type ProofRecordedSignal struct {
	By string `json:"by"`
}

// PaidSignal is the payload of the paid signal.
type PaidSignal struct {
	AmountCents int64     `json:"amount_cents"`
	PaidAt      time.Time `json:"paid_at"`
	Reference   string    `json:"reference"`
}

// ApproveCutSignal is the cuts desk's approval of a cut under review.
type ApproveCutSignal struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// HoldSignal pauses a case until it is released.
type HoldSignal struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// ReleaseSignal resumes a case on hold.
type ReleaseSignal struct {
	By string `json:"by"`
}

// ContactUpdatedSignal says the contract's contact data changed.
type ContactUpdatedSignal struct {
	By string `json:"by"`
}

// Input starts a case.
type Input struct {
	Invoice     string    `json:"invoice"`
	Customer    string    `json:"customer"`
	Cups        string    `json:"cups"`
	AmountCents int64     `json:"amount_cents"`
	ReturnedAt  time.Time `json:"returned_at"`
	Policy      Policy    `json:"policy"`
	// Return is the bank's reason for the return, when a bank's return file
	// started the case; its path decides how the case goes on.
	Return *BankReturn `json:"return,omitempty"`
}

// Result is what a closed case returns.
type Result struct {
	Stage       Stage      `json:"stage"`
	PaidCents   int64      `json:"paid_cents"`
	CutAt       *time.Time `json:"cut_at,omitempty"`
	ReconnectAt *time.Time `json:"reconnect_at,omitempty"`
}

// Notice is one communication sent to the customer.
type Notice struct {
	Kind     string    `json:"kind"`
	Channel  string    `json:"channel"`
	OutboxID int64     `json:"outbox_id"`
	At       time.Time `json:"at"`
	// Status is the outbox's: pending (texts and letters for the clerks), sent,
	// failed (refused for good, see Detail) or not_sent (no e-mail provider).
	Status string `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Hold says why a case is paused and who paused it.
type Hold struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	// NeverCut marks the hold the system puts on essential supplies and
	// protected households: releasing it looks at the contract again.
	NeverCut bool `json:"never_cut"`
	// Recorded says the ledger holds it too, so no cut request passes it.
	Recorded bool `json:"recorded,omitempty"`
	// Silent says nothing goes to the customer while it lasts, not even a
	// payment's confirmation (a return by the retailer's own error).
	Silent bool `json:"silent,omitempty"`
}

// Event is one line of the case's history.
type Event struct {
	At    time.Time `json:"at"`
	Stage Stage     `json:"stage"`
	What  string    `json:"what"`
	By    string    `json:"by,omitempty"`
}

// Payment is a payment the case received.
type Payment struct {
	Key         string    `json:"key"`
	AmountCents int64     `json:"amount_cents"`
	PaidAt      time.Time `json:"paid_at"`
	Reference   string    `json:"reference,omitempty"`
	// dated: PaidAt, and so the key, is the case's clock when the payment
	// came, which a workflow task run again reads later (recordPayment).
	dated bool
}

// State is the answer to the state query.
type State struct {
	Invoice        string     `json:"invoice"`
	Customer       string     `json:"customer"`
	Cups           string     `json:"cups"`
	Policy         string     `json:"policy"`
	Stage          Stage      `json:"stage"`
	Segment        string     `json:"segment,omitempty"`
	Phone          string     `json:"phone,omitempty"`
	Email          string     `json:"email,omitempty"`
	BonoSocial     bool       `json:"bono_social"`
	Essential      bool       `json:"essential"`
	Protected      bool       `json:"protected"`
	AmountCents    int64      `json:"amount_cents"`
	AmountDueCents int64      `json:"amount_due_cents"`
	Payments       []Payment  `json:"payments,omitempty"`
	Notices        []Notice   `json:"notices,omitempty"`
	NextAction     string     `json:"next_action,omitempty"`
	NextActionAt   *time.Time `json:"next_action_at,omitempty"`
	CutDate        *time.Time `json:"cut_date,omitempty"`
	CutApprovedBy  string     `json:"cut_approved_by,omitempty"`
	CutAt          *time.Time `json:"cut_at,omitempty"`
	ReconnectAt    *time.Time `json:"reconnect_at,omitempty"`
	Hold           *Hold      `json:"hold,omitempty"`
	// Proof is what the ledger holds of the proof that the formal notice
	// reached the customer; nil before the case looked.
	Proof *activities.ProofStatus `json:"proof,omitempty"`
	// Attention is why a person must look at the case (an activity failing
	// past its bound, a missing calendar); empty when nothing is wrong.
	Attention      string     `json:"attention,omitempty"`
	AttentionSince *time.Time `json:"attention_since,omitempty"`
	// Request is the cut request to the distributor the case follows, and
	// Release the cancellation or reconnection asked after payment (ATR B1).
	Request *activities.DistributorState `json:"request,omitempty"`
	Release *activities.DistributorState `json:"release,omitempty"`
	// ReconnectDueAt is when the distributor must have accepted the
	// reconnection: the end of the day after the payment.
	ReconnectDueAt *time.Time `json:"reconnect_due_at,omitempty"`
	// Breach is the distributor's breach of the rules on the cut, if any.
	Breach string `json:"breach,omitempty"`
	// Return is why the bank returned the invoice, when its return file
	// said; nil for a TRADE export's return. Task is what the clerks must
	// ask of the customer because of it (a new IBAN or mandate).
	Return  *BankReturn `json:"return,omitempty"`
	Task    string      `json:"task,omitempty"`
	History []Event     `json:"history"`
}

// FormalNotice says how the notice a cut must follow went to the customer: the
// formal demand (requerimiento fehaciente) of a domestic case, the cut letter
// of a business one, each of its channels with its status, e.g. "certified
// sent, whatsapp pending", and the proof that it reached the customer. It is
// proven only by a proof in the ledger: a qualified provider's certificate or
// a posted letter's or burofax's receipt a clerk recorded. A provider's
// "delivered" is evidence, not proof. Cases from before proofs were kept are
// judged as they were: proven when the certified e-mail was sent.
func (s State) FormalNotice() (summary string, proven bool) {
	if s.Proof != nil {
		summary, _ = s.formalNoticeChannels()
		if s.Proof.Proven {
			return summary + "; " + s.Proof.Summary, true
		}
		return summary + "; sin prueba de entrega", false
	}
	return s.formalNoticeChannels()
}

func (s State) formalNoticeChannels() (summary string, proven bool) {
	var parts []string
	for _, n := range s.Notices {
		if n.Kind != activities.KindRequerimiento && n.Kind != activities.KindCutLetter {
			continue
		}
		status := n.Status
		if status == "" { // a case from before the worker delivered notices
			status = "stored"
		}
		parts = append(parts, n.Channel+" "+status)
		proven = proven || (n.Channel == activities.ChannelCertified && n.Status == activities.StatusSent)
	}
	if len(parts) == 0 {
		return "none", false
	}
	return strings.Join(parts, ", "), proven
}
