package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/internal/atr"
	"github.com/elega/impagos/internal/calendar"
	"github.com/elega/impagos/internal/taxid"
)

// The ledger's side of the distributor: the B1 messages a cut, a
// cancellation or a reconnection commit with their request, and the answers
// that move them.

// RefusedInvalidRequest is the reason of a cut refused because its B1 message
// cannot be written (the contract lacks what the distributor needs).
const RefusedInvalidRequest = "invalid_request"

// requestCutATR writes the B1 step 01 of a new cut: a request code of the
// ledger's own, the planned day (the day checked for the cut) and the
// customer as the contract says. A message that cannot be written refuses the
// cut: nothing leaves that the distributor would reject as malformed.
func (s *Store) requestCutATR(ctx context.Context, tx pgx.Tx, in activities.CutInput, cutID int64, day time.Time) (*activities.DistributorState, *activities.CutRefusal, error) {
	c := in.Case
	now, err := s.now(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT nextval('atr_request_code_seq')`).Scan(&seq); err != nil {
		return nil, nil, err
	}
	customer, err := atrCustomer(ctx, tx, c.Cups)
	if err != nil {
		return nil, nil, err
	}
	if customer.ID == "" {
		return nil, refuse(RefusedInvalidRequest, nil, "el contrato del CUPS %s no tiene el NIF/CIF del cliente, sin el que la distribuidora no acepta la solicitud B1", c.Cups), nil
	}
	if day.IsZero() {
		day = madridDay(in.At)
	}
	req := atr.CutRequest{
		Header:      atrHeader(in.From, c.Cups, "01", atr.NextCode(seq), now),
		Activation:  "F",
		PlannedDate: day,
		Motive:      atr.MotiveNonPayment,
		Customer:    customer,
		Comments:    "Corte por impago de la factura " + c.Invoice,
	}
	body, err := atr.MarshalCutRequest(req)
	if err != nil {
		return nil, refuse(RefusedInvalidRequest, nil, "la solicitud B1 no se puede escribir: %v", err), nil
	}
	st := activities.DistributorState{Kind: activities.RequestCut, Code: req.Code, Status: activities.RequestSent, PlannedOn: &day}
	if err := tx.QueryRow(ctx, `
		INSERT INTO distributor_requests (kind, cups, cut_id, invoice, workflow_id, run_id, requested_at,
			code, distributor, planned_on, status)
		VALUES ('cut', $1, $2, $3, $4, $5, $6, $7, $8, $9, 'sent') RETURNING id`,
		c.Cups, cutID, c.Invoice, c.WorkflowID, c.RunID, in.At, req.Code, req.To, day).Scan(&st.RequestID); err != nil {
		return nil, nil, err
	}
	if err := putATR(ctx, tx, "out", st.RequestID, atr.Message{Header: req.Header, Kind: atr.CutRequested}, body); err != nil {
		return nil, nil, err
	}
	return &st, nil, nil
}

// releaseATR writes the B1 step 03 of a cut: its cancellation while the cut
// was not executed, the request to restore the supply after. A cut requested
// before ATR has no code: its release is a row nothing sends, as it was.
func (s *Store) releaseATR(ctx context.Context, tx pgx.Tx, c activities.CaseRef, cutID int64, from string, dueBy time.Time) (string, *activities.DistributorState, error) {
	var code, distributor, status string
	err := tx.QueryRow(ctx, `
		SELECT COALESCE(code, ''), distributor, status FROM distributor_requests
		WHERE cut_id = $1 AND kind = 'cut'`, cutID).Scan(&code, &distributor, &status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", nil, err
	}
	kind := activities.RequestReconnect
	var executed *time.Time
	if err := tx.QueryRow(ctx, `SELECT executed_on FROM cuts WHERE id = $1`, cutID).Scan(&executed); err != nil {
		return "", nil, err
	}
	if code != "" && executed == nil {
		kind = activities.RequestCancel
	}
	if _, err := tx.Exec(ctx, `
		UPDATE cuts SET ended_at = now(), outcome = $2,
			reconnection_requested_at = CASE WHEN $2 = 'reconnect' THEN now() END
		WHERE id = $1`, cutID, kind); err != nil {
		return "", nil, err
	}
	if code == "" {
		_, err := tx.Exec(ctx, `
			INSERT INTO distributor_requests (kind, cups, cut_id, invoice, workflow_id, run_id, requested_at, due_by)
			VALUES ('reconnect', $1, $2, $3, $4, $5, now(), $6)
			ON CONFLICT (cut_id, kind) DO NOTHING`,
			c.Cups, cutID, c.Invoice, c.WorkflowID, c.RunID, nullTime(dueBy))
		return kind, nil, err
	}
	now, err := s.now(ctx, tx)
	if err != nil {
		return "", nil, err
	}
	h := atrHeader(from, c.Cups, "03", code, now)
	body, err := atr.MarshalCancel(atr.Cancel{Header: h})
	if err != nil {
		return "", nil, fmt.Errorf("B1 step 03 of %s: %w", code, err)
	}
	st := activities.DistributorState{Kind: kind, Code: code, Status: activities.RequestSent}
	if err := tx.QueryRow(ctx, `
		INSERT INTO distributor_requests (kind, cups, cut_id, invoice, workflow_id, run_id, requested_at, due_by,
			code, distributor, status)
		VALUES ($1, $2, $3, $4, $5, $6, now(), $7, $8, $9, 'sent') RETURNING id`,
		kind, c.Cups, cutID, c.Invoice, c.WorkflowID, c.RunID, nullTime(dueBy), code, distributor).Scan(&st.RequestID); err != nil {
		return "", nil, err
	}
	if err := putATR(ctx, tx, "out", st.RequestID, atr.Message{Header: h, Kind: atr.CancelRequested}, body); err != nil {
		return "", nil, err
	}
	return kind, &st, nil
}

func atrHeader(from, cups, step, code string, at time.Time) atr.Header {
	to := ""
	if len(cups) >= 6 {
		to = cups[2:6]
	}
	return atr.Header{From: from, To: to, Process: atr.ProcessB1, Step: step, Code: code, Seq: "01",
		RequestedAt: at.In(calendar.Madrid), CUPS: cups}
}

// atrCustomer is the customer of the supply point as a B1 request names it.
// A name is split as Spanish names are written: the given name(s), then the
// two surnames.
func atrCustomer(ctx context.Context, tx pgx.Tx, cups string) (atr.Customer, error) {
	var name, tax, segment, phone, email string
	err := tx.QueryRow(ctx, `SELECT customer, tax_id, segment, phone, email FROM contracts WHERE cups = $1`, cups).
		Scan(&name, &tax, &segment, &phone, &email)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return atr.Customer{}, err
	}
	k := atr.Customer{IDType: "NI", ID: tax, Email: email, PersonType: "F"}
	if n, kind, err := taxid.Validate(tax); err == nil {
		k.ID = n
		if kind == "NIE" {
			k.IDType = "NE"
		}
		if kind == "CIF" {
			k.PersonType = "J"
		}
	}
	if segment == activities.SegmentBusiness {
		k.PersonType = "J"
	}
	if k.PersonType == "J" {
		k.BusinessName = name
	} else {
		words := strings.Fields(name)
		switch len(words) {
		case 0:
		case 1:
			k.GivenName = words[0]
		case 2:
			k.GivenName, k.FirstSurname = words[0], words[1]
		default:
			n := len(words)
			k.GivenName = strings.Join(words[:n-2], " ")
			k.FirstSurname, k.SecondSurname = words[n-2], words[n-1]
		}
	}
	if p := strings.TrimPrefix(strings.ReplaceAll(phone, " ", ""), "+34"); p != "" {
		k.Phones = []atr.Phone{{CountryPrefix: "34", Number: p}}
	}
	return k, nil
}

// putATR records a message of a request, once per file name.
func putATR(ctx context.Context, tx pgx.Tx, direction string, requestID int64, m atr.Message, body []byte) error {
	sum := sha256.Sum256(body)
	_, err := tx.Exec(ctx, `
		INSERT INTO atr_messages (direction, request_id, process, step, code, kind, cups, file_name, body, sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		direction, requestID, m.Process, m.Step, m.Code, string(m.Kind), m.CUPS, atr.FileName(m.Header), body,
		hex.EncodeToString(sum[:]))
	return err
}

// UnsentATR lists the outgoing messages the ledger holds and has not yet
// handed to the distributor: those of one request, or all when requestID is 0.
func (s *Store) UnsentATR(ctx context.Context, requestID int64) ([]activities.DistributorMessage, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, file_name, body FROM atr_messages
		WHERE direction = 'out' AND sent_at IS NULL AND ($1 = 0 OR request_id = $1)
		ORDER BY id`, requestID)
	if err != nil {
		return nil, fmt.Errorf("unsent ATR messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activities.DistributorMessage, error) {
		var m activities.DistributorMessage
		err := r.Scan(&m.ID, &m.FileName, &m.Body)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("unsent ATR messages: %w", err)
	}
	return out, nil
}

// MarkATRSent records that the outgoing message left.
func (s *Store) MarkATRSent(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE atr_messages SET sent_at = COALESCE(sent_at, now()) WHERE id = $1`, id); err != nil {
		return fmt.Errorf("ATR message %d sent: %w", id, err)
	}
	return nil
}

// ATRFileError refuses a file of the distributor: it names the file, the
// element and why. Nothing of a refused file is recorded.
type ATRFileError struct {
	File, Element, Reason string
}

func (e *ATRFileError) Error() string {
	if e.Element == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Element, e.Reason)
}

// ATRDelivery is an answer of the distributor and the cases it must reach.
type ATRDelivery struct {
	Answer activities.DistributorAnswer
	// Duplicate is true when the same file had been read before.
	Duplicate bool
	// WorkflowIDs are the cases of the request's supply point to tell.
	WorkflowIDs []string
	Delivered   bool
}

// RecordATRAnswer reads an answer of the distributor (B1 steps 02, 04, 05)
// and records it with the request it answers, in one transaction: the file
// is parsed strictly, must answer a request of ours with its code, supply
// point and distributor, and moves the request forward only (an answer that
// would take it back is refused). A file read before is not applied twice.
// A refusal is an *ATRFileError.
func (s *Store) RecordATRAnswer(ctx context.Context, file string, body []byte) (ATRDelivery, error) {
	m, err := atr.Parse(body)
	if err != nil {
		var pe *atr.Error
		if errors.As(err, &pe) {
			return ATRDelivery{}, &ATRFileError{File: file, Element: pe.Element, Reason: pe.Reason}
		}
		return ATRDelivery{}, &ATRFileError{File: file, Reason: err.Error()}
	}
	refused := func(element, format string, args ...any) (ATRDelivery, error) {
		return ATRDelivery{}, &ATRFileError{File: file, Element: element, Reason: fmt.Sprintf(format, args...)}
	}
	var kind string
	switch {
	case m.Step == "02" && (m.Kind == atr.Accepted || m.Kind == atr.Rejected), m.Step == "05" && m.Kind == atr.Activated,
		m.Step == "07" && m.Kind == atr.Rejected: // 07: refused after the field work
		kind = activities.RequestCut
	case m.Step == "04" && (m.Kind == atr.CancelAccepted || m.Kind == atr.Rejected):
	default:
		return refused("CodigoDePaso", "paso %s (%s) no es una respuesta de la distribuidora", m.Step, m.Kind)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	var d ATRDelivery
	var refusal *ATRFileError
	err = s.inTx(ctx, "ATR answer "+file, func(tx pgx.Tx) error {
		d, refusal = ATRDelivery{}, nil
		var msgID int64
		err := tx.QueryRow(ctx, `SELECT id FROM atr_messages WHERE direction = 'in' AND sha256 = $1`, hash).Scan(&msgID)
		if err == nil {
			d.Duplicate = true
			var derr error
			d, derr = delivery(ctx, tx, msgID)
			d.Duplicate = true
			return derr
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// The ledger keeps one answer per step and sequence of a request: another
		// file saying something else of the same step is for a person to read.
		var earlier string
		err = tx.QueryRow(ctx, `SELECT file_name FROM atr_messages WHERE direction = 'in' AND file_name = $1`,
			atr.FileName(m.Header)).Scan(&earlier)
		if err == nil {
			refusal = &ATRFileError{File: file, Element: "SecuencialDeSolicitud", Reason: fmt.Sprintf(
				"la solicitud %s ya tiene otra respuesta distinta al paso %s con el secuencial %s (%s)", m.Code, m.Step, m.Seq, earlier)}
			return errRefused
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var id, cutID int64
		var cups, distributor, status string
		q := `SELECT id, cut_id, cups, distributor, status FROM distributor_requests
			WHERE code = $1 AND (kind = $2 OR ($2 = '' AND kind IN ('cancel', 'reconnect')))`
		err = tx.QueryRow(ctx, q, m.Code, kind).Scan(&id, &cutID, &cups, &distributor, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			refusal = &ATRFileError{File: file, Element: "CodigoDeSolicitud", Reason: fmt.Sprintf("ninguna solicitud nuestra con el código %s responde al paso %s", m.Code, m.Step)}
			return errRefused
		}
		if err != nil {
			return err
		}
		switch {
		case m.CUPS != cups:
			refusal = &ATRFileError{File: file, Element: "CUPS", Reason: fmt.Sprintf("%s no es el CUPS de la solicitud %s (%s)", m.CUPS, m.Code, cups)}
		case m.From != distributor:
			refusal = &ATRFileError{File: file, Element: "CodigoREEEmpresaEmisora", Reason: fmt.Sprintf("%s no es la distribuidora de la solicitud %s (%s)", m.From, m.Code, distributor)}
		}
		if refusal != nil {
			return errRefused
		}
		if err := lockSupplyPoint(ctx, tx, cups); err != nil {
			return err
		}
		next, r := nextStatus(status, m)
		if r != "" {
			refusal = &ATRFileError{File: file, Element: "CodigoDePaso", Reason: r}
			return errRefused
		}
		if err := applyAnswer(ctx, tx, id, cutID, cups, next, m); err != nil {
			return err
		}
		if err := putATR(ctx, tx, "in", id, m, body); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT id FROM atr_messages WHERE direction = 'in' AND sha256 = $1`, hash).Scan(&msgID); err != nil {
			return err
		}
		d, err = delivery(ctx, tx, msgID)
		if err != nil {
			return err
		}
		return audit(ctx, tx, activities.CaseRef{Invoice: firstInvoice(ctx, tx, id), Cups: cups}, "distribuidora",
			"atr_answer", m.Date, map[string]any{
				"file": file, "step": m.Step, "kind": string(m.Kind), "code": m.Code, "status": next,
				"rejections": m.Rejections,
			}, "")
	})
	if refusal != nil {
		return ATRDelivery{}, refusal
	}
	return d, err
}

// nextStatus is where an answer takes a request; an answer that would take it
// back is refused with why.
func nextStatus(status string, m atr.Message) (string, string) {
	switch {
	case m.Kind == atr.Accepted || m.Kind == atr.CancelAccepted:
		switch status {
		case activities.RequestSent:
			return activities.RequestAccepted, ""
		case activities.RequestAccepted, activities.RequestExecuted:
			return status, "" // repeated, or after the 05: recorded, nothing moves
		}
	case m.Kind == atr.Rejected:
		if status == activities.RequestSent || status == activities.RequestAccepted {
			return activities.RequestRejected, ""
		}
	case m.Kind == atr.Activated:
		if status == activities.RequestSent || status == activities.RequestAccepted || status == activities.RequestExecuted {
			return activities.RequestExecuted, ""
		}
	}
	return "", fmt.Sprintf("la solicitud %s está %s: un paso %s (%s) no cabe", m.Code, status, m.Step, m.Kind)
}

// applyAnswer moves the request and its cut as the answer says.
func applyAnswer(ctx context.Context, tx pgx.Tx, id, cutID int64, cups, next string, m atr.Message) error {
	rejections := make([]activities.Rejection, 0, len(m.Rejections))
	for _, r := range m.Rejections {
		rejections = append(rejections, activities.Rejection{Code: r.Code, Text: firstNonEmpty(atr.CodeText(r.Code), r.Comment), Class: string(atr.Classify(r.Code))})
	}
	rj, err := json.Marshal(rejections)
	if err != nil {
		return err
	}
	var planned, executed *time.Time
	if m.PlannedActivation != nil {
		planned = m.PlannedActivation
	}
	if m.Kind == atr.Activated {
		executed = &m.Date
	}
	if _, err := tx.Exec(ctx, `
		UPDATE distributor_requests SET status = $2,
			planned_on = COALESCE($3, planned_on),
			answered_on = CASE WHEN $4 THEN $5 ELSE answered_on END,
			executed_on = COALESCE($6, executed_on),
			rejections = CASE WHEN $7 THEN $8::jsonb ELSE rejections END,
			answered_at = now()
		WHERE id = $1`, id, next, planned, m.Kind != atr.Activated, m.Date, executed,
		m.Kind == atr.Rejected, rj); err != nil {
		return err
	}
	switch {
	case m.Kind == atr.Activated:
		_, err = tx.Exec(ctx, `UPDATE cuts SET executed_on = $2 WHERE id = $1`, cutID, m.Date)
	case m.Kind == atr.Rejected && m.Step != "04":
		class := atr.ClassOther
		for _, r := range m.Rejections {
			if c := atr.Classify(r.Code); c == atr.ClassNeverCut || (c == atr.ClassAlreadyCut && class != atr.ClassNeverCut) {
				class = c
			}
		}
		switch class {
		case atr.ClassAlreadyCut:
			// The supply point is cut already: this cut stands for it, as of
			// the day the distributor says so.
			_, err = tx.Exec(ctx, `UPDATE cuts SET executed_on = COALESCE(executed_on, $2) WHERE id = $1`, cutID, m.Date)
		case atr.ClassNeverCut:
			if _, err = tx.Exec(ctx, `UPDATE cuts SET ended_at = now(), outcome = 'rejected' WHERE id = $1 AND ended_at IS NULL`, cutID); err != nil {
				return err
			}
			var why []string
			for _, r := range rejections {
				why = append(why, r.Code+" "+r.Text)
			}
			_, err = tx.Exec(ctx, `UPDATE supply_points SET protection = $2, protection_at = now() WHERE cups = $1`,
				cups, "la distribuidora rechaza el corte: "+strings.Join(why, "; "))
		default:
			_, err = tx.Exec(ctx, `UPDATE cuts SET ended_at = now(), outcome = 'rejected' WHERE id = $1 AND ended_at IS NULL`, cutID)
		}
	}
	return err
}

// delivery rebuilds an answer and the cases to tell from the ledger.
func delivery(ctx context.Context, tx pgx.Tx, msgID int64) (ATRDelivery, error) {
	var d ATRDelivery
	var requestID, cutID int64
	var body []byte
	var delivered *time.Time
	if err := tx.QueryRow(ctx, `
		SELECT m.request_id, r.cut_id, m.file_name, m.body, m.delivered_at
		FROM atr_messages m JOIN distributor_requests r ON r.id = m.request_id WHERE m.id = $1`, msgID).
		Scan(&requestID, &cutID, &d.Answer.File, &body, &delivered); err != nil {
		return d, err
	}
	m, err := atr.Parse(body)
	if err != nil {
		return d, fmt.Errorf("ATR message %d no longer parses: %w", msgID, err)
	}
	d.Delivered = delivered != nil
	d.Answer.MessageID, d.Answer.Step, d.Answer.Kind, d.Answer.Date = msgID, m.Step, string(m.Kind), m.Date
	if d.Answer.Request, err = requestState(ctx, tx, requestID); err != nil {
		return d, err
	}
	if d.Answer.Request.Kind != activities.RequestCut {
		var cutReq int64
		if err := tx.QueryRow(ctx, `SELECT id FROM distributor_requests WHERE cut_id = $1 AND kind = 'cut'`, cutID).Scan(&cutReq); err != nil {
			return d, err
		}
		st, err := requestState(ctx, tx, cutReq)
		if err != nil {
			return d, err
		}
		d.Answer.Cut = &st
	}
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT i.workflow_id FROM cut_invoices ci JOIN invoices i ON i.invoice = ci.invoice
		WHERE ci.cut_id = $1 AND i.workflow_id <> ''
		UNION SELECT workflow_id FROM distributor_requests WHERE id = $2 AND workflow_id <> ''
		ORDER BY 1`, cutID, requestID)
	if err != nil {
		return d, err
	}
	d.WorkflowIDs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return d, err
}

func firstInvoice(ctx context.Context, tx pgx.Tx, requestID int64) string {
	var inv string
	_ = tx.QueryRow(ctx, `SELECT invoice FROM distributor_requests WHERE id = $1`, requestID).Scan(&inv)
	return inv
}

// requestState reads where a request stands.
func requestState(ctx context.Context, q rowQuerier, id int64) (activities.DistributorState, error) {
	st := activities.DistributorState{RequestID: id}
	var rj []byte
	err := q.QueryRow(ctx, `
		SELECT kind, COALESCE(code, ''), status, planned_on, answered_on, executed_on, rejections, breach,
			COALESCE((SELECT max(id) FROM atr_messages WHERE request_id = r.id AND direction = 'in'), 0)
		FROM distributor_requests r WHERE id = $1`, id).Scan(
		&st.Kind, &st.Code, &st.Status, &st.PlannedOn, &st.AnsweredOn, &st.ExecutedOn, &rj, &st.Breach, &st.Answer)
	if err != nil {
		return st, fmt.Errorf("distributor request %d: %w", id, err)
	}
	for _, t := range []*time.Time{st.PlannedOn, st.AnsweredOn, st.ExecutedOn} {
		if t != nil {
			*t = dateInMadrid(*t)
		}
	}
	if err := json.Unmarshal(rj, &st.Rejections); err != nil {
		return st, fmt.Errorf("distributor request %d: rejections: %w", id, err)
	}
	return st, nil
}

// dateInMadrid reads a date column as that day at midnight in Madrid.
func dateInMadrid(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, calendar.Madrid)
}

// RequestState says where a request to the distributor stands.
func (s *Store) RequestState(ctx context.Context, id int64) (activities.DistributorState, error) {
	return requestState(ctx, s.pool, id)
}

// MarkATRDelivered records that every case of an answer was told.
func (s *Store) MarkATRDelivered(ctx context.Context, msgID int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE atr_messages SET delivered_at = COALESCE(delivered_at, now()) WHERE id = $1`, msgID); err != nil {
		return fmt.Errorf("ATR answer %d delivered: %w", msgID, err)
	}
	return nil
}

// UndeliveredATR lists the answers recorded whose cases were not all told.
func (s *Store) UndeliveredATR(ctx context.Context) ([]ATRDelivery, error) {
	var out []ATRDelivery
	err := s.inTx(ctx, "undelivered ATR answers", func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id FROM atr_messages WHERE direction = 'in' AND delivered_at IS NULL ORDER BY id`)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := delivery(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// RecordATRRejectedFile keeps a file of the distributor that could not be
// taken, with why, once per content.
func (s *Store) RecordATRRejectedFile(ctx context.Context, file string, body []byte, reason string) error {
	sum := sha256.Sum256(body)
	_, err := s.pool.Exec(ctx, `
		INSERT INTO atr_rejected_files (file_name, sha256, reason) VALUES ($1, $2, $3)
		ON CONFLICT (sha256) DO NOTHING`, file, hex.EncodeToString(sum[:]), reason)
	if err != nil {
		return fmt.Errorf("rejected ATR file %s: %w", file, err)
	}
	return nil
}

// RecordBreach records the distributor's breach of the rules on a request
// (a cut executed on a day no cut is allowed), once per request.
func (s *Store) RecordBreach(ctx context.Context, in activities.BreachInput) error {
	return s.inTx(ctx, "breach of request "+fmt.Sprint(in.RequestID), func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE distributor_requests SET breach = $2 WHERE id = $1 AND breach = ''`, in.RequestID, in.What)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return audit(ctx, tx, in.Case, "distribuidora", "distributor_breach", in.At,
			map[string]any{"request_id": in.RequestID, "what": in.What}, auditKey("breach", fmt.Sprint(in.RequestID)))
	})
}

// DistributorAlerts lists, for the cuts desk, the distributor's breaches
// recorded in the last week and the reconnections it has not accepted by
// their due time (the end of the day after the payment).
func (s *Store) DistributorAlerts(ctx context.Context) ([]activities.DistributorAlert, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT 'breach', cups, invoice, COALESCE(code, ''), breach, COALESCE(answered_at, requested_at)
		FROM distributor_requests WHERE breach <> '' AND COALESCE(answered_at, requested_at) > now() - interval '7 days'
		UNION ALL
		SELECT 'reconnect_overdue', cups, invoice, COALESCE(code, ''),
			'debía aceptarse antes del ' || to_char(due_by AT TIME ZONE 'Europe/Madrid', 'DD/MM/YYYY HH24:MI'), due_by
		FROM distributor_requests WHERE kind = 'reconnect' AND status = 'sent' AND code IS NOT NULL AND due_by < now()
		ORDER BY 6, 3`)
	if err != nil {
		return nil, fmt.Errorf("distributor alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (activities.DistributorAlert, error) {
		var al activities.DistributorAlert
		err := r.Scan(&al.Kind, &al.Cups, &al.Invoice, &al.Code, &al.What, &al.At)
		return al, err
	})
	if err != nil {
		return nil, fmt.Errorf("distributor alerts: %w", err)
	}
	return out, nil
}
