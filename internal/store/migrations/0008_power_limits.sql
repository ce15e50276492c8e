-- The Suministro Mínimo Vital: after its wait a Bono Social household keeps
-- its supply with the power limited (3.5 kW) before any cut. The limit is a
-- request to the distributor like a cut, but of no cut: one per run of the
-- case of an invoice, however often it is retried. It has a table of its own
-- so that distributor_requests keeps its rule of one cut and one reconnection
-- per cut.
CREATE TABLE power_limits (
	id           bigserial PRIMARY KEY,
	cups         text NOT NULL REFERENCES supply_points (cups),
	invoice      text NOT NULL CHECK (invoice <> ''),
	workflow_id  text NOT NULL DEFAULT '',
	run_id       text NOT NULL DEFAULT '',
	power_kw     numeric(8, 3) NOT NULL CHECK (power_kw > 0),
	approved_by  text NOT NULL DEFAULT '',
	requested_at timestamptz NOT NULL,
	status       text NOT NULL DEFAULT 'pending',
	created_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (invoice, run_id)
);
CREATE INDEX power_limits_cups_idx ON power_limits (cups);

-- A qualified provider's certificate is recorded as a proof when the
-- certified e-mail that carried the formal notice is marked sent: it names the
-- outbox row and the provider's certificate, one proof per certificate.
ALTER TABLE notice_proofs
	ADD COLUMN outbox_id      bigint REFERENCES outbox (id),
	ADD COLUMN certificate_id text NOT NULL DEFAULT '';
ALTER TABLE notice_proofs DROP CONSTRAINT notice_proofs_invoice_run_id_kind_file_sha256_key;
ALTER TABLE notice_proofs ADD CONSTRAINT notice_proofs_unique
	UNIQUE (invoice, run_id, kind, file_sha256, certificate_id);
