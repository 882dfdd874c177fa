-- An archive copy (mp3/ogg) owed for a transcribed recording: set with the transcript by an
-- instance that writes archive copies, cleared once the copy is written or cannot be. The
-- copies wait in the instance's memory (speech/service.py); what an instance still owed when
-- it stopped is written by the next one to start, so no copy is lost at a shutdown.

ALTER TABLE transcription_jobs ADD COLUMN archive_owed boolean NOT NULL DEFAULT false;
CREATE INDEX transcription_jobs_archive_owed_idx ON transcription_jobs (id) WHERE archive_owed;
