package activities

import (
	"errors"
	"fmt"
	"time"
)

// Why the ledger refuses a cut request. The workflow goes where the reason
// says: settle, wait on hold, wait for the next allowed day or for proof.
const (
	RefusedNothingDue    = "nothing_due"    // the ledger's amount due is zero: settle
	RefusedOnHold        = "on_hold"        // a person holds the case
	RefusedNeverCut      = "never_cut"      // essential supply or protected household
	RefusedNotProven     = "not_proven"     // no proof that the formal notice reached the customer
	RefusedWaitNotOver   = "wait_not_over"  // the regulatory wait from the proven date, or a date a notice told, is ahead
	RefusedNotCutDay     = "not_cut_day"    // the day of the request is not an allowed cut day of the supply's calendar
	RefusedCutBan        = "cut_ban"        // a decreed ban covers this consumer on that day
	RefusedMinimumSupply = "minimum_supply" // Bono Social: the Suministro Mínimo Vital has not ended
	RefusedNoCalendar    = "no_calendar"    // no holiday data for the year of the request
	RefusedNotOpen       = "not_open"       // the invoice is paid or cancelled in the ledger
)

// ErrCutRefused is the ApplicationError type of a refused cut request; its
// details carry a CutRefusal. It is never retried.
const ErrCutRefused = "CutRefused"

// ErrPaymentRefused is the ApplicationError type of a payment the ledger
// cannot record (a key that names another payment); never retried.
const ErrPaymentRefused = "PaymentRefused"

// CutRefusal says why the ledger refused a cut request.
type CutRefusal struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
	// Until is the first moment the reason may no longer hold (the end of a
	// wait, the next allowed cut day), when the ledger knows it.
	Until *time.Time `json:"until,omitempty"`
}

func (r *CutRefusal) Error() string {
	if r.Detail == "" {
		return "cut refused: " + r.Reason
	}
	return fmt.Sprintf("cut refused: %s: %s", r.Reason, r.Detail)
}

// AsCutRefusal finds a CutRefusal in err's chain.
func AsCutRefusal(err error) (*CutRefusal, bool) {
	var r *CutRefusal
	ok := errors.As(err, &r)
	return r, ok
}

// PaymentRefusal is a payment the ledger will not record, with why.
type PaymentRefusal struct {
	Key    string `json:"key"`
	Detail string `json:"detail"`
}

func (r *PaymentRefusal) Error() string { return "payment refused: " + r.Detail }

// CutRules are what the ledger checks, besides its own rows, before a cut
// request is written. They travel from the case's policy, so a case keeps the
// rules it started with.
type CutRules struct {
	// CaseClock makes the day of the request the case's clock (At: the demo
	// policy); otherwise it is the database's now() in Europe/Madrid.
	CaseClock bool `json:"case_clock"`
	// NotBefore is the earliest day a notice told the customer (the cut date
	// of a cut letter, the first day of suspension of a formal demand).
	NotBefore *time.Time `json:"not_before,omitempty"`
	// Holidays are configured extra holidays (YYYY-MM-DD) beyond the supply's
	// own calendar, which the ledger builds from the contract's province.
	Holidays []string `json:"holidays,omitempty"`
	// RegulatoryWaitMonths, BonoSocialWaitMonths: the wait after the proven
	// formal demand of a domestic supply (PROCESS step 3).
	RegulatoryWaitMonths int `json:"regulatory_wait_months"`
	BonoSocialWaitMonths int `json:"bono_social_wait_months"`
	// MinimumSupplyMonths: a Bono Social household gets the Suministro
	// Mínimo Vital this long after its wait before any cut.
	MinimumSupplyMonths int `json:"minimum_supply_months"`
	// Bans are decreed periods in which the classes they name are not cut.
	Bans []CutBan `json:"bans,omitempty"`
}

// Consumer classes a cut ban may protect.
const (
	ClassBonoSocial = "bono_social" // Bono Social beneficiaries
	ClassProtected  = "protected"   // households the regulation shields
	ClassDomestic   = "domestic"    // every domestic supply
)

// CutBan is a decreed period (From to To, both days included, Madrid) in
// which no supply of the classes listed is cut.
type CutBan struct {
	Name    string    `json:"name"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Classes []string  `json:"classes"`
}

// HoldInput puts a hold on the case in the ledger (On) or lifts it.
type HoldInput struct {
	Case   CaseRef   `json:"case"`
	On     bool      `json:"on"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// HoldResult says whether the ledger took the hold. A hold comes too late
// when the supply point's cut was already requested for this invoice.
type HoldResult struct {
	Applied bool   `json:"applied"`
	Detail  string `json:"detail,omitempty"`
}

// ProofInput asks whether the case's formal notice is proven.
type ProofInput struct {
	Case CaseRef `json:"case"`
}

// Kinds of proof of the formal notice.
const (
	ProofCertificate = "certificado" // a qualified certified-delivery provider's certificate
	ProofBurofax     = "burofax"
	ProofLetter      = "carta" // a posted letter's receipt
	ProofAcknowledge = "acuse" // acuse de recibo
)

// ProofStatus is what the ledger holds of the proof of the formal notice.
type ProofStatus struct {
	Proven bool `json:"proven"`
	// ProvenOn is the earliest day a proof says the notice was received.
	ProvenOn *time.Time `json:"proven_on,omitempty"`
	Kind     string     `json:"kind,omitempty"`
	// Summary reads like "burofax recibido el 12/03/2026 (registrado por ana)".
	Summary string `json:"summary,omitempty"`
}

// CancelInput closes the invoice as cancelled by a person.
type CancelInput struct {
	Case   CaseRef   `json:"case"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// LimitInput asks the distributor to limit the supply point's power (the
// Suministro Mínimo Vital of a Bono Social household) instead of cutting it.
type LimitInput struct {
	Case       CaseRef   `json:"case"`
	KW         float64   `json:"kw"`
	At         time.Time `json:"at"`
	ApprovedBy string    `json:"approved_by"`
	// AlreadyLimited records the start of the Suministro Mínimo Vital of a
	// supply whose contracted power is already at most KW: nothing is asked
	// of the distributor, and the clerks get no task.
	AlreadyLimited bool `json:"already_limited,omitempty"`
}

// LimitResult names the distributor request of the limit: one per run of the
// case, however often it is asked for.
type LimitResult struct {
	RequestID int64 `json:"request_id"`
}
