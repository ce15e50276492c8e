-- SendGrid's Event Webhook: every event SendGrid reports of an e-mail
-- (processed, delivered, dropped, bounce...), once each, with the custom
-- arguments the e-mail carried. An e-mail left 'sending' by an attempt that was
-- cut short is settled from them: an event of its outbox key proves SendGrid
-- got it; none long after the claim, while SendGrid reports e-mails it got
-- later, means it never left and may be sent again.
CREATE TABLE mail_events (
	id          bigserial PRIMARY KEY,
	event_id    text NOT NULL UNIQUE CHECK (event_id <> ''), -- sg_event_id
	event       text NOT NULL,
	outbox_key  text NOT NULL DEFAULT '',                    -- custom argument outbox_key; '' for other mail
	attempt     integer,                                     -- custom argument outbox_attempt
	message_id  text NOT NULL DEFAULT '',                    -- sg_message_id
	email       text NOT NULL DEFAULT '',
	occurred_at timestamptz NOT NULL,                        -- the event's timestamp, at SendGrid
	received_at timestamptz NOT NULL DEFAULT now(),
	payload     jsonb NOT NULL
);
CREATE INDEX mail_events_outbox_key_idx ON mail_events (outbox_key, occurred_at);
CREATE INDEX mail_events_occurred_idx ON mail_events (occurred_at) WHERE event IN ('processed', 'dropped');
CREATE INDEX mail_events_received_idx ON mail_events (received_at);

-- When an e-mail was claimed for sending, and until when the attempt that
-- claimed it could still be running (its deadline): it is never sent again
-- before that deadline has passed.
ALTER TABLE outbox ADD COLUMN claimed_at timestamptz;
ALTER TABLE outbox ADD COLUMN claim_until timestamptz;
