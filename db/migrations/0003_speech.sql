-- Speech: transcription jobs and operators' category corrections.
--
-- A job is queued by a trigger whenever a ticket gets a (new) recording, whichever way the
-- snapshot arrived (live IVR or spool replay); workers of any instance claim jobs with
-- FOR UPDATE SKIP LOCKED and a lease (a job whose instance died is claimed again when its
-- lease runs out). NOTIFY hotline_speech_jobs wakes idle workers at once.

CREATE TABLE transcription_jobs (
    id              bigserial   PRIMARY KEY,
    ticket_id       bigint      NOT NULL REFERENCES tickets (id),
    purpose         text        NOT NULL CHECK (purpose IN ('description', 'location')),
    audio_path      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    not_before      timestamptz NOT NULL DEFAULT clock_timestamp(),  -- retry back-off
    lease_until     timestamptz,
    claimed_by      text,
    last_error      text,
    audio_seconds   real,
    decode_seconds  real,
    model           text,
    archive_path    text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),  -- ≈ end of the recording
    finished_at     timestamptz,
    UNIQUE (ticket_id, purpose)
);
CREATE INDEX transcription_jobs_pending_idx ON transcription_jobs (not_before, id)
    WHERE status = 'pending';
CREATE INDEX transcription_jobs_running_idx ON transcription_jobs (lease_until)
    WHERE status = 'running';

ALTER TABLE tickets
    ADD COLUMN transcript_audio_seconds  real,
    ADD COLUMN transcript_decode_seconds real,
    ADD COLUMN transcript_archive        text;   -- compact copy (mp3/ogg) for playback

CREATE FUNCTION speech_enqueue_recordings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_description text;
    old_location    text;
BEGIN
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

CREATE TRIGGER tickets_speech_enqueue
    AFTER INSERT OR UPDATE OF description_recording, location_recording ON tickets
    FOR EACH ROW EXECUTE FUNCTION speech_enqueue_recordings();

-- What the suggester proposed for a ticket (category, agency) from its transcript.
CREATE TABLE ticket_suggestions (
    ticket_id   bigint      PRIMARY KEY REFERENCES tickets (id),
    topic       text        NOT NULL,
    category    text        NOT NULL,
    agency_code text        NOT NULL,
    score       real        NOT NULL,
    confidence  real        NOT NULL,
    matched     jsonb       NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Operators' corrections: the text the suggestion was made from and where the ticket really
-- belongs; the suggester learns keywords from them at start-up.
CREATE TABLE category_corrections (
    id                  bigserial   PRIMARY KEY,
    ticket_id           bigint      NOT NULL REFERENCES tickets (id),
    text                text        NOT NULL,
    suggested_category  text,
    suggested_agency    text,
    category            text        NOT NULL CHECK (category IN
        ('admin_procedure', 'field_report', 'information', 'medical', 'unclassified')),
    agency_code         text        NOT NULL,
    operator            text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX category_corrections_ticket_idx ON category_corrections (ticket_id);
