package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elega/impagos/activities"
	"github.com/elega/impagos/workflows"
)

// paymentLockClass is the first key of the advisory locks that make the
// reports of one payment reference take turns (the second is the reference's
// hash), so that a payment reported by signal and by import at the same
// moment, under the two forms of its key, is still stored once.
const paymentLockClass = 7301

// newPayment is a payment about to enter the ledger.
type newPayment struct {
	Key         string
	Invoice     string
	PaidAt      time.Time
	AmountCents int64
	Method      string
	Reference   string
	Source      string // signal, import
	SourceFile  string
	SourceRow   int
}

// putPayment stores p once and returns the key the ledger holds it under and
// whether it is new. A key of PaymentKeyOf's form ("ref:R|INVOICE|DAY|CENTS")
// is the payment that the older form of its key ("ref:R", PaymentKey's)
// already records for the same invoice and amount, and the other way round:
// a workbook imported before keys named the invoice is not counted twice when
// imported again, nor a payment a case still keys the old way. The day is left
// out of that match because the old key had none: a clerk's paid signal dated
// today and the workbook's row dated the day of the transfer are one payment.
// A key that names another invoice or amount is a *activities.PaymentRefusal.
// The caller holds the lock of p's reference (lockReferences).
func putPayment(ctx context.Context, tx pgx.Tx, p newPayment) (string, bool, error) {
	ref := strings.TrimSpace(p.Reference)
	for range 2 {
		var invoice string
		var cents int64
		err := tx.QueryRow(ctx, `SELECT invoice, amount_cents FROM payments WHERE key = $1`, p.Key).Scan(&invoice, &cents)
		exists := err == nil
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return "", false, err
		case invoice == p.Invoice && cents == p.AmountCents:
			return p.Key, false, nil
		}
		if twin, err := olderForm(ctx, tx, p, ref); err != nil || twin != "" {
			return twin, false, err
		}
		if exists {
			return "", false, &activities.PaymentRefusal{Key: p.Key, Detail: fmt.Sprintf(
				"key %q already records %d cents for invoice %s, not %d cents for invoice %s", p.Key, cents, invoice, p.AmountCents, p.Invoice)}
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO payments (key, invoice, paid_at, amount_cents, method, reference, source, source_file, source_row)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (key) DO NOTHING`,
			p.Key, p.Invoice, p.PaidAt, p.AmountCents, p.Method, p.Reference, p.Source, p.SourceFile, p.SourceRow)
		if err != nil {
			return "", false, err
		}
		if tag.RowsAffected() == 1 {
			return p.Key, true, nil
		}
		// Stored meanwhile by a report without a reference (no lock): read again.
	}
	return "", false, fmt.Errorf("payment %s: stored and not found", p.Key)
}

// olderForm finds the payment stored under the other form of p's key (see
// putPayment), or "".
func olderForm(ctx context.Context, tx pgx.Tx, p newPayment, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	legacy := workflows.PaymentKey(p.Invoice, ref, p.PaidAt, p.AmountCents) // "ref:R"
	var q string
	var arg string
	switch p.Key {
	case workflows.PaymentKeyOf(p.Invoice, ref, p.PaidAt, p.AmountCents):
		q, arg = `SELECT key FROM payments WHERE key = $1 AND invoice = $2 AND amount_cents = $3`, legacy
	case legacy:
		// PaymentKeyOf's form of any day: "ref:R|INVOICE|".
		q, arg = `SELECT key FROM payments WHERE starts_with(key, $1) AND invoice = $2 AND amount_cents = $3
			ORDER BY id LIMIT 1`, legacy+"|"+p.Invoice+"|"
	default:
		return "", nil // a key of the case's own making
	}
	var key string
	err := tx.QueryRow(ctx, q, arg, p.Invoice, p.AmountCents).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return key, err
}

// lockReferences takes the advisory locks of the payment references in the
// order of their hashes, the order every caller takes them in, so an import
// holding several never waits in a ring with another.
func lockReferences(ctx context.Context, tx pgx.Tx, refs []string) error {
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT hashtext(btrim(r)) AS h FROM unnest($1::text[]) AS r WHERE btrim(r) <> '' ORDER BY h`, refs)
	if err != nil {
		return err
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, paymentLockClass, h); err != nil {
			return err
		}
	}
	return nil
}

// lockInvoiceSupplies locks the supply points of the invoices the ledger
// knows, in CUPS order (so two callers never wait on each other in a ring), so
// that a payment, a hold and a cut request of one supply point take turns: the
// cut sees every payment and hold committed before it. cups is used for an
// invoice the ledger does not know (yet).
func lockInvoiceSupplies(ctx context.Context, tx pgx.Tx, invoices []string, cups string) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT cups FROM invoices WHERE invoice = ANY($1) AND cups <> ''`, invoices)
	if err != nil {
		return err
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(list) == 0 && cups != "" {
		list = []string{cups}
	}
	if len(list) == 0 {
		return nil
	}
	slices.Sort(list)
	if _, err := tx.Exec(ctx, `INSERT INTO supply_points (cups) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, list); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM supply_points WHERE cups = ANY($1) ORDER BY cups FOR UPDATE`, list)
	return err
}
