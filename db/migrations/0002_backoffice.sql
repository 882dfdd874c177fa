-- Back office: categories, agencies and localities, routing, lifecycle, 115 dispatch.
-- Reference data (localities, agencies, subcategories, routing rules, holidays, facilities) is
-- loaded from tickets/data/demo_province.toml by `hotline province load`; the administrator
-- edits it afterwards through the API (every change in admin_audit).

CREATE TABLE localities (
    code         text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('province', 'district', 'ward')),
    parent_code  text REFERENCES localities (code),
    name_vi      text NOT NULL,
    name_en      text NOT NULL,
    lat          double precision,     -- a representative point, for 115 when only the
    long         double precision      -- locality of the caller is known
);

CREATE TABLE agencies (
    code           text PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN
        ('coordinator', 'department', 'district', 'ward', 'utility', 'police', 'board')),
    name_vi        text NOT NULL,
    name_en        text NOT NULL,
    locality_code  text REFERENCES localities (code),
    active         boolean NOT NULL DEFAULT true
);

-- The five top-level categories are an API contract (CHECK on tickets.category); their labels
-- and deadlines are configurable here.
CREATE TABLE categories (
    code           text PRIMARY KEY CHECK (code IN
        ('admin_procedure', 'field_report', 'information', 'medical', 'unclassified')),
    name_vi        text NOT NULL,
    name_en        text NOT NULL,
    deadline_days  integer CHECK (deadline_days > 0)   -- working days; NULL = no deadline
);

CREATE TABLE subcategories (
    code           text PRIMARY KEY,
    category       text NOT NULL REFERENCES categories (code),
    name_vi        text NOT NULL,
    name_en        text NOT NULL,
    deadline_days  integer CHECK (deadline_days > 0),  -- overrides the category's when set
    active         boolean NOT NULL DEFAULT true
);

-- category × subcategory × locality ⇒ agency; NULL matches anything. The most specific rule
-- wins (see tickets/routing.py); no rule ⇒ the coordinator agency.
CREATE TABLE routing_rules (
    id             bigserial PRIMARY KEY,
    category       text NOT NULL REFERENCES categories (code),
    subcategory    text REFERENCES subcategories (code),
    locality_code  text REFERENCES localities (code),
    agency_code    text NOT NULL REFERENCES agencies (code),
    UNIQUE NULLS NOT DISTINCT (category, subcategory, locality_code)
);

CREATE TABLE holidays (
    day      date PRIMARY KEY,
    name_vi  text NOT NULL,
    name_en  text NOT NULL
);

CREATE TABLE facilities (
    code           text PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('hospital', 'health_centre', 'emergency_centre')),
    name_vi        text NOT NULL,
    name_en        text NOT NULL,
    locality_code  text REFERENCES localities (code),
    lat            double precision NOT NULL,
    long           double precision NOT NULL,
    ambulances     integer NOT NULL DEFAULT 0 CHECK (ambulances >= 0),
    available      integer NOT NULL DEFAULT 0 CHECK (available >= 0),
    active         boolean NOT NULL DEFAULT true
);

-- The ticket lifecycle (tickets/lifecycle.py). Existing columns keep their meaning.
ALTER TABLE tickets
    ADD COLUMN subcategory      text REFERENCES subcategories (code),
    ADD COLUMN source           text NOT NULL DEFAULT 'phone'
        CHECK (source IN ('phone', 'open311', 'transfer', 'scenario')),
    ADD COLUMN lat              double precision,
    ADD COLUMN long             double precision,
    ADD COLUMN deadline_at      timestamptz,
    ADD COLUMN classified_at    timestamptz,
    ADD COLUMN forwarded_at     timestamptz,
    ADD COLUMN accepted_at      timestamptz,
    ADD COLUMN responded_at     timestamptz,
    ADD COLUMN response         text,
    ADD COLUMN closed_at        timestamptz,
    ADD COLUMN closure          text CHECK (closure IN ('satisfied', 'unsatisfied', 'no_answer')),
    ADD COLUMN escalated_at     timestamptz,
    ADD COLUMN merged_into      bigint REFERENCES tickets (id),
    ADD COLUMN transferred_from bigint REFERENCES tickets (id),
    -- 115 dispatch
    ADD COLUMN answered_at      timestamptz,
    ADD COLUMN dispatched_at    timestamptz,
    ADD COLUMN on_scene_at      timestamptz,
    ADD COLUMN completed_at     timestamptz,
    ADD COLUMN facility_code    text REFERENCES facilities (code),
    ADD COLUMN outcome          text CHECK (outcome IN
        ('handled', 'transported', 'no_vehicle', 'cancelled', 'unreachable', 'prank',
         'duplicate'));
CREATE INDEX tickets_created_idx ON tickets (line, created_at);
CREATE INDEX tickets_open_deadline_idx ON tickets (deadline_at)
    WHERE closed_at IS NULL AND escalated_at IS NULL;
CREATE INDEX tickets_dup_idx ON tickets (locality, category, created_at);

-- One row per facility asked to send an ambulance for a 115 ticket, in order.
CREATE TABLE dispatch_requests (
    id             bigserial PRIMARY KEY,
    ticket_id      bigint      NOT NULL REFERENCES tickets (id),
    seq            integer     NOT NULL,
    facility_code  text        NOT NULL REFERENCES facilities (code),
    sent_at        timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    answered_at    timestamptz,
    result         text        NOT NULL DEFAULT 'pending'
        CHECK (result IN ('pending', 'accepted', 'declined', 'timed_out')),
    reason         text,
    UNIQUE (ticket_id, seq)
);
CREATE INDEX dispatch_requests_pending_idx ON dispatch_requests (due_at) WHERE result = 'pending';

-- Queue outcomes of a call, written by the AMI adapter (agents/) from QueueCallerJoin,
-- AgentConnect and QueueCallerAbandon; the reports compute service level and abandonment here.
ALTER TABLE calls
    ADD COLUMN queue_joined_at     timestamptz,
    ADD COLUMN answered_at         timestamptz,
    ADD COLUMN abandoned_at        timestamptz,
    ADD COLUMN queue_wait_seconds  double precision CHECK (queue_wait_seconds >= 0),
    ADD COLUMN answered_by         text;
CREATE INDEX calls_queue_joined_idx ON calls (queue_joined_at) WHERE queue_joined_at IS NOT NULL;

-- Open311 API keys: only the SHA-256 of the key is stored.
CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    key_hash    bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Every administrator change: who, when, what (before and after).
CREATE TABLE admin_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    entity      text        NOT NULL,
    entity_key  text        NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX admin_audit_entity_idx ON admin_audit (entity, entity_key, at);
