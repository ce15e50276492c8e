-- The collections ledger: one row per returned invoice, the contracts it is
-- checked against, the payments ledger, the outbox of communications and the
-- cuts and reconnections requested from the distributor.
--
-- Money is integer cents. Text columns are NOT NULL DEFAULT '' so that "unknown"
-- has one spelling. Business times (when the workflow says something happened)
-- are kept apart from row times (when the row was written).

CREATE TABLE invoices (
	invoice          text PRIMARY KEY CHECK (invoice <> ''),
	customer         text NOT NULL DEFAULT '',
	cups             text NOT NULL DEFAULT '',
	amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
	amount_due_cents bigint NOT NULL CHECK (amount_due_cents >= 0),
	returned_at      timestamptz,
	status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid')),
	stage            text NOT NULL DEFAULT '',
	cut_date         date,
	workflow_id      text NOT NULL DEFAULT '',
	run_id           text NOT NULL DEFAULT '',
	-- opened_at is when the current run registered the invoice; a later run of
	-- the same invoice (returned again) reopens it.
	opened_at        timestamptz NOT NULL DEFAULT now(),
	paid_at          timestamptz,
	-- settled_cut_id is the cut the supply point was under when the invoice was
	-- settled, so a retried settlement gives the same answer.
	settled_cut_id   bigint,
	created_at       timestamptz NOT NULL DEFAULT now(),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);
CREATE INDEX invoices_cups_idx ON invoices (cups);
CREATE INDEX invoices_status_idx ON invoices (status);

CREATE TABLE contracts (
	cups        text PRIMARY KEY CHECK (cups <> ''),
	customer    text NOT NULL DEFAULT '',
	tax_id      text NOT NULL DEFAULT '',
	segment     text NOT NULL CHECK (segment IN ('domestico', 'empresa')),
	phone       text NOT NULL DEFAULT '',
	email       text NOT NULL DEFAULT '',
	province    text NOT NULL DEFAULT '',
	bono_social boolean NOT NULL DEFAULT false,
	essential   boolean NOT NULL DEFAULT false,
	protected   boolean NOT NULL DEFAULT false,
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Payments are not tied to invoices by a foreign key: the payments workbook
-- holds payments of invoices that no case knows (yet).
CREATE TABLE payments (
	id           bigserial PRIMARY KEY,
	key          text NOT NULL UNIQUE CHECK (key <> ''),
	invoice      text NOT NULL,
	paid_at      timestamptz NOT NULL,
	amount_cents bigint NOT NULL CHECK (amount_cents > 0),
	method       text NOT NULL DEFAULT '',
	reference    text NOT NULL DEFAULT '',
	source       text NOT NULL CHECK (source <> ''), -- 'signal', 'import', ...
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_invoice_idx ON payments (invoice);

CREATE TABLE outbox (
	id              bigserial PRIMARY KEY,
	idempotency_key text NOT NULL UNIQUE CHECK (idempotency_key <> ''),
	workflow_id     text NOT NULL DEFAULT '',
	run_id          text NOT NULL DEFAULT '',
	invoice         text NOT NULL,
	kind            text NOT NULL,
	channel         text NOT NULL,
	recipient       text NOT NULL,
	subject         text NOT NULL DEFAULT '',
	body            text NOT NULL DEFAULT '',
	status          text NOT NULL DEFAULT 'pending'
		CHECK (status IN ('pending', 'sent', 'failed', 'not_sent')),
	status_detail   text NOT NULL DEFAULT '',
	message_id      text NOT NULL DEFAULT '',
	attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	notice_at       timestamptz NOT NULL, -- the business date the notice carries
	created_at      timestamptz NOT NULL DEFAULT now(),
	sent_at         timestamptz
);
CREATE INDEX outbox_status_idx ON outbox (status);
CREATE INDEX outbox_invoice_idx ON outbox (invoice);

-- One row per supply point, created on demand, so that cuts and settlements
-- of the invoices of one CUPS can lock it and run one at a time.
CREATE TABLE supply_points (
	cups       text PRIMARY KEY CHECK (cups <> ''),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cuts (
	id                        bigserial PRIMARY KEY,
	cups                      text NOT NULL REFERENCES supply_points (cups),
	requested_by_invoice      text NOT NULL,
	approved_by               text NOT NULL DEFAULT '',
	cut_at                    timestamptz NOT NULL,
	reconnection_requested_at timestamptz,
	created_at                timestamptz NOT NULL DEFAULT now()
);
-- A supply point is cut at most once at a time.
CREATE UNIQUE INDEX cuts_one_active_per_cups ON cuts (cups) WHERE reconnection_requested_at IS NULL;
CREATE INDEX cuts_cups_idx ON cuts (cups);

-- The invoices a cut is for: the one that requested it and those that reached
-- their cut while the supply point was already cut.
CREATE TABLE cut_invoices (
	cut_id  bigint NOT NULL REFERENCES cuts (id),
	invoice text NOT NULL,
	PRIMARY KEY (cut_id, invoice)
);
CREATE INDEX cut_invoices_invoice_idx ON cut_invoices (invoice);

-- What the distributor receives: exactly one cut and at most one reconnection per cut.
CREATE TABLE distributor_requests (
	id           bigserial PRIMARY KEY,
	kind         text NOT NULL CHECK (kind IN ('cut', 'reconnect')),
	cups         text NOT NULL,
	cut_id       bigint NOT NULL REFERENCES cuts (id),
	invoice      text NOT NULL, -- the invoice whose case triggered the request
	workflow_id  text NOT NULL DEFAULT '',
	run_id       text NOT NULL DEFAULT '',
	requested_at timestamptz NOT NULL,
	due_by       timestamptz,
	status       text NOT NULL DEFAULT 'pending',
	created_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (cut_id, kind)
);
CREATE INDEX distributor_requests_cups_idx ON distributor_requests (cups);
CREATE INDEX distributor_requests_status_idx ON distributor_requests (status);

CREATE TABLE audit (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	business_at timestamptz,
	workflow_id text NOT NULL DEFAULT '',
	run_id      text NOT NULL DEFAULT '',
	invoice     text NOT NULL DEFAULT '',
	actor       text NOT NULL DEFAULT '',
	action      text NOT NULL,
	detail      jsonb NOT NULL DEFAULT '{}',
	-- key makes an entry written by a retried activity land once; NULL when the
	-- entry is only written alongside a row that is itself written once.
	key         text UNIQUE
);
CREATE INDEX audit_invoice_idx ON audit (invoice);
