-- Asterisk's queue_log, written by each PBX through its realtime driver (extconfig.conf:
-- queue_log => pgsql,<database>,queue_log). The columns are those main/logger.c ast_queue_log
-- stores (time, callid, queuename, agent, event, data1 … data5: with data1 … data5 present it
-- uses the "adaptive" form); contrib/ast-db-manage/queue_log creates the same table with
-- varchar columns. res_config_pgsql accepts text for its character fields (require_pgsql) and
-- inserts `time` as the text '%F %T.%6q' — with queue_log_realtime_use_gmt = yes that is UTC,
-- so the column has no zone, as Asterisk's own schema.
-- Ours, never written by Asterisk: `xid` (the inserting transaction) and `id` (arrival order).
-- The applier reads rows in (xid, id) order once no transaction of this database that could
-- still add an earlier one is running: no row committed late is ever skipped.

CREATE TABLE queue_log (
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    id         bigserial   PRIMARY KEY,
    time       timestamp   NOT NULL,
    callid     text        NOT NULL DEFAULT '',
    queuename  text        NOT NULL DEFAULT '',
    agent      text        NOT NULL DEFAULT '',
    event      text        NOT NULL,
    data1      text        NOT NULL DEFAULT '',
    data2      text        NOT NULL DEFAULT '',
    data3      text        NOT NULL DEFAULT '',
    data4      text        NOT NULL DEFAULT '',
    data5      text        NOT NULL DEFAULT ''
);
CREATE INDEX queue_log_xid_idx ON queue_log (xid, id);
CREATE INDEX queue_log_callid_idx ON queue_log (callid);

-- Every instance's applier hears of new rows at once (it also polls).
CREATE FUNCTION queue_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotline_queue_log', '{}');
    RETURN NULL;
END $$;
CREATE TRIGGER queue_log_inserted AFTER INSERT ON queue_log
    FOR EACH STATEMENT EXECUTE FUNCTION queue_log_notify();
