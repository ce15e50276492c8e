package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ReturnPath is what the bank's reason for a return makes of the case
// (PROCESS "Why the bank returned it").
type ReturnPath string

// The paths a return's reason chooses.
const (
	PathFunds    ReturnPath = "funds"     // no funds (AM04, MS03, unknown codes): the normal process
	PathDisputed ReturnPath = "disputed"  // the customer disputes the charge: on hold for a person
	PathAccount  ReturnPath = "account"   // account or mandate problem: normal process, ask for a new IBAN or mandate
	PathDeceased ReturnPath = "deceased"  // holder deceased: on hold for a person
	PathOurError ReturnPath = "our_error" // the retailer's own error: on hold, NeedsAttention, nothing sent
)

// Valid reports whether p is one of the paths.
func (p ReturnPath) Valid() bool {
	switch p {
	case PathFunds, PathDisputed, PathAccount, PathDeceased, PathOurError:
		return true
	}
	return false
}

// TaskNewMandate is the task a case on the account path gives the clerks.
const TaskNewMandate = "pedir al cliente un IBAN o mandato nuevo"

// BankReturn is why the bank returned the invoice, as its return file says.
// A TRADE export carries none: its cases follow the normal process.
type BankReturn struct {
	Reason string     `json:"reason"` // the SEPA reason code, e.g. AM04
	Path   ReturnPath `json:"path"`
	// Originator is who raised the return, when the file says (the debtor,
	// its bank); Description the reason in the clerks' words.
	Originator  string `json:"originator,omitempty"`
	Description string `json:"description,omitempty"`
	// File is the bank file's message id, for the audit trail.
	File string `json:"file,omitempty"`
	By   string `json:"by,omitempty"`
}

func (r BankReturn) validate() error {
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("a bank return needs its reason code")
	}
	if !r.Path.Valid() {
		return fmt.Errorf("unknown return path %q (want funds, disputed, account, deceased or our_error)", r.Path)
	}
	return nil
}

func (r BankReturn) label() string {
	if r.Description != "" {
		return r.Reason + " (" + r.Description + ")"
	}
	return r.Reason
}

// holdReason is the hold a path puts the case on, empty when it goes on.
func (r BankReturn) holdReason() string {
	switch r.Path {
	case PathDisputed:
		return "el cliente rechaza el cargo, " + r.label() + ": una persona decide antes de ningún aviso de corte"
	case PathDeceased:
		return "titular fallecido, " + r.label() + ": una persona decide"
	case PathOurError:
		return "devolución por un error nuestro, " + r.label() + ": no se envía nada al cliente"
	}
	return ""
}

// takeReturn sets the case's path from the bank's reason. The paths that hold
// the case put a hold the main path takes at its next wait, before anything
// more is sent; the retailer's own error also raises NeedsAttention. It says
// what it did, for the clerk's answer, and the hold it put, if any.
func (c *invoiceCase) takeReturn(ctx workflow.Context, r BankReturn) (outcome, detail string, put *Hold) {
	by := r.By
	if by == "" {
		by = "banco"
	}
	c.st.Return = &r
	what := fmt.Sprintf("devolución del banco: motivo %s, camino %s", r.label(), r.Path)
	if r.Path == PathAccount {
		c.st.Task = TaskNewMandate
		what += "; " + TaskNewMandate
	}
	c.event(ctx, what, by)
	outcome, detail = "path_set", fmt.Sprintf("reason %s: path %s", r.Reason, r.Path)
	if r.Path == PathOurError {
		c.raiseAttention(ctx, "devolución por un error nuestro ("+r.label()+"): revisar y presentar de nuevo o cancelar")
	}
	reason := r.holdReason()
	switch {
	case reason == "":
	case c.hold != nil:
		// Already held: the hold stays, and it says nothing more to the
		// customer when the bank's reason is the retailer's own error.
		c.hold.Silent = c.hold.Silent || r.Path == PathOurError
		c.event(ctx, "el caso sigue en espera: "+c.hold.Reason, by)
		outcome, detail = "on_hold", detail+"; already on hold: "+c.hold.Reason
	case c.holdRefusal().en != "":
		// Too late to stop it by a hold (the cut is with the distributor):
		// a person must look at it now.
		c.raiseAttention(ctx, "devolución "+r.label()+" recibida en "+string(c.st.Stage)+": una persona debe revisarla")
		detail += "; not held: " + c.holdRefusal().en + "; flagged for a person"
	default:
		put = &Hold{Reason: reason, By: by, At: c.now(ctx), Silent: r.Path == PathOurError}
		c.hold = put
		outcome, detail = "on_hold", detail+"; on hold"
	}
	c.publish(ctx)
	return outcome, detail, put
}

// bankReturnRefusal says why a case does not take a bank's reason now.
func (c *invoiceCase) bankReturnRefusal(r BankReturn) why {
	if err := r.validate(); err != nil {
		return why{err.Error(), ""}
	}
	switch {
	case !c.safe:
		return why{"the case started before the bank's reasons were read: hold it by hand if it must stop", ""}
	case c.st.Return != nil && c.st.Return.Reason == r.Reason && c.st.Return.Path == r.Path:
		return why{"already recorded: reason " + r.Reason + ", path " + string(r.Path), ""}
	}
	return why{}
}

// bankReturnUpdate takes the bank's reason for an open case and answers with
// where it left it: on hold (written to the ledger first, like a person's
// hold), or going on with its path.
func (c *invoiceCase) bankReturnUpdate(ctx workflow.Context, r BankReturn) (Answer, error) {
	outcome, detail, h := c.takeReturn(ctx, r)
	if h == nil {
		return c.answer(outcome, detail), nil
	}
	applied, err := c.recordHoldOf(ctx, h)
	if err != nil {
		return Answer{}, err
	}
	if !applied {
		c.raiseAttention(ctx, "devolución "+r.label()+": espera rechazada por el registro, una persona debe revisarla")
		return c.answer("path_set", detail+" refused by the ledger: "+c.lastEvent()+"; flagged for a person"), nil
	}
	if err := workflow.Await(ctx, func() bool { return c.st.Stage == StageOnHold || c.hold != h || c.st.Stage.Closed() || c.closing }); err != nil {
		return Answer{}, err
	}
	return c.answer(outcome, detail), nil
}

func (c *invoiceCase) registerBankReturn(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateBankReturn, c.bankReturnUpdate,
		workflow.UpdateHandlerOptions{Validator: func(r BankReturn) error {
			if c.st.Stage.Closed() || c.closing {
				return temporal.NewApplicationError(fmt.Sprintf("the case is closed (%s)", c.st.Stage), "Refused")
			}
			if w := c.bankReturnRefusal(r); w.en != "" {
				return temporal.NewApplicationError(w.en, "Refused")
			}
			return nil
		}})
}
