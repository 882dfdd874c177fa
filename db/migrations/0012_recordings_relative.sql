-- Recording paths relative to the recordings spool (tickets/recordings.py).
--
-- Until now the IVR stored the path it gave Asterisk ('/srv/hotline/var/recordings/20261126/
-- <uniqueid>-description.wav', or 'var/recordings/…' relative to the working directory of the
-- day) and the player joined it to the spool once more. The spool has one folder per local
-- day, so the path inside it is the day folder and the file name: keep that. Paths of another
-- shape are left as they are (the player refuses them, as before).
--
-- Rewriting a recording column must not queue its transcription again: the trigger that does
-- so is switched off while the paths are rewritten.

CREATE FUNCTION pg_temp.spool_relative(path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(substring(path FROM '(?:^|/)(\d{8}/[^/]+)$'), path)
$$;

ALTER TABLE tickets DISABLE TRIGGER tickets_speech_enqueue;

UPDATE tickets
SET description_recording = pg_temp.spool_relative(description_recording),
    location_recording = pg_temp.spool_relative(location_recording),
    transcript_archive = pg_temp.spool_relative(transcript_archive)
WHERE description_recording IS DISTINCT FROM pg_temp.spool_relative(description_recording)
   OR location_recording IS DISTINCT FROM pg_temp.spool_relative(location_recording)
   OR transcript_archive IS DISTINCT FROM pg_temp.spool_relative(transcript_archive);

ALTER TABLE tickets ENABLE TRIGGER tickets_speech_enqueue;

UPDATE transcription_jobs
SET audio_path = pg_temp.spool_relative(audio_path),
    archive_path = pg_temp.spool_relative(archive_path)
WHERE audio_path IS DISTINCT FROM pg_temp.spool_relative(audio_path)
   OR archive_path IS DISTINCT FROM pg_temp.spool_relative(archive_path);

UPDATE calls SET recording = pg_temp.spool_relative(recording)
WHERE recording IS DISTINCT FROM pg_temp.spool_relative(recording);

-- The IVR's "recorded" steps name the file too (timeline events and the call's path).
UPDATE ticket_events
SET data = jsonb_set(data, '{file}', to_jsonb(pg_temp.spool_relative(data ->> 'file')))
WHERE kind = 'recorded' AND data ? 'file'
  AND data ->> 'file' IS DISTINCT FROM pg_temp.spool_relative(data ->> 'file');

UPDATE calls c
SET ivr_path = (
    SELECT jsonb_agg(
        CASE WHEN step ? 'file'
             THEN jsonb_set(step, '{file}', to_jsonb(pg_temp.spool_relative(step ->> 'file')))
             ELSE step END
        ORDER BY n)
    FROM jsonb_array_elements(c.ivr_path) WITH ORDINALITY AS s (step, n)
)
WHERE jsonb_typeof(c.ivr_path) = 'array'
  AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(c.ivr_path) AS s (step)
    WHERE step ->> 'file' IS DISTINCT FROM pg_temp.spool_relative(step ->> 'file')
  );
