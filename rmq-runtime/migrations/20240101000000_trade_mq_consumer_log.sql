-- The consumer log of rmq-runtime's idempotency guard (`rmq_runtime::idempotency`), the shape of the shop's
-- trade_mq_consumer_log. One row per (consumer group, tag, key) that a handler has been run for.
--
-- The same text runs on SQLite and PostgreSQL. `IdempotencyGuard::ensure_table()` runs it too, with the
-- table name replaced by the configured one; an app that keeps its schema in sqlx migrations copies this
-- file into its own migrations/ directory instead.
--
-- consumer_status: 0 processing (only ever visible inside the claiming transaction), 1 done, 2 failed.
-- consumer_times:  handler runs so far: every failed one, plus the successful one.
-- Strings are TEXT, not VARCHAR(n): a key longer than a limit would make every delivery fail the claim
-- and burn the retries on a database error instead of the handler's.
CREATE TABLE IF NOT EXISTS trade_mq_consumer_log (
    group_name         TEXT        NOT NULL,
    msg_tag            TEXT        NOT NULL,
    msg_key            TEXT        NOT NULL,
    msg_id             TEXT,
    msg_body           TEXT,
    consumer_status    INTEGER     NOT NULL DEFAULT 0,
    consumer_times     INTEGER     NOT NULL DEFAULT 0,
    consumer_timestamp TIMESTAMPTZ,
    remark             TEXT,
    PRIMARY KEY (group_name, msg_tag, msg_key)
);
