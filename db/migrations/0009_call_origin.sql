-- Who made a call's row: the IVR ('ivr'), or the queue record when the call reached a queue
-- without an IVR snapshot in the database ('queue'). An IVR snapshot replayed later from the
-- spool merges into a 'queue' row (tickets.intake.save_action). Rows made from the queue so
-- far are those whose path starts with the step 'seen_in_queue'.
ALTER TABLE calls
    ADD COLUMN origin text NOT NULL DEFAULT 'ivr' CHECK (origin IN ('ivr', 'queue'));
UPDATE calls SET origin = 'queue' WHERE ivr_path -> 0 ->> 'step' = 'seen_in_queue';
