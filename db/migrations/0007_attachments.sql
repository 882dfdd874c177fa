-- Files an agency attaches to its answer (PDF, JPEG, PNG): the bytes live under
-- data_dir/attachments/<stored_name> (a generated name, never the client's); the name the
-- uploader gave is only shown. Adding one is also a ticket event (kind 'attachment_added').
CREATE TABLE ticket_attachments (
    id            bigserial PRIMARY KEY,
    ticket_id     bigint      NOT NULL REFERENCES tickets (id),
    filename      text        NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    stored_name   text        NOT NULL UNIQUE CHECK (stored_name ~ '^[0-9a-f]{32}$'),
    content_type  text        NOT NULL
        CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size          bigint      NOT NULL CHECK (size > 0),
    sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by   text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_attachments_ticket_idx ON ticket_attachments (ticket_id, at);

-- The agency inbox lists an agency's tickets by deadline.
CREATE INDEX tickets_agency_deadline_idx ON tickets (agency_code, deadline_at);
