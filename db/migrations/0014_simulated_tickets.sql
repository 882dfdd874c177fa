-- Tickets of `hotline simulate` run with --into-configured-database are marked, so reports
-- leave them out; the default run uses a scratch database of its own and leaves nothing.

ALTER TABLE tickets ADD COLUMN simulated boolean NOT NULL DEFAULT false;
