package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
)

// ErrProofRefused marks a proof the ledger will not record, with why.
var ErrProofRefused = errors.New("proof refused")

// Proof is a proof that the formal notice of an invoice (the domestic
// requerimiento, the business cut letter) reached the customer: a qualified
// provider's certificate, or a burofax, posted letter or acknowledgement of
// receipt a clerk records with its file. The regulatory wait runs from
// ReceivedOn.
type Proof struct {
	ID         int64
	Invoice    string
	RunID      string // the run of the case whose notice it proves
	Kind       string // activities.ProofCertificate, ProofBurofax, ProofLetter, ProofAcknowledge
	ReceivedOn time.Time
	Provider   string
	FileName   string
	FileSHA256 string
	RecordedBy string
	RecordedAt time.Time
	// OutboxID and CertificateID name the certified e-mail and the provider's
	// certificate of a proof recorded on delivery.
	OutboxID      *int64
	CertificateID string
	// New is false when the ledger already held the proof.
	New bool
}

const proofColumns = `id, invoice, run_id, kind, received_on, provider, file_name, file_sha256, recorded_by, recorded_at,
	outbox_id, certificate_id`

func scanProof(row pgx.Row) (Proof, error) {
	var p Proof
	err := row.Scan(&p.ID, &p.Invoice, &p.RunID, &p.Kind, &p.ReceivedOn, &p.Provider, &p.FileName, &p.FileSHA256,
		&p.RecordedBy, &p.RecordedAt, &p.OutboxID, &p.CertificateID)
	p.ReceivedOn = madridDay(p.ReceivedOn)
	return p, err
}

// proofKinds are the kinds a clerk may record; a certificate too, when the
// provider's comes as a file.
var proofKinds = map[string]bool{
	activities.ProofCertificate: true, activities.ProofBurofax: true,
	activities.ProofLetter: true, activities.ProofAcknowledge: true,
}

// RecordProof records a proof that the formal notice of p.Invoice reached the
// customer, for the invoice's current case. The invoice must be known and
// open, and its case must have sent a formal notice (requerimiento or cut
// letter) no later than the day the proof says it was received, which cannot
// be in the future. The same file recorded again is the same proof: the stored
// one is returned, with New false. Refusals wrap ErrProofRefused.
func (s *Store) RecordProof(ctx context.Context, p Proof) (Proof, error) {
	refused := func(format string, args ...any) error {
		return fmt.Errorf("proof of invoice %s: %s: %w", p.Invoice, fmt.Sprintf(format, args...), ErrProofRefused)
	}
	p.Kind = strings.TrimSpace(p.Kind)
	p.RecordedBy = strings.TrimSpace(p.RecordedBy)
	p.FileSHA256 = strings.ToLower(strings.TrimSpace(p.FileSHA256))
	switch {
	case !proofKinds[p.Kind]:
		return Proof{}, refused("kind %q is not one of certificado, burofax, carta, acuse", p.Kind)
	case p.RecordedBy == "":
		return Proof{}, refused("who records it is not said")
	case len(p.FileSHA256) != 64 || !isHex(p.FileSHA256):
		return Proof{}, refused("the file's SHA-256 %q is not 64 hex digits", p.FileSHA256)
	}
	var received time.Time
	if !p.ReceivedOn.IsZero() {
		received = madridDay(p.ReceivedOn)
	}
	var out Proof
	err := s.inTx(ctx, "record proof of "+p.Invoice, func(tx pgx.Tx) error {
		var status, runID, workflowID string
		err := tx.QueryRow(ctx, `SELECT status, run_id, workflow_id FROM invoices WHERE invoice = $1 FOR SHARE`,
			p.Invoice).Scan(&status, &runID, &workflowID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("invoice %s: %w", p.Invoice, ErrNotFound)
		case err != nil:
			return err
		case status != "open":
			return refused("the invoice is %s in the ledger", status)
		}
		out, err = scanProof(tx.QueryRow(ctx, `SELECT `+proofColumns+` FROM notice_proofs
			WHERE invoice = $1 AND run_id = $2 AND file_sha256 = $3 ORDER BY id LIMIT 1`, p.Invoice, runID, p.FileSHA256))
		switch {
		case err == nil:
			return nil // the same file again
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		var noticeDay *time.Time
		if err := tx.QueryRow(ctx, `
			SELECT min((notice_at AT TIME ZONE 'Europe/Madrid')::date) FROM outbox
			WHERE invoice = $1 AND run_id = $2 AND kind IN ($3, $4)`,
			p.Invoice, runID, activities.KindRequerimiento, activities.KindCutLetter).Scan(&noticeDay); err != nil {
			return err
		}
		if noticeDay == nil {
			return refused("its case has sent no formal notice (requerimiento or cut letter) to prove")
		}
		first := madridDay(*noticeDay)
		today, err := s.today(ctx, tx)
		if err != nil {
			return err
		}
		if received.IsZero() {
			// Not said: today, or the notice's own day when a case on a
			// faster clock (the demo policy) dated it ahead of today.
			received = today
			if first.After(today) {
				received = first
			}
		}
		if received.Before(first) {
			return refused("received on %s, before the formal notice of %s", dmy(received), dmy(first))
		}
		if received.After(today) && received.After(first) {
			return refused("received on %s, which is after today (%s)", dmy(received), dmy(today))
		}
		out, err = scanProof(tx.QueryRow(ctx, `
			INSERT INTO notice_proofs (invoice, run_id, kind, received_on, provider, file_name, file_sha256, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT DO NOTHING
			RETURNING `+proofColumns,
			p.Invoice, runID, p.Kind, calendarDay(received), strings.TrimSpace(p.Provider), strings.TrimSpace(p.FileName),
			p.FileSHA256, p.RecordedBy))
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("the same file was recorded at the same moment: record it again")
		}
		if err != nil {
			return err
		}
		out.New = true
		c := activities.CaseRef{WorkflowID: workflowID, RunID: runID, Invoice: p.Invoice}
		return audit(ctx, tx, c, p.RecordedBy, "proof", received, map[string]any{
			"proof_id": out.ID, "kind": out.Kind, "received_on": received.Format(time.DateOnly),
			"file_name": out.FileName, "file_sha256": out.FileSHA256,
		}, auditKey(runID, p.Invoice, "proof", p.FileSHA256))
	})
	if err != nil {
		return Proof{}, err
	}
	return out, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Proofs lists the proofs recorded for an invoice, of every run, oldest first.
func (s *Store) Proofs(ctx context.Context, invoice string) ([]Proof, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+proofColumns+` FROM notice_proofs WHERE invoice = $1 ORDER BY id`, invoice)
	if err != nil {
		return nil, fmt.Errorf("proofs of invoice %s: %w", invoice, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Proof, error) { return scanProof(r) })
	if err != nil {
		return nil, fmt.Errorf("proofs of invoice %s: %w", invoice, err)
	}
	return out, nil
}

// NoticeProof says whether the formal notice of the invoice's current case is
// proven: the earliest day a proof of that case (or one recorded for no case)
// says it was received.
func (s *Store) NoticeProof(ctx context.Context, c activities.CaseRef) (activities.ProofStatus, error) {
	var runID string
	err := s.pool.QueryRow(ctx, `SELECT run_id FROM invoices WHERE invoice = $1`, c.Invoice).Scan(&runID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return activities.ProofStatus{}, nil
	case err != nil:
		return activities.ProofStatus{}, fmt.Errorf("notice proof of invoice %s: %w", c.Invoice, err)
	}
	st, err := earliestProof(ctx, s.pool, c.Invoice, runID)
	if err != nil {
		return activities.ProofStatus{}, fmt.Errorf("notice proof of invoice %s: %w", c.Invoice, err)
	}
	return st, nil
}

// earliestProof reads the earliest proof of the formal notice of an invoice's
// run (or of no run).
func earliestProof(ctx context.Context, q rowQuerier, invoice, runID string) (activities.ProofStatus, error) {
	p, err := scanProof(q.QueryRow(ctx, `SELECT `+proofColumns+` FROM notice_proofs
		WHERE invoice = $1 AND run_id IN ($2, '') ORDER BY received_on, id LIMIT 1`, invoice, runID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return activities.ProofStatus{}, nil
	case err != nil:
		return activities.ProofStatus{}, fmt.Errorf("proofs of invoice %s: %w", invoice, err)
	}
	on := p.ReceivedOn
	return activities.ProofStatus{Proven: true, ProvenOn: &on, Kind: p.Kind, Summary: proofSummary(p)}, nil
}

// proofSummary reads like "burofax recibido el 12/03/2026 (registrado por ana)".
func proofSummary(p Proof) string {
	what := map[string]string{
		activities.ProofCertificate: "certificado de entrega",
		activities.ProofBurofax:     "burofax",
		activities.ProofLetter:      "carta",
		activities.ProofAcknowledge: "acuse de recibo",
	}[p.Kind]
	if what == "" {
		what = p.Kind
	}
	if p.Provider != "" {
		what += " de " + p.Provider
	}
	return fmt.Sprintf("%s recibido el %s (registrado por %s)", what, dmy(p.ReceivedOn), p.RecordedBy)
}

// recordCertificate records the certificate a qualified provider gave of the
// delivery of a formal notice as its proof, in the transaction that marks the
// certified e-mail sent. A certificate of any other communication proves
// nothing the cut needs, and one without a delivery day cannot date the wait.
func recordCertificate(ctx context.Context, tx pgx.Tx, outboxID int64, ev activities.Evidence) error {
	cert := ev.Certificate
	if cert == nil || cert.DeliveredAt.IsZero() {
		return nil
	}
	received := madridDay(cert.DeliveredAt)
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO notice_proofs (invoice, run_id, kind, received_on, provider, recorded_by, outbox_id, certificate_id)
		SELECT invoice, run_id, $2, $3, $4, $5, id, $6 FROM outbox WHERE id = $1 AND kind IN ($7, $8)
		ON CONFLICT DO NOTHING
		RETURNING id`,
		outboxID, activities.ProofCertificate, calendarDay(received), ev.Provider, actorSystem, cert.ID,
		activities.KindRequerimiento, activities.KindCutLetter).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("certificate of outbox #%d: %w", outboxID, err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO audit (business_at, workflow_id, run_id, invoice, actor, action, detail)
		SELECT $2, workflow_id, run_id, invoice, $3, 'proof', $4 FROM outbox WHERE id = $1`,
		outboxID, cert.DeliveredAt, actorSystem, map[string]any{
			"proof_id": id, "kind": activities.ProofCertificate, "received_on": received.Format(time.DateOnly),
			"provider": ev.Provider, "certificate_id": cert.ID, "outbox_id": outboxID,
		})
	return err
}
