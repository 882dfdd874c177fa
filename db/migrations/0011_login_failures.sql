-- Failed logins counted per (user name, client address), whether the name exists or not: past
-- a few, that pair alone waits a growing delay (blocked_until), so nobody can lock an operator
-- out from elsewhere and names cannot be told from the answers. It replaces the lockout of the
-- whole account (users.failed_logins, users.locked_until). Rows idle for a day are purged.
CREATE TABLE login_failures (
    username       text        NOT NULL,
    address        text        NOT NULL,
    failures       integer     NOT NULL,
    last_at        timestamptz NOT NULL,
    blocked_until  timestamptz,
    PRIMARY KEY (username, address)
);
CREATE INDEX login_failures_last_idx ON login_failures (last_at);

ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;
