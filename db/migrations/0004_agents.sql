-- Operators' softphone sessions, the callback worklist, queue statistics per 15 minutes.

CREATE TABLE operator_sessions (
    id             bigserial PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES users (id),
    interface      text        NOT NULL,            -- PJSIP/op101
    queues         text[]      NOT NULL,
    logged_in_at   timestamptz NOT NULL DEFAULT now(),
    logged_out_at  timestamptz
);
CREATE UNIQUE INDEX operator_sessions_active_user ON operator_sessions (user_id)
    WHERE logged_out_at IS NULL;
CREATE UNIQUE INDEX operator_sessions_active_interface ON operator_sessions (interface)
    WHERE logged_out_at IS NULL;

CREATE TABLE callbacks (
    id               bigserial PRIMARY KEY,
    call_uniqueid    text        NOT NULL UNIQUE,
    ticket_id        bigint      REFERENCES tickets (id),
    line             text        NOT NULL,
    queue            text        NOT NULL,
    phone            text,                       -- E.164; NULL when the caller was anonymous
    caller_raw       text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'calling', 'reached', 'unreachable')),
    attempts         integer     NOT NULL DEFAULT 0,
    hold_seconds     integer     NOT NULL,
    abandoned_at     timestamptz NOT NULL,
    last_attempt_at  timestamptz,
    last_attempt_by  bigint      REFERENCES users (id),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_open_idx ON callbacks (status, abandoned_at) WHERE status IN ('pending', 'calling');

CREATE TABLE queue_intervals (
    queue              text        NOT NULL,
    interval_start     timestamptz NOT NULL,      -- 15-minute boundary
    received           integer     NOT NULL DEFAULT 0,
    answered           integer     NOT NULL DEFAULT 0,
    abandoned          integer     NOT NULL DEFAULT 0,
    answered_within_1  integer     NOT NULL DEFAULT 0,   -- hold ≤ sl1_seconds
    answered_within_2  integer     NOT NULL DEFAULT 0,   -- hold ≤ sl2_seconds
    sl1_seconds        integer     NOT NULL,
    sl2_seconds        integer     NOT NULL,
    hold_seconds_sum   bigint      NOT NULL DEFAULT 0,   -- of answered calls (ASA)
    talk_seconds_sum   bigint      NOT NULL DEFAULT 0,   -- of completed calls (AHT)
    completed          integer     NOT NULL DEFAULT 0,
    longest_wait       integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, interval_start)
);

CREATE TABLE operator_intervals (
    interface          text        NOT NULL,
    interval_start     timestamptz NOT NULL,
    answered           integer     NOT NULL DEFAULT 0,
    completed          integer     NOT NULL DEFAULT 0,
    ring_no_answer     integer     NOT NULL DEFAULT 0,
    talk_seconds_sum   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (interface, interval_start)
);
