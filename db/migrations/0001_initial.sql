-- Calls, tickets and their timeline, users and API tokens.

CREATE TABLE ticket_counters (
    line  text    NOT NULL,
    year  integer NOT NULL,
    last  integer NOT NULL,
    PRIMARY KEY (line, year)
);

CREATE TABLE tickets (
    id                     bigserial PRIMARY KEY,
    code                   text        NOT NULL UNIQUE,
    line                   text        NOT NULL CHECK (line IN ('1022', '115')),
    category               text        NOT NULL CHECK (category IN
        ('admin_procedure', 'field_report', 'information', 'medical', 'unclassified')),
    status                 text        NOT NULL DEFAULT 'new',
    caller_phone           text,                 -- E.164, NULL when anonymous
    caller_raw             text        NOT NULL, -- what Asterisk gave as caller id
    description            text,
    description_recording  text,
    location               text,
    location_recording     text,
    transcript             text,
    transcript_status      text        NOT NULL DEFAULT 'none'
        CHECK (transcript_status IN ('none', 'pending', 'done', 'failed')),
    transcript_words       jsonb,
    transcript_model       text,
    locality               text,
    agency_code            text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_caller_phone_idx ON tickets (caller_phone, created_at DESC);
CREATE INDEX tickets_agency_idx ON tickets (agency_code, created_at DESC);

CREATE TABLE calls (
    id              bigserial PRIMARY KEY,
    uniqueid        text        NOT NULL UNIQUE,
    linkedid        text        NOT NULL,
    line            text        NOT NULL,
    channel         text        NOT NULL,
    caller_raw      text        NOT NULL,
    caller_phone    text,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    ivr_path        jsonb       NOT NULL DEFAULT '[]',
    disposition     text        NOT NULL CHECK (disposition IN
        ('in_ivr', 'queued', 'abandoned_in_ivr', 'fallback')),
    queue           text,
    recording       text,                 -- the whole-call MixMonitor file
    version         integer     NOT NULL, -- snapshot version written last (monotonic)
    ticket_id       bigint      NOT NULL REFERENCES tickets (id)
);
CREATE INDEX calls_ticket_idx ON calls (ticket_id);
CREATE INDEX calls_started_idx ON calls (started_at);

CREATE TABLE ticket_events (
    id          bigserial PRIMARY KEY,
    ticket_id   bigint      NOT NULL REFERENCES tickets (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,   -- 'ivr', 'system' or a user name
    kind        text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}',
    call_id     bigint      REFERENCES calls (id),
    call_seq    integer,                -- position in the call's IVR path (idempotent replay)
    UNIQUE (call_id, call_seq)
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_id, at);

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    username       text        NOT NULL UNIQUE,
    password_hash  text        NOT NULL,   -- argon2id
    role           text        NOT NULL CHECK (role IN ('operator', 'supervisor', 'agency', 'admin')),
    agency_code    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'agency') = (agency_code IS NOT NULL))
);

CREATE TABLE auth_tokens (
    token_hash  bytea       PRIMARY KEY,  -- sha256 of the bearer token; the token is never stored
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX auth_tokens_expiry_idx ON auth_tokens (expires_at);
