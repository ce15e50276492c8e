package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Statuses of a bank's return in the ledger.
const (
	// ReturnUnmatched: no invoice could be read from it; kept with all it carries.
	ReturnUnmatched = "unmatched"
	// ReturnPending: its invoice is known but not its supply point: it starts
	// when a contract with its mandate or account arrives.
	ReturnPending = "pending"
	// ReturnStarted: a new return of the invoice; its case is started.
	ReturnStarted = "started"
	// ReturnKnown: the invoice's return is already in the ledger (its case is
	// open, or TRADE's export of the same return came first); the reason is
	// to be told to the case.
	ReturnKnown = "known"
	// ReturnSent: the open case was told the reason.
	ReturnSent = "sent"
)

// SameReturnDays is how far apart the bank's and TRADE's dates of one return
// may be: within it, a return of the same invoice from the other source is
// the same return, not a new one.
const SameReturnDays = 15

// BankFile is a bank's return file as the ledger keeps it.
type BankFile struct {
	SHA256    string
	Name      string
	Format    string
	MessageID string
	CreatedAt time.Time
	Returns   int
	Rejected  int
}

// BankReturn is one return of a bank's file, as the ledger keeps it.
type BankReturn struct {
	ID          int64      `json:"id"`
	EndToEndID  string     `json:"end_to_end_id"`
	MandateID   string     `json:"mandate_id,omitempty"`
	AmountCents int64      `json:"amount_cents"`
	DebtorName  string     `json:"debtor_name,omitempty"`
	DebtorIBAN  string     `json:"debtor_iban,omitempty"`
	IBANOK      bool       `json:"iban_ok"`
	RequestedOn *time.Time `json:"requested_on,omitempty"`
	ReturnedOn  time.Time  `json:"returned_on"`
	Reason      string     `json:"reason"`
	Originator  string     `json:"originator,omitempty"`
	Path        string     `json:"path"`
	Invoice     string     `json:"invoice,omitempty"`
	Cups        string     `json:"cups,omitempty"`
	Customer    string     `json:"customer,omitempty"`
	Status      string     `json:"status"`
	Detail      string     `json:"detail,omitempty"`
	Where       string     `json:"where,omitempty"`
	File        string     `json:"file,omitempty"` // the file's message id
	// Candidate is the invoice the configured pattern reads from the
	// end-to-end id or the mandate; the end-to-end id itself wins when it is
	// an invoice the ledger knows. Not stored.
	Candidate string `json:"-"`
	// New is true when this import stored it; false when the ledger had it
	// from an earlier file. Not stored.
	New bool `json:"new"`
}

// BankImport is what the ledger made of a bank's file.
type BankImport struct {
	// Known is true when the same file (by its hash) was imported before:
	// nothing more was stored.
	Known   bool
	Returns []BankReturn
}

// ImportBankFile stores a bank's return file and its returns in one
// transaction and decides what each return is: matched to its invoice (the
// end-to-end id when the ledger knows that invoice, else the candidate the
// pattern read), with the supply point and customer of the invoice already in
// the ledger or of the contract whose mandate or account it names. A matched
// return with a supply point is a new return of the invoice (stored with the
// TRADE exports' returns; its case is to start) unless the invoice's return
// is already open or TRADE gave the same one (known: its case is to be told);
// without a supply point it waits (pending); without an invoice it is kept
// unmatched. A return the ledger has from an earlier file is given back as it
// stands, with New false.
func (s *Store) ImportBankFile(ctx context.Context, f BankFile, rets []BankReturn) (BankImport, error) {
	var res BankImport
	err := s.inTx(ctx, "import bank file", func(tx pgx.Tx) error {
		res = BankImport{}
		var fileID int64
		err := tx.QueryRow(ctx, `
			INSERT INTO bank_files (sha256, name, format, message_id, created_at, returns, rejected)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (sha256) DO NOTHING RETURNING id`,
			f.SHA256, f.Name, f.Format, f.MessageID, nullTime(f.CreatedAt), f.Returns, f.Rejected).Scan(&fileID)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Known = true
			err = tx.QueryRow(ctx, `SELECT id FROM bank_files WHERE sha256 = $1`, f.SHA256).Scan(&fileID)
		}
		if err != nil {
			return err
		}
		for _, r := range rets {
			r.File = f.MessageID
			if err := matchReturn(ctx, tx, &r); err != nil {
				return fmt.Errorf("%s: %w", r.Where, err)
			}
			stored, err := putBankReturn(ctx, tx, fileID, r)
			if err != nil {
				return fmt.Errorf("%s: %w", r.Where, err)
			}
			res.Returns = append(res.Returns, stored)
		}
		return nil
	})
	return res, err
}

// matchReturn finds the invoice, supply point and customer of a return and
// sets its status (before it is stored).
func matchReturn(ctx context.Context, tx pgx.Tx, r *BankReturn) error {
	var known bool
	if err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM invoices WHERE invoice = $1) OR EXISTS (SELECT 1 FROM returns WHERE invoice = $1)`,
		r.EndToEndID).Scan(&known); err != nil {
		return err
	}
	switch {
	case known:
		r.Invoice = r.EndToEndID
	case r.Candidate != "":
		r.Invoice = r.Candidate
	default:
		r.Status, r.Detail = ReturnUnmatched, "no invoice in the end-to-end id or the mandate"
		return nil
	}
	return placeReturn(ctx, tx, r)
}

// placeReturn gives a matched return its supply point and customer and says
// whether it is a new return of its invoice.
func placeReturn(ctx context.Context, tx pgx.Tx, r *BankReturn) error {
	var cups, customer, from string
	err := tx.QueryRow(ctx, `
		SELECT cups, customer, src FROM (
			SELECT cups, customer, 'invoice' AS src, 1 AS rank, now() AS at FROM invoices WHERE invoice = $1 AND cups <> ''
			UNION ALL
			SELECT cups, customer, 'invoice', 2, imported_at FROM returns WHERE invoice = $1 AND cups <> ''
			UNION ALL
			SELECT cups, customer, 'mandate', 3, updated_at FROM contracts WHERE $2 <> '' AND mandate_id = $2
			UNION ALL
			SELECT cups, customer, 'account', 4, updated_at FROM contracts WHERE $3 <> '' AND iban = $3
		) c ORDER BY rank, at DESC LIMIT 1`, r.Invoice, r.MandateID, r.DebtorIBAN).Scan(&cups, &customer, &from)
	if errors.Is(err, pgx.ErrNoRows) {
		r.Status, r.Detail = ReturnPending, "no supply point: no invoice in the ledger and no contract with its mandate or account"
		return nil
	}
	if err != nil {
		return err
	}
	r.Cups, r.Customer = cups, customer
	if r.Customer == "" {
		r.Customer = r.DebtorName
	}
	if from == "account" {
		// An account may pay several supply points: only one names it.
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM contracts WHERE iban = $1`, r.DebtorIBAN).Scan(&n); err != nil {
			return err
		}
		if n > 1 {
			r.Cups, r.Customer = "", ""
			r.Status, r.Detail = ReturnPending, fmt.Sprintf("the account pays %d supply points: which one is for a person to say", n)
			return nil
		}
	}
	var open bool
	if err := tx.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM invoices WHERE invoice = $1 AND status = 'open') OR EXISTS (
			SELECT 1 FROM returns r LEFT JOIN invoices i ON i.invoice = r.invoice
			WHERE r.invoice = $1
			  AND (i.invoice IS NULL OR i.status = 'open' OR i.opened_at < r.imported_at
			       OR abs(COALESCE(r.returned_on, $2::date) - $2::date) <= $3))`,
		r.Invoice, r.ReturnedOn, SameReturnDays).Scan(&open); err != nil {
		return err
	}
	if open {
		r.Status, r.Detail = ReturnKnown, "the invoice's return is already in the ledger: its case is told the reason"
		return nil
	}
	r.Status, r.Detail = ReturnStarted, "new return: its case starts (supply point from the "+from+")"
	_, err = tx.Exec(ctx, `
		INSERT INTO returns (invoice, returned_on, customer, cups, amount_cents, source_file, source, reason)
		VALUES ($1, $2, $3, $4, $5, $6, 'bank', $7)
		ON CONFLICT (invoice, (COALESCE(returned_on, '-infinity'::date))) DO NOTHING`,
		r.Invoice, r.ReturnedOn, r.Customer, r.Cups, r.AmountCents, r.File, r.Reason)
	return err
}

// putBankReturn stores a return, or gives back the one the ledger has.
func putBankReturn(ctx context.Context, tx pgx.Tx, fileID int64, r BankReturn) (BankReturn, error) {
	err := tx.QueryRow(ctx, `
		INSERT INTO bank_returns (file_id, end_to_end_id, mandate_id, amount_cents, debtor_name, debtor_iban, iban_ok,
			requested_on, returned_on, reason, originator, path, invoice, cups, customer, status, detail, source_where)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (end_to_end_id, mandate_id, returned_on, amount_cents, reason) DO NOTHING
		RETURNING id`,
		fileID, r.EndToEndID, r.MandateID, r.AmountCents, r.DebtorName, r.DebtorIBAN, r.IBANOK,
		r.RequestedOn, r.ReturnedOn, r.Reason, r.Originator, r.Path, r.Invoice, r.Cups, r.Customer,
		r.Status, r.Detail, r.Where).Scan(&r.ID)
	if err == nil {
		r.New = true
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return BankReturn{}, err
	}
	rows, err := tx.Query(ctx, bankReturnSelect+`
		WHERE b.end_to_end_id = $1 AND b.mandate_id = $2 AND b.returned_on = $3 AND b.amount_cents = $4 AND b.reason = $5`,
		r.EndToEndID, r.MandateID, r.ReturnedOn, r.AmountCents, r.Reason)
	if err != nil {
		return BankReturn{}, err
	}
	return pgx.CollectExactlyOneRow(rows, scanBankReturn)
}

const bankReturnSelect = `
	SELECT b.id, b.end_to_end_id, b.mandate_id, b.amount_cents, b.debtor_name, b.debtor_iban, b.iban_ok,
	       b.requested_on, b.returned_on, b.reason, b.originator, b.path, b.invoice, b.cups, b.customer,
	       b.status, b.detail, b.source_where, f.message_id
	FROM bank_returns b JOIN bank_files f ON f.id = b.file_id`

func scanBankReturn(row pgx.CollectableRow) (BankReturn, error) {
	var r BankReturn
	var requested *time.Time
	err := row.Scan(&r.ID, &r.EndToEndID, &r.MandateID, &r.AmountCents, &r.DebtorName, &r.DebtorIBAN, &r.IBANOK,
		&requested, &r.ReturnedOn, &r.Reason, &r.Originator, &r.Path, &r.Invoice, &r.Cups, &r.Customer,
		&r.Status, &r.Detail, &r.Where, &r.File)
	r.RequestedOn = requested
	return r, err
}

// MarkBankReturn records what became of a return: told to its case (sent),
// or why not (detail).
func (s *Store) MarkBankReturn(ctx context.Context, id int64, status, detail string) error {
	_, err := s.pool.Exec(ctx, `UPDATE bank_returns SET status = $2, detail = $3, updated_at = now() WHERE id = $1`, id, status, detail)
	if err != nil {
		return fmt.Errorf("bank return %d: %w", id, err)
	}
	return nil
}

// PendingBankReturns lists the returns that started nothing yet: those
// waiting for a supply point and those matched to no invoice.
func (s *Store) PendingBankReturns(ctx context.Context) ([]BankReturn, error) {
	rows, err := s.pool.Query(ctx, bankReturnSelect+`
		WHERE b.status IN ('pending', 'unmatched') ORDER BY b.status, b.returned_on, b.id`)
	if err != nil {
		return nil, fmt.Errorf("pending bank returns: %w", err)
	}
	return pgx.CollectRows(rows, scanBankReturn)
}

// ResolvePendingReturns looks again for the supply point of every pending
// return (after a contracts import) and gives back those it placed: started
// (a new return of the invoice, whose case is to start) or known (the case
// is to be told).
func (s *Store) ResolvePendingReturns(ctx context.Context) ([]BankReturn, error) {
	var placed []BankReturn
	err := s.inTx(ctx, "resolve pending bank returns", func(tx pgx.Tx) error {
		placed = placed[:0]
		rows, err := tx.Query(ctx, bankReturnSelect+` WHERE b.status = 'pending' ORDER BY b.id FOR UPDATE OF b`)
		if err != nil {
			return err
		}
		pending, err := pgx.CollectRows(rows, scanBankReturn)
		if err != nil {
			return err
		}
		for _, r := range pending {
			if err := placeReturn(ctx, tx, &r); err != nil {
				return fmt.Errorf("bank return %d: %w", r.ID, err)
			}
			if r.Status == ReturnPending {
				continue
			}
			if _, err := tx.Exec(ctx, `
				UPDATE bank_returns SET cups = $2, customer = $3, status = $4, detail = $5, updated_at = now() WHERE id = $1`,
				r.ID, r.Cups, r.Customer, r.Status, r.Detail); err != nil {
				return err
			}
			r.New = true
			placed = append(placed, r)
		}
		return nil
	})
	return placed, err
}

// BankReturnsOf lists the returns of the given invoices the banks' files
// carried, newest first per invoice.
func (s *Store) BankReturnsOf(ctx context.Context, invoices []string) ([]BankReturn, error) {
	rows, err := s.pool.Query(ctx, bankReturnSelect+`
		WHERE b.invoice = ANY($1) ORDER BY b.invoice, b.returned_on DESC, b.id DESC`, invoices)
	if err != nil {
		return nil, fmt.Errorf("bank returns: %w", err)
	}
	return pgx.CollectRows(rows, scanBankReturn)
}
