-- Consoles: account lockout after repeated failed logins, accounts an administrator can
-- switch off, and which kind of credential a token is (API bearer or browser session).
ALTER TABLE users
    ADD COLUMN failed_logins integer     NOT NULL DEFAULT 0,
    ADD COLUMN locked_until  timestamptz,
    ADD COLUMN active        boolean     NOT NULL DEFAULT true;

ALTER TABLE auth_tokens
    ADD COLUMN kind text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session'));
