-- Quality review of calls: criteria per line (the administrator's, audited in admin_audit as
-- entity 'review_criterion' and 'review_settings'), calls flagged for review by their operator
-- or by a complaint, and supervisors' reviews of answered calls with one score per criterion.
-- The weekly queue is a query (db/reviews.py): a random sample per operator drawn from a
-- hash of the call's uniqueid and this installation's salt, so it is the same on every
-- instance and every reload, plus the flagged calls and the 115 calls slow to dispatch.

CREATE TABLE review_settings (
    id                       boolean     PRIMARY KEY DEFAULT true CHECK (id),
    sample_size              integer     NOT NULL DEFAULT 5 CHECK (sample_size BETWEEN 0 AND 100),
    dispatch_target_seconds  integer     NOT NULL DEFAULT 180
        CHECK (dispatch_target_seconds BETWEEN 10 AND 86400),
    salt                     text        NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text)
);
INSERT INTO review_settings DEFAULT VALUES;

CREATE TABLE review_criteria (
    line      text     NOT NULL CHECK (line IN ('1022', '115')),
    code      text     NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name_vi   text     NOT NULL CHECK (length(name_vi) BETWEEN 1 AND 200),
    name_en   text     NOT NULL CHECK (length(name_en) BETWEEN 1 AND 200),
    kind      text     NOT NULL CHECK (kind IN ('scale', 'yes_no')),  -- 0–5, or no/yes (0/1)
    weight    integer  NOT NULL CHECK (weight BETWEEN 1 AND 100),
    position  integer  NOT NULL,
    active    boolean  NOT NULL DEFAULT true,  -- a criterion once scored is switched off, not deleted
    PRIMARY KEY (line, code)
);
INSERT INTO review_criteria (line, code, name_vi, name_en, kind, weight, position) VALUES
    ('1022', 'greeting', 'Chào hỏi và xưng danh', 'Greeting and identification', 'scale', 2, 1),
    ('1022', 'routing', 'Phân loại lĩnh vực và chuyển đúng nơi', 'Correct category and routing', 'scale', 3, 2),
    ('1022', 'information', 'Thông tin cung cấp', 'Information given', 'scale', 3, 3),
    ('1022', 'courtesy', 'Thái độ lịch sự', 'Courtesy', 'scale', 2, 4),
    ('1022', 'closing', 'Kết thúc cuộc gọi', 'Closing', 'scale', 1, 5),
    ('115', 'address_60s', 'Xác nhận địa chỉ trong 60 giây', 'Address confirmed within 60 s', 'yes_no', 3, 1),
    ('115', 'triage', 'Hỏi đủ câu hỏi phân loại', 'Triage questions asked', 'scale', 3, 2),
    ('115', 'dispatch_decision', 'Quyết định điều xe', 'Dispatch decision', 'scale', 3, 3);

CREATE TABLE call_flags (
    call_id     bigint      NOT NULL REFERENCES calls (id),
    reason      text        NOT NULL CHECK (reason IN ('operator', 'complaint')),
    flagged_by  text        NOT NULL,
    flagged_at  timestamptz NOT NULL DEFAULT now(),
    note        text        NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    PRIMARY KEY (call_id, reason)
);

CREATE TABLE call_reviews (
    id           bigserial   PRIMARY KEY,
    call_id      bigint      NOT NULL UNIQUE REFERENCES calls (id),
    ticket_id    bigint      NOT NULL REFERENCES tickets (id),
    line         text        NOT NULL CHECK (line IN ('1022', '115')),
    operator     text        NOT NULL,          -- the user name of the operator who answered
    reviewer     text        NOT NULL,
    reviewed_at  timestamptz NOT NULL DEFAULT now(),
    score        numeric(5, 2) NOT NULL CHECK (score BETWEEN 0 AND 100),  -- weighted, percent
    notes        text        NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
    reasons      text[]      NOT NULL,          -- why the call was in the queue
    answer       text        CHECK (length(answer) BETWEEN 1 AND 4000),  -- the operator's, once
    answered_at  timestamptz,
    CHECK ((answer IS NULL) = (answered_at IS NULL))
);
CREATE INDEX call_reviews_operator_idx ON call_reviews (operator, reviewed_at);
CREATE INDEX call_reviews_reviewed_idx ON call_reviews (reviewed_at);

CREATE TABLE review_scores (
    review_id  bigint   NOT NULL REFERENCES call_reviews (id) ON DELETE CASCADE,
    line       text     NOT NULL,
    code       text     NOT NULL,
    value      smallint NOT NULL CHECK (value BETWEEN 0 AND 5),
    top        smallint NOT NULL CHECK (top IN (1, 5)),      -- the criterion's best value then
    weight     integer  NOT NULL CHECK (weight BETWEEN 1 AND 100),  -- its weight then
    CHECK (value <= top),
    PRIMARY KEY (review_id, code),
    FOREIGN KEY (line, code) REFERENCES review_criteria (line, code)
);

-- the weekly queue reads a week of answered calls
CREATE INDEX calls_answered_idx ON calls (answered_at) WHERE answered_at IS NOT NULL;

-- The operator who answered a call: the user whose softphone session on the answering
-- interface (calls.answered_by) covered the moment it was answered.
CREATE FUNCTION call_operator(interface text, answered timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT u.username FROM operator_sessions s JOIN users u ON u.id = s.user_id
    WHERE s.interface = $1 AND s.logged_in_at <= $2
      AND (s.logged_out_at IS NULL OR s.logged_out_at >= $2)
    ORDER BY s.logged_in_at DESC LIMIT 1
$$;
