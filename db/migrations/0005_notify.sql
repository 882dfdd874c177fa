-- Citizen notifications (notify/): the transactional outbox, opt-outs and the Zalo OA tokens.

-- One row per (ticket, event, channel), written in the transaction of the ticket change that
-- causes it; workers on any instance claim due rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    ticket_id        bigint      NOT NULL REFERENCES tickets (id),
    event            text        NOT NULL CHECK (event IN
        ('received', 'forwarded', 'responded', 'closed', 'survey')),
    channel          text        NOT NULL CHECK (channel IN ('sms', 'zalo')),
    phone            text        NOT NULL,             -- E.164
    params           jsonb       NOT NULL DEFAULT '{}',
    urgent           boolean     NOT NULL DEFAULT false,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'sent', 'delivered', 'undelivered', 'dead', 'fallback', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    provider_id      text,                             -- Zalo msg_id / gateway id
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    delivered_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, event, channel)
);
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_phone_idx ON notifications (phone, created_at DESC);
CREATE INDEX notifications_provider_idx ON notifications (provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE notify_optouts (
    phone  text        PRIMARY KEY,                     -- E.164
    at     timestamptz NOT NULL DEFAULT now()
);

-- The Zalo OA token pair; the refresh token is single-use, so it is rotated under a row lock.
CREATE TABLE zalo_tokens (
    id             integer     PRIMARY KEY CHECK (id = 1),
    access_token   text        NOT NULL,
    refresh_token  text        NOT NULL,
    expires_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
