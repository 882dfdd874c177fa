-- What the public may read of a ticket (Open311): a short summary an operator writes when
-- classifying, empty until then. It is masked again when published; the caller's description,
-- transcript and address are never published.
ALTER TABLE tickets ADD COLUMN public_summary text;
