-- What the TRADE exports said: one row per return of an invoice. The same
-- invoice returned again later (a new return date) is a new row; the same file
-- imported twice adds nothing.
CREATE TABLE returns (
	id           bigserial PRIMARY KEY,
	invoice      text NOT NULL CHECK (invoice <> ''),
	returned_on  date, -- Fecha Devolución, when the export has it
	customer     text NOT NULL DEFAULT '',
	tax_id       text NOT NULL DEFAULT '',
	cups         text NOT NULL,
	amount_cents bigint NOT NULL CHECK (amount_cents > 0),
	source_file  text NOT NULL DEFAULT '',
	source_row   integer NOT NULL DEFAULT 0,
	imported_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX returns_invoice_day_idx ON returns (invoice, (COALESCE(returned_on, '-infinity'::date)));

-- Which file a payment came from, for the clerk who asks.
ALTER TABLE payments ADD COLUMN source_file text NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN source_row integer NOT NULL DEFAULT 0;

CREATE INDEX invoices_stage_idx ON invoices (stage) WHERE status = 'open';
