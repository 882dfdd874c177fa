-- The administrator console: prompt texts edited in the console. A row overrides the text of
-- ivr/menu.toml for one prompt in one language when `python -m ivr.prompts` makes the sound
-- files again; what the IVR plays at run time is still only the files. Each change is also
-- in admin_audit (entity 'prompt').
CREATE TABLE prompt_texts (
    key         text        NOT NULL CHECK (length(key) BETWEEN 1 AND 100),
    lang        text        NOT NULL CHECK (lang IN ('vi', 'en')),
    text        text        NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    updated_by  text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, lang)
);

