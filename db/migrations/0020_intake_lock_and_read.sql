-- The first round trip of a batch of call snapshots (db/intake.py): lock every uniqueid of the
-- batch (one transaction-scoped advisory lock each, taken in one order, so two writers never
-- deadlock), then read what is stored for them. In one call, not two statements: the read is
-- its own statement inside the function, so it takes its snapshot after the locks are held and
-- sees whatever a writer that held one committed (a VOLATILE PL/pgSQL function takes a new
-- snapshot per statement under READ COMMITTED).

CREATE FUNCTION intake_lock_and_read(uniqueids text[])
RETURNS TABLE (uniqueid text, id bigint, version integer, ticket_id bigint, origin text,
               started_at timestamptz, code text, seq integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(keys.k)
    FROM (SELECT DISTINCT hashtext(u.v) AS k FROM unnest(uniqueids) AS u(v) ORDER BY 1) AS keys;
    RETURN QUERY
    SELECT c.uniqueid, c.id, c.version, c.ticket_id, c.origin, c.started_at, t.code,
           (SELECT coalesce(max(e.call_seq), 0) FROM ticket_events e WHERE e.call_id = c.id)
    FROM calls c JOIN tickets t ON t.id = c.ticket_id
    WHERE c.uniqueid = ANY(uniqueids);
END
$$;
