-- The operators' metrics count the refused cut requests by reason a few times
-- a minute; the audit trail is the ledger's largest table, its refusals a
-- small part of it.
CREATE INDEX audit_cut_refused_idx ON audit ((detail->>'reason')) WHERE action = 'cut_refused';
