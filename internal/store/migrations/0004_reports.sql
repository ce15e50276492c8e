-- The clerks' workbook checks its Total General against the previous one:
-- previous total + new returns - payments = new total. Each report run is kept
-- here; a run whose check failed is kept too, marked 'unbalanced', but only a
-- run with status 'first', 'balanced' or 'accepted' serves as the previous
-- total of the next report.
CREATE TABLE report_runs (
	id                     bigserial PRIMARY KEY,
	as_of                  date NOT NULL,        -- the day the report is for (Europe/Madrid)
	cutoff_at              timestamptz NOT NULL, -- the instant of the ledger it describes
	created_at             timestamptz NOT NULL DEFAULT now(),
	total_cents            bigint NOT NULL CHECK (total_cents >= 0),
	open_count             integer NOT NULL CHECK (open_count >= 0),
	previous_id            bigint REFERENCES report_runs (id),
	previous_total_cents   bigint,
	new_returns_cents      bigint NOT NULL DEFAULT 0,
	payments_cents         bigint NOT NULL DEFAULT 0,
	difference_cents       bigint NOT NULL DEFAULT 0,
	status                 text NOT NULL CHECK (status IN ('first', 'balanced', 'unbalanced', 'accepted')),
	note                   text NOT NULL DEFAULT '', -- the outcome; for an accepted total, the reason given
	file                   text NOT NULL DEFAULT ''
);
CREATE INDEX report_runs_previous_idx ON report_runs (cutoff_at DESC, id DESC) WHERE status <> 'unbalanced';

-- What each invoice owed at the latest run that serves as the previous
-- total, so a difference can be pinned on the invoices that explain it. The
-- lines change with each such run, in the same transaction that stores it;
-- invoices owing nothing have no line.
CREATE TABLE report_lines (
	invoice       text PRIMARY KEY,
	pending_cents bigint NOT NULL CHECK (pending_cents > 0)
);

-- The check reads the payments recorded between two reports.
CREATE INDEX payments_created_at_idx ON payments (created_at);
