-- What happened in the queues, derived from queue_log exactly once (agents/queue_log.py).
--
-- queue_log_cursor: one row, locked FOR UPDATE by the instance applying; it names the last
-- row applied in (xid, id) order. The derived rows below and the cursor commit together.
CREATE TABLE queue_log_cursor (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    last_xid    xid8        NOT NULL DEFAULT '0',
    last_id     bigint      NOT NULL DEFAULT 0,
    applied     bigint      NOT NULL DEFAULT 0,     -- rows applied since the last rebuild
    applied_at  timestamptz
);
INSERT INTO queue_log_cursor (id) VALUES (1);

-- One row per call and queue: a caller queued again after EXITWITHTIMEOUT is the same
-- offered call (entries counts the Queue() runs).
CREATE TABLE queue_calls (
    callid        text        NOT NULL,
    queue         text        NOT NULL,
    caller        text        NOT NULL DEFAULT '',
    entered_at    timestamptz NOT NULL,
    entries       integer     NOT NULL DEFAULT 1,
    outcome       text        NOT NULL DEFAULT 'waiting'
        CHECK (outcome IN ('waiting', 'answered', 'completed', 'abandoned', 'timeout', 'left',
                           'moved')),
    answered_at   timestamptz,
    agent         text,                         -- queue_log's member name
    interface     text,                         -- the softphone it was logged in with
    hold_seconds  integer,
    completed_at  timestamptz,
    talk_seconds  integer,
    ended_by      text,                         -- caller | operator | transfer
    left_at       timestamptz,                  -- abandoned, timed out, left
    wait_seconds  integer,
    PRIMARY KEY (callid, queue)
);
CREATE INDEX queue_calls_callid_idx ON queue_calls (callid);
