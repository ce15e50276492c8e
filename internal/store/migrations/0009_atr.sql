-- The distributor is a real boundary: a cut is asked for with the CNMC's ATR
-- process B1 (step 01, motive 03), and the distributor's answers (02
-- acceptance or rejection, 05 the cut as executed, 04 the answer to a
-- cancellation) move the request. Its step 03 cancels a request not yet
-- executed, or asks to restore a supply cut once the debt is paid.

-- CodigoDeSolicitud: twelve digits, ours, never reused.
CREATE SEQUENCE atr_request_code_seq START 1;

-- A cut is over (ended_at) when its supply point is no longer held by it:
-- the reconnection or cancellation was requested, or the distributor refused
-- the cut. outcome says which. executed_on is the day the distributor says the
-- supply was actually cut (step 05).
ALTER TABLE cuts
	ADD COLUMN ended_at    timestamptz,
	ADD COLUMN outcome     text NOT NULL DEFAULT ''
		CHECK (outcome IN ('', 'reconnect', 'cancel', 'rejected')),
	ADD COLUMN executed_on date;
UPDATE cuts SET ended_at = reconnection_requested_at, outcome = 'reconnect'
	WHERE reconnection_requested_at IS NOT NULL;
DROP INDEX cuts_one_active_per_cups;
CREATE UNIQUE INDEX cuts_one_active_per_cups ON cuts (cups) WHERE ended_at IS NULL;

-- A request's kinds: the cut (01), and one 03 per cut: 'cancel' before the
-- cut was executed, 'reconnect' after. Requests written before the
-- distributor spoke ATR have no code and stay 'pending'.
ALTER TABLE distributor_requests DROP CONSTRAINT distributor_requests_kind_check;
ALTER TABLE distributor_requests ADD CONSTRAINT distributor_requests_kind_check
	CHECK (kind IN ('cut', 'cancel', 'reconnect'));
ALTER TABLE distributor_requests
	ADD COLUMN code        text,          -- CodigoDeSolicitud (a 03 carries its cut's)
	ADD COLUMN distributor text NOT NULL DEFAULT '', -- REE code of the distributor
	ADD COLUMN planned_on  date,          -- FechaPrevistaAccion, then FechaActivacionPrevista
	ADD COLUMN answered_on date,          -- FechaAceptacion or FechaRechazo
	ADD COLUMN executed_on date,          -- FechaActivacion (cuts)
	ADD COLUMN rejections  jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN breach      text NOT NULL DEFAULT '', -- the distributor's breach of the rules, if any
	ADD COLUMN answered_at timestamptz;   -- when the last answer was read
ALTER TABLE distributor_requests ADD CONSTRAINT distributor_requests_status_check
	CHECK (status IN ('pending', 'sent', 'accepted', 'rejected', 'executed'));
CREATE UNIQUE INDEX distributor_requests_code_kind ON distributor_requests (code, kind) WHERE code IS NOT NULL;

-- Every ATR message, both ways, as the file it is. An outgoing message is
-- committed with its request and written to the outbox folder by a separate
-- step (sent_at), so a crash between the two neither loses nor doubles it.
-- An incoming one is recorded once (by its hash) with the request it answers;
-- delivered_at says every case of that request was told.
CREATE TABLE atr_messages (
	id           bigserial PRIMARY KEY,
	direction    text NOT NULL CHECK (direction IN ('out', 'in')),
	request_id   bigint NOT NULL REFERENCES distributor_requests (id),
	process      text NOT NULL,
	step         text NOT NULL,
	code         text NOT NULL,
	kind         text NOT NULL,
	cups         text NOT NULL,
	file_name    text NOT NULL CHECK (file_name <> ''),
	body         bytea NOT NULL,
	sha256       text NOT NULL,
	sent_at      timestamptz,
	delivered_at timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (direction, file_name)
);
CREATE UNIQUE INDEX atr_messages_in_once ON atr_messages (sha256) WHERE direction = 'in';
CREATE INDEX atr_messages_request_idx ON atr_messages (request_id);
CREATE INDEX atr_messages_unsent_idx ON atr_messages (id) WHERE direction = 'out' AND sent_at IS NULL;
CREATE INDEX atr_messages_undelivered_idx ON atr_messages (id) WHERE direction = 'in' AND delivered_at IS NULL;

-- Answer files the inbox could not take: kept with the reason, for a person.
CREATE TABLE atr_rejected_files (
	id         bigserial PRIMARY KEY,
	file_name  text NOT NULL,
	sha256     text NOT NULL UNIQUE,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- A distributor that refuses a cut because the supply is protected (essential,
-- court order, energy poverty, Bono Social, minimum vital supply) flags the
-- supply point for a person: no cut is asked for again until one clears it.
ALTER TABLE supply_points
	ADD COLUMN protection    text NOT NULL DEFAULT '',
	ADD COLUMN protection_at timestamptz;

-- The Suministro Mínimo Vital's power limitation has no B1 motive: it is a
-- task for the clerks, done when one records it.
ALTER TABLE power_limits
	ADD COLUMN done_at timestamptz,
	ADD COLUMN done_by text NOT NULL DEFAULT '';
