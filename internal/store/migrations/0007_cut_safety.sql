-- The ledger arbitrates the cut at the moment of the request: it knows the
-- holds a person put on a case, the proofs that the formal notice reached the
-- customer, and the cases cancelled by a person.

ALTER TABLE invoices
	ADD COLUMN hold_reason   text NOT NULL DEFAULT '',
	ADD COLUMN hold_by       text NOT NULL DEFAULT '',
	ADD COLUMN hold_at       timestamptz,
	ADD COLUMN cancelled_at  timestamptz,
	ADD COLUMN cancelled_by  text NOT NULL DEFAULT '',
	ADD COLUMN cancel_reason text NOT NULL DEFAULT '';

ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_status_check CHECK (status IN ('open', 'paid', 'cancelled'));
ALTER TABLE invoices ADD CONSTRAINT invoices_cancelled_check CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL));

-- A proof that the formal notice (domestic requerimiento, business cut letter)
-- reached the customer: a qualified provider's certificate, or what a clerk
-- records of a posted letter or burofax. The regulatory wait runs from
-- received_on. A provider's "delivered" event is evidence, never a proof.
CREATE TABLE notice_proofs (
	id          bigserial PRIMARY KEY,
	invoice     text NOT NULL CHECK (invoice <> ''),
	run_id      text NOT NULL DEFAULT '',
	kind        text NOT NULL CHECK (kind IN ('certificado', 'burofax', 'carta', 'acuse')),
	received_on date NOT NULL,
	provider    text NOT NULL DEFAULT '',
	file_name   text NOT NULL DEFAULT '',
	file_sha256 text NOT NULL DEFAULT '',
	recorded_by text NOT NULL CHECK (recorded_by <> ''),
	recorded_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (invoice, run_id, kind, file_sha256)
);
CREATE INDEX notice_proofs_invoice_idx ON notice_proofs (invoice);
