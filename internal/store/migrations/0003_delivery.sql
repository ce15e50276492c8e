-- Files that travel with a communication (the business cut letter PDF), kept
-- with the case so a clerk can hand the customer the exact document sent.
CREATE TABLE outbox_attachments (
	id           bigserial PRIMARY KEY,
	outbox_id    bigint NOT NULL REFERENCES outbox (id),
	filename     text NOT NULL,
	content_type text NOT NULL,
	content      bytea NOT NULL,
	sha256       text NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (outbox_id, filename)
);

-- Evidence of what the certified channel sent: the hashes of the exact content
-- and attachments, when, and the provider's message id. It records evidence; it
-- is not a legal certification.
CREATE TABLE evidence (
	id                 bigserial PRIMARY KEY,
	outbox_id          bigint NOT NULL UNIQUE REFERENCES outbox (id),
	provider           text NOT NULL,
	content_sha256     text NOT NULL,
	attachments_sha256 jsonb NOT NULL DEFAULT '{}',
	message_id         text NOT NULL DEFAULT '',
	sent_at            timestamptz NOT NULL,
	created_at         timestamptz NOT NULL DEFAULT now()
);
