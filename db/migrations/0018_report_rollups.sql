-- Reports from rollups (db/reports.py): what every ticket and every queued call adds to the
-- report, counted per local day and group, so a period's report reads days × groups rows
-- instead of the tickets and calls themselves.
--
-- Triggers keep the counts in the transaction of the change itself: each change of a counted
-- column appends what it takes away (the old row's figures, negated) and what it adds (the new
-- row's) to a change table. Appending never waits for another transaction (no counter row is
-- locked, so concurrent writers neither queue on a busy day's row nor deadlock); a fold
-- (report_rollups_fold(), run every few seconds by the service) moves the change rows into the
-- rollups in one statement, so every change is counted exactly once; a report reads the rollups
-- and the changes not folded yet in one snapshot.
--
-- Days are local days of the hotline (Asia/Ho_Chi_Minh, tickets.codes.HOTLINE_TZ; no daylight
-- saving), the days the report's periods are made of.

-- A ticket counts on the day it was created unless it is a merged duplicate, was handed over to
-- the other line (it counts once, on the ticket that carries on) or is simulated.
CREATE TABLE report_tickets (
    day            date    NOT NULL,
    line           text    NOT NULL,
    category       text    NOT NULL,
    subcategory    text    NOT NULL,  -- '' when none
    agency_code    text    NOT NULL,  -- '' when none
    status         text    NOT NULL,
    outcome        text    NOT NULL,  -- 115's outcome code, '' when none
    sent           boolean NOT NULL,  -- 115: at least one dispatch request went out
    tickets        bigint  NOT NULL,
    forwarded      bigint  NOT NULL,  -- forwarded to an agency
    responded      bigint  NOT NULL,  -- forwarded and responded
    on_time        bigint  NOT NULL,  -- responded by the deadline (or without one)
    satisfied      bigint  NOT NULL,  -- responded and closed as satisfied
    escalated      bigint  NOT NULL,  -- forwarded and escalated
    on_scene       bigint  NOT NULL,  -- 115: a crew on scene
    scene_seconds  numeric NOT NULL,  -- 115: sum of seconds from the call to the crew on scene
    PRIMARY KEY (day, line, category, subcategory, agency_code, status, outcome, sent)
);
CREATE TABLE report_ticket_changes (LIKE report_tickets);
-- The same counts per calendar month (day = its first day): a period's whole months are read
-- here, only the days at its edges from report_tickets.
CREATE TABLE report_tickets_monthly (LIKE report_tickets INCLUDING ALL);

-- A call counts on the day it joined a queue unless its ticket is simulated.
CREATE TABLE report_calls (
    day         date   NOT NULL,
    line        text   NOT NULL,
    queued      bigint NOT NULL,
    answered    bigint NOT NULL,
    within_15s  bigint NOT NULL,  -- answered after at most 15 s in the queue
    within_20s  bigint NOT NULL,
    abandoned   bigint NOT NULL,  -- left the queue unanswered
    PRIMARY KEY (day, line)
);
CREATE TABLE report_call_changes (LIKE report_calls);

-- What one ticket adds to the report, times sign (1 or -1); no row when it does not count.
CREATE FUNCTION report_ticket_figures(t tickets, sign bigint) RETURNS SETOF report_tickets
LANGUAGE sql STABLE AS $$
    SELECT (t.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, t.line, t.category,
           coalesce(t.subcategory, ''), coalesce(t.agency_code, ''), t.status,
           coalesce(t.outcome, ''), t.dispatched_at IS NOT NULL,
           sign,
           sign * (t.forwarded_at IS NOT NULL)::int,
           sign * (t.forwarded_at IS NOT NULL AND t.responded_at IS NOT NULL)::int,
           sign * (t.forwarded_at IS NOT NULL AND t.responded_at IS NOT NULL
                   AND (t.deadline_at IS NULL OR t.responded_at <= t.deadline_at))::int,
           sign * (t.forwarded_at IS NOT NULL AND t.responded_at IS NOT NULL
                   AND t.closure IS NOT DISTINCT FROM 'satisfied')::int,
           sign * (t.forwarded_at IS NOT NULL AND t.escalated_at IS NOT NULL)::int,
           sign * (t.on_scene_at IS NOT NULL)::int,
           sign * coalesce(extract(epoch FROM t.on_scene_at - t.created_at), 0)
    WHERE t.merged_into IS NULL AND t.status <> 'transferred' AND NOT t.simulated
$$;

CREATE FUNCTION report_call_figures(c calls, sign bigint) RETURNS SETOF report_calls
LANGUAGE sql STABLE AS $$
    SELECT (c.queue_joined_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, c.line,
           sign,
           sign * (c.answered_at IS NOT NULL)::int,
           sign * coalesce(c.answered_at IS NOT NULL AND c.queue_wait_seconds <= 15, false)::int,
           sign * coalesce(c.answered_at IS NOT NULL AND c.queue_wait_seconds <= 20, false)::int,
           sign * (c.abandoned_at IS NOT NULL AND c.answered_at IS NULL)::int
    WHERE c.queue_joined_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = c.ticket_id AND t.simulated)
$$;

CREATE FUNCTION report_tickets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO report_ticket_changes SELECT * FROM report_ticket_figures(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO report_ticket_changes SELECT * FROM report_ticket_figures(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION report_calls_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO report_call_changes SELECT * FROM report_call_figures(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO report_call_changes SELECT * FROM report_call_figures(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

-- Only changes of what the figures read fire (an IVR step rewriting a call's path does not).
CREATE TRIGGER tickets_report_insert AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION report_tickets_changed();
CREATE TRIGGER tickets_report_delete AFTER DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION report_tickets_changed();
CREATE TRIGGER tickets_report_update AFTER UPDATE ON tickets
    FOR EACH ROW
    WHEN ((OLD.created_at, OLD.line, OLD.category, OLD.subcategory, OLD.agency_code, OLD.status,
           OLD.outcome, OLD.dispatched_at, OLD.forwarded_at, OLD.responded_at, OLD.deadline_at,
           OLD.closure, OLD.escalated_at, OLD.on_scene_at, OLD.merged_into, OLD.simulated)
          IS DISTINCT FROM
          (NEW.created_at, NEW.line, NEW.category, NEW.subcategory, NEW.agency_code, NEW.status,
           NEW.outcome, NEW.dispatched_at, NEW.forwarded_at, NEW.responded_at, NEW.deadline_at,
           NEW.closure, NEW.escalated_at, NEW.on_scene_at, NEW.merged_into, NEW.simulated))
    EXECUTE FUNCTION report_tickets_changed();

CREATE TRIGGER calls_report_insert AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.queue_joined_at IS NOT NULL)
    EXECUTE FUNCTION report_calls_changed();
CREATE TRIGGER calls_report_delete AFTER DELETE ON calls
    FOR EACH ROW WHEN (OLD.queue_joined_at IS NOT NULL)
    EXECUTE FUNCTION report_calls_changed();
CREATE TRIGGER calls_report_update AFTER UPDATE ON calls
    FOR EACH ROW
    WHEN ((OLD.queue_joined_at, OLD.answered_at, OLD.abandoned_at, OLD.queue_wait_seconds,
           OLD.line, OLD.ticket_id)
          IS DISTINCT FROM
          (NEW.queue_joined_at, NEW.answered_at, NEW.abandoned_at, NEW.queue_wait_seconds,
           NEW.line, NEW.ticket_id))
    EXECUTE FUNCTION report_calls_changed();

-- Move the changes into the rollups: each change row is deleted and added (to its day and its
-- month) in one statement, so it is counted exactly once whoever folds; one folder at a time
-- (others return at once).
CREATE FUNCTION report_rollups_fold() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    tickets_folded bigint;
    calls_folded   bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(1752134770) THEN  -- 'hotr'
        RETURN 0;
    END IF;
    WITH moved AS (DELETE FROM report_ticket_changes RETURNING *),
    daily AS (
        INSERT INTO report_tickets
        SELECT day, line, category, subcategory, agency_code, status, outcome, sent,
               sum(tickets), sum(forwarded), sum(responded), sum(on_time), sum(satisfied),
               sum(escalated), sum(on_scene), sum(scene_seconds)
        FROM moved GROUP BY day, line, category, subcategory, agency_code, status, outcome, sent
        ON CONFLICT (day, line, category, subcategory, agency_code, status, outcome, sent)
        DO UPDATE SET
            tickets = report_tickets.tickets + EXCLUDED.tickets,
            forwarded = report_tickets.forwarded + EXCLUDED.forwarded,
            responded = report_tickets.responded + EXCLUDED.responded,
            on_time = report_tickets.on_time + EXCLUDED.on_time,
            satisfied = report_tickets.satisfied + EXCLUDED.satisfied,
            escalated = report_tickets.escalated + EXCLUDED.escalated,
            on_scene = report_tickets.on_scene + EXCLUDED.on_scene,
            scene_seconds = report_tickets.scene_seconds + EXCLUDED.scene_seconds
    )
    INSERT INTO report_tickets_monthly
    SELECT date_trunc('month', day::timestamp)::date, line, category, subcategory, agency_code,
           status, outcome, sent,
           sum(tickets), sum(forwarded), sum(responded), sum(on_time), sum(satisfied),
           sum(escalated), sum(on_scene), sum(scene_seconds)
    FROM moved GROUP BY 1, line, category, subcategory, agency_code, status, outcome, sent
    ON CONFLICT (day, line, category, subcategory, agency_code, status, outcome, sent)
    DO UPDATE SET
        tickets = report_tickets_monthly.tickets + EXCLUDED.tickets,
        forwarded = report_tickets_monthly.forwarded + EXCLUDED.forwarded,
        responded = report_tickets_monthly.responded + EXCLUDED.responded,
        on_time = report_tickets_monthly.on_time + EXCLUDED.on_time,
        satisfied = report_tickets_monthly.satisfied + EXCLUDED.satisfied,
        escalated = report_tickets_monthly.escalated + EXCLUDED.escalated,
        on_scene = report_tickets_monthly.on_scene + EXCLUDED.on_scene,
        scene_seconds = report_tickets_monthly.scene_seconds + EXCLUDED.scene_seconds;
    GET DIAGNOSTICS tickets_folded = ROW_COUNT;
    WITH moved AS (DELETE FROM report_call_changes RETURNING *)
    INSERT INTO report_calls
    SELECT day, line, sum(queued), sum(answered), sum(within_15s), sum(within_20s),
           sum(abandoned)
    FROM moved GROUP BY day, line
    ON CONFLICT (day, line)
    DO UPDATE SET queued = report_calls.queued + EXCLUDED.queued,
                  answered = report_calls.answered + EXCLUDED.answered,
                  within_15s = report_calls.within_15s + EXCLUDED.within_15s,
                  within_20s = report_calls.within_20s + EXCLUDED.within_20s,
                  abandoned = report_calls.abandoned + EXCLUDED.abandoned;
    GET DIAGNOSTICS calls_folded = ROW_COUNT;
    RETURN tickets_folded + calls_folded;
END;
$$;

-- Count everything again from the tickets and calls (here, for the rows stored before this
-- migration; and after a bulk load that bypassed the triggers).
CREATE FUNCTION report_rollups_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE tickets, calls IN SHARE MODE;  -- no change slips between the count and the swap
    TRUNCATE report_tickets, report_ticket_changes, report_tickets_monthly, report_calls,
             report_call_changes;
    INSERT INTO report_tickets
    SELECT f.day, f.line, f.category, f.subcategory, f.agency_code, f.status, f.outcome, f.sent,
           sum(f.tickets), sum(f.forwarded), sum(f.responded), sum(f.on_time), sum(f.satisfied),
           sum(f.escalated), sum(f.on_scene), sum(f.scene_seconds)
    FROM tickets t CROSS JOIN LATERAL report_ticket_figures(t, 1) f
    GROUP BY f.day, f.line, f.category, f.subcategory, f.agency_code, f.status, f.outcome, f.sent;
    INSERT INTO report_tickets_monthly
    SELECT date_trunc('month', day::timestamp)::date, line, category, subcategory, agency_code,
           status, outcome, sent,
           sum(tickets), sum(forwarded), sum(responded), sum(on_time), sum(satisfied),
           sum(escalated), sum(on_scene), sum(scene_seconds)
    FROM report_tickets GROUP BY 1, line, category, subcategory, agency_code, status, outcome, sent;
    INSERT INTO report_calls
    SELECT f.day, f.line, sum(f.queued), sum(f.answered), sum(f.within_15s), sum(f.within_20s),
           sum(f.abandoned)
    FROM calls c CROSS JOIN LATERAL report_call_figures(c, 1) f
    GROUP BY f.day, f.line;
END;
$$;

SELECT report_rollups_rebuild();
