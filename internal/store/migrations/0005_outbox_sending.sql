-- An e-mail is marked 'sending' (and committed) before the provider is called,
-- so that a retry after a crash never sends it a second time; a row left in
-- 'sending' is one whose outcome nobody knows, listed for a clerk to check.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
	CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'not_sent'));
