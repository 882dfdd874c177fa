-- Recordings taken where no speech model is installed: kept without a transcript, and no
-- transcription job is queued for them (it could never run). The intake marks such a ticket
-- 'no_model' (db/intake.py); the operator's console says so instead of "transcribing".

ALTER TABLE tickets DROP CONSTRAINT tickets_transcript_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_transcript_status_check
    CHECK (transcript_status IN ('none', 'pending', 'done', 'failed', 'no_model'));

CREATE OR REPLACE FUNCTION speech_enqueue_recordings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_description text;
    old_location    text;
BEGIN
    IF NEW.transcript_status = 'no_model' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        old_description := OLD.description_recording;
        old_location := OLD.location_recording;
    END IF;
    IF NEW.description_recording IS NOT NULL
       AND NEW.description_recording IS DISTINCT FROM old_description THEN
        INSERT INTO transcription_jobs (ticket_id, purpose, audio_path)
        VALUES (NEW.id, 'description', NEW.description_recording)
        ON CONFLICT (ticket_id, purpose) DO UPDATE
            SET audio_path = EXCLUDED.audio_path, status = 'pending', attempts = 0,
                not_before = clock_timestamp(), lease_until = NULL, last_error = NULL,
                created_at = clock_timestamp(), finished_at = NULL;
        PERFORM pg_notify('hotline_speech_jobs', NEW.id::text);
    END IF;
    IF NEW.location_recording IS NOT NULL
       AND NEW.location_recording IS DISTINCT FROM old_location THEN
        INSERT INTO transcription_jobs (ticket_id, purpose, audio_path)
        VALUES (NEW.id, 'location', NEW.location_recording)
        ON CONFLICT (ticket_id, purpose) DO UPDATE
            SET audio_path = EXCLUDED.audio_path, status = 'pending', attempts = 0,
                not_before = clock_timestamp(), lease_until = NULL, last_error = NULL,
                created_at = clock_timestamp(), finished_at = NULL;
        PERFORM pg_notify('hotline_speech_jobs', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
