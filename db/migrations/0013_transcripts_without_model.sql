-- Recordings taken where no speech model is installed: kept without a transcript, and no
-- transcription job is queued for them (it could never run). The intake marks such a ticket
-- 'no_model' (db/intake.py); the operator's console says so instead of "transcribing".

ALTER TABLE tickets DROP CONSTRAINT tickets_transcript_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_transcript_status_check
    CHECK (transcript_status IN ('none', 'pending', 'done', 'failed', 'no_model'));

DROP TRIGGER tickets_speech_enqueue ON tickets;
CREATE TRIGGER tickets_speech_enqueue
    AFTER INSERT OR UPDATE OF description_recording, location_recording ON tickets
    FOR EACH ROW WHEN (NEW.transcript_status <> 'no_model')
    EXECUTE FUNCTION speech_enqueue_recordings();
