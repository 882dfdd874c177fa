-- intake_update (migration 0022) appends the IVR path's new steps to the stored path instead of
-- writing the whole path again: its ``paths`` are now the steps after the last event stored
-- (the writer sends what it knows the store lacks, db/intake.py). Each step of a call sent and
-- parsed its whole path again, so a call's path cost grew with the square of its steps; this
-- is one step per snapshot. A call the IVR's snapshot merges into (made from the queue) has
-- its path emptied by the merge first, so the IVR's whole path is appended there.

CREATE OR REPLACE FUNCTION intake_update(
    uniqueids text[], call_ids bigint[], stored_versions integer[], ticket_ids bigint[],
    ends timestamptz[], paths text[], dispositions text[], queues text[], recordings text[],
    versions integer[], categories text[], descriptions text[], locations text[],
    transcribes boolean[], event_calls bigint[], event_times timestamptz[], event_kinds text[],
    event_data text[], event_seqs integer[])
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(keys.k)
    FROM (SELECT DISTINCT hashtext(u.v) AS k FROM unnest(uniqueids) AS u(v) ORDER BY 1) AS keys;
    RETURN QUERY
    WITH u AS (
        SELECT * FROM unnest(uniqueids, call_ids, stored_versions, ticket_ids, ends, paths,
                             dispositions, queues, recordings, versions, categories,
                             descriptions, locations, transcribes)
            AS u(uniqueid, call_id, stored_version, ticket_id, ended_at, ivr_path, disposition,
                 queue, recording, version, category, description_recording,
                 location_recording, transcribe)
    ), call_rows AS (
        UPDATE calls SET ended_at = u.ended_at,
                         ivr_path = calls.ivr_path || u.ivr_path::jsonb,
                         disposition = u.disposition, queue = u.queue,
                         recording = u.recording, version = u.version
        FROM u
        WHERE calls.id = u.call_id AND calls.uniqueid = u.uniqueid
          AND calls.version = u.stored_version
        RETURNING calls.id
    ), ticket_rows AS (
        UPDATE tickets
        SET category = CASE WHEN status = 'new' THEN u.category ELSE tickets.category END,
            description_recording = u.description_recording,
            location_recording = u.location_recording,
            transcript_status = CASE WHEN (u.description_recording IS NOT NULL
                                           OR u.location_recording IS NOT NULL)
                                          AND transcript_status = 'none'
                                     THEN CASE WHEN u.transcribe THEN 'pending'
                                               ELSE 'no_model' END
                                     ELSE transcript_status END,
            updated_at = now()
        FROM u JOIN call_rows ON call_rows.id = u.call_id
        WHERE tickets.id = u.ticket_id
    ), event_rows AS (
        INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
        SELECT u.ticket_id, e.at, 'ivr', e.kind, e.data::jsonb, e.call_id, e.seq
        FROM unnest(event_calls, event_times, event_kinds, event_data, event_seqs)
            AS e(call_id, at, kind, data, seq)
        JOIN call_rows ON call_rows.id = e.call_id
        JOIN u ON u.call_id = e.call_id
        ON CONFLICT (call_id, call_seq) DO NOTHING
    )
    SELECT call_rows.id FROM call_rows;
END
$$;
