package activities

import (
	"context"
	"fmt"
	"time"
)

// The distributor cuts and reconnects supplies; impagos asks it by the CNMC's
// ATR process B1 (internal/atr). A request is committed to the ledger with
// its message; delivering the message is a separate step that may run again.

// Distributor is the port a message leaves by. The ATR adapter writes each
// message as a file to the distributor's outbox folder.
type Distributor interface {
	// Send hands over a message the ledger committed. Sending the same message
	// again is harmless: the distributor sees it once.
	Send(ctx context.Context, m DistributorMessage) error
}

// DistributorMessage is an ATR message the ledger holds, ready to leave.
type DistributorMessage struct {
	ID       int64  // ledger id (atr_messages)
	FileName string // process, step, request code and sequence
	Body     []byte // the XML, UTF-8
}

// Request kinds and states, as the ledger keeps them.
const (
	RequestCut       = "cut"       // B1 step 01, motive 03
	RequestCancel    = "cancel"    // B1 step 03 before the cut was executed
	RequestReconnect = "reconnect" // B1 step 03 after it: restore the supply

	RequestPending  = "pending"  // written before the distributor spoke ATR: nothing sends it
	RequestSent     = "sent"     // the message is committed (and leaves by the outbox)
	RequestAccepted = "accepted" // step 02 (or 04) accepted it
	RequestRejected = "rejected" // step 02 (or 04) rejected it
	RequestExecuted = "executed" // step 05: the supply was cut
)

// Rejection is one reason the distributor gave for refusing a request (CNMC
// table 27), with what the retailer does about it.
type Rejection struct {
	Code  string `json:"code"`
	Text  string `json:"text"`
	Class string `json:"class"` // never_cut, already_cut, technical, in_progress, other
}

// DistributorState is where a request to the distributor stands.
type DistributorState struct {
	RequestID  int64       `json:"request_id"`
	Kind       string      `json:"kind"`
	Code       string      `json:"code,omitempty"` // CodigoDeSolicitud; empty for requests before ATR
	Status     string      `json:"status"`
	PlannedOn  *time.Time  `json:"planned_on,omitempty"`
	AnsweredOn *time.Time  `json:"answered_on,omitempty"`
	ExecutedOn *time.Time  `json:"executed_on,omitempty"`
	Rejections []Rejection `json:"rejections,omitempty"`
	Breach     string      `json:"breach,omitempty"`
	// Answer is the ledger id of the last answer read for it, 0 for none.
	Answer int64 `json:"answer,omitempty"`
}

// Answered reports whether the distributor has answered the request.
func (s DistributorState) Answered() bool { return s.Status != RequestSent && s.Status != RequestPending }

// DistributorAnswer is the distributor's answer to a request, as it reaches
// every case of the request's supply point (signal distributor).
type DistributorAnswer struct {
	MessageID int64  `json:"message_id"` // ledger id of the answer: a case applies each once
	File      string `json:"file"`
	Step      string `json:"step"` // 02, 04 or 05
	Kind      string `json:"kind"` // accepted, rejected, activated, cancel_accepted
	// Date is the distributor's: FechaAceptacion, FechaRechazo or FechaActivacion.
	Date time.Time `json:"date"`
	// Request is the state of the answered request after the answer.
	Request DistributorState `json:"request"`
	// Cut is the state of the cut request of the same code, when the answer is
	// to its cancellation or reconnection.
	Cut *DistributorState `json:"cut,omitempty"`
}

// SendInput asks for the messages of a request the ledger holds and has not
// yet sent to leave.
type SendInput struct {
	Case      CaseRef `json:"case"`
	RequestID int64   `json:"request_id"`
}

// SendResult counts the messages that left.
type SendResult struct {
	Sent int `json:"sent"`
}

// RequestInput asks where a request stands.
type RequestInput struct {
	Case      CaseRef `json:"case"`
	RequestID int64   `json:"request_id"`
}

// BreachInput records the distributor's breach of the rules on a request.
type BreachInput struct {
	Case      CaseRef   `json:"case"`
	RequestID int64     `json:"request_id"`
	What      string    `json:"what"`
	At        time.Time `json:"at"`
}

// SendToDistributor hands the distributor the messages of a request that the
// ledger committed and that have not left yet. A crash between sending and
// recording sends the message again, which the distributor's side takes once
// (the same file). Without a Distributor the messages wait in the ledger.
func (a *Activities) SendToDistributor(ctx context.Context, in SendInput) (SendResult, error) {
	return SendPending(ctx, a.Store, a.Distributor, in.RequestID)
}

// SendPending sends what the ledger holds unsent of a request (all when
// requestID is 0); the worker also runs it on its own, so nothing committed
// stays behind when a case's own attempt was cut short.
func SendPending(ctx context.Context, s Store, d Distributor, requestID int64) (SendResult, error) {
	var res SendResult
	if d == nil {
		return res, nil
	}
	msgs, err := s.UnsentATR(ctx, requestID)
	if err != nil {
		return res, err
	}
	for _, m := range msgs {
		if err := d.Send(ctx, m); err != nil {
			return res, fmt.Errorf("send %s to the distributor: %w", m.FileName, err)
		}
		if err := s.MarkATRSent(ctx, m.ID); err != nil {
			return res, err
		}
		res.Sent++
	}
	return res, nil
}

// DistributorRequest says where a request to the distributor stands, for a
// case that heard nothing within its bound.
func (a *Activities) DistributorRequest(ctx context.Context, in RequestInput) (DistributorState, error) {
	return a.Store.RequestState(ctx, in.RequestID)
}

// RecordBreach records the distributor's breach of the rules on a request.
func (a *Activities) RecordBreach(ctx context.Context, in BreachInput) error {
	return a.Store.RecordBreach(ctx, in)
}
