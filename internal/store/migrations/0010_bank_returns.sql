-- The banks' return files (pain.002, camt.054, AEB 19.14): one row per file
-- read, known by its hash, so the same file imported again adds nothing.
CREATE TABLE bank_files (
	id          bigserial PRIMARY KEY,
	sha256      text NOT NULL UNIQUE CHECK (sha256 <> ''),
	name        text NOT NULL DEFAULT '',
	format      text NOT NULL,
	message_id  text NOT NULL DEFAULT '',
	created_at  timestamptz,
	returns     integer NOT NULL DEFAULT 0,
	rejected    integer NOT NULL DEFAULT 0,
	imported_at timestamptz NOT NULL DEFAULT now()
);

-- One row per return a bank file carried, whatever became of it: matched to
-- an invoice and its case started or told (started, sent, known), kept
-- until a contract names its supply point (pending), or not matched to any
-- invoice (unmatched). The same return in another file (the bank sent it
-- again under another message id) is the same row.
CREATE TABLE bank_returns (
	id            bigserial PRIMARY KEY,
	file_id       bigint NOT NULL REFERENCES bank_files (id),
	end_to_end_id text NOT NULL,
	mandate_id    text NOT NULL DEFAULT '',
	amount_cents  bigint NOT NULL CHECK (amount_cents > 0),
	debtor_name   text NOT NULL DEFAULT '',
	debtor_iban   text NOT NULL DEFAULT '',
	iban_ok       boolean NOT NULL DEFAULT false,
	requested_on  date,
	returned_on   date NOT NULL,
	reason        text NOT NULL CHECK (reason <> ''),
	originator    text NOT NULL DEFAULT '',
	path          text NOT NULL CHECK (path IN ('funds', 'disputed', 'account', 'deceased', 'our_error')),
	invoice       text NOT NULL DEFAULT '',
	cups          text NOT NULL DEFAULT '',
	customer      text NOT NULL DEFAULT '',
	status        text NOT NULL CHECK (status IN ('unmatched', 'pending', 'started', 'sent', 'known')),
	detail        text NOT NULL DEFAULT '',
	source_where  text NOT NULL DEFAULT '',
	imported_at   timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bank_returns_once ON bank_returns (end_to_end_id, mandate_id, returned_on, amount_cents, reason);
CREATE INDEX bank_returns_invoice_idx ON bank_returns (invoice) WHERE invoice <> '';
CREATE INDEX bank_returns_pending_idx ON bank_returns (status) WHERE status IN ('pending', 'unmatched');

-- Where a return of the ledger came from: a TRADE export or a bank's file.
ALTER TABLE returns ADD COLUMN source text NOT NULL DEFAULT 'trade' CHECK (source IN ('trade', 'bank'));
-- The bank's reason code of a bank's return, for the clerks' sheet and summary.
ALTER TABLE returns ADD COLUMN reason text NOT NULL DEFAULT '';

-- The direct debit's mandate and account of a contract, which a bank's
-- return names instead of the supply point.
ALTER TABLE contracts ADD COLUMN mandate_id text NOT NULL DEFAULT '';
ALTER TABLE contracts ADD COLUMN iban text NOT NULL DEFAULT '';
CREATE INDEX contracts_mandate_idx ON contracts (mandate_id) WHERE mandate_id <> '';
CREATE INDEX contracts_iban_idx ON contracts (iban) WHERE iban <> '';
