-- The shop's tables (shared/research/shop-spec.md), in SQL that SQLite and PostgreSQL both accept: eight of the
-- notes' nine (the ninth, trade_mq_consumer_log, belongs to rmq-runtime's idempotency guard, which creates it)
-- plus trade_pay_log, written by the pay-log consumer.
-- Money is integer cents (BIGINT); times are epoch milliseconds (BIGINT); ids are snowflake-style BIGINTs.

CREATE TABLE trade_goods (
    goods_id      BIGINT  PRIMARY KEY,
    goods_name    TEXT    NOT NULL,
    goods_number  BIGINT  NOT NULL CHECK (goods_number >= 0),   -- stock
    goods_price   BIGINT  NOT NULL CHECK (goods_price >= 0),
    goods_desc    TEXT    NOT NULL DEFAULT '',
    add_time      BIGINT  NOT NULL
);

-- A deduction (-n) and its restore (+n) for one order are two rows, so the sign is part of the key.
CREATE TABLE trade_goods_number_log (
    goods_id      BIGINT  NOT NULL,
    order_id      BIGINT  NOT NULL,
    goods_number  BIGINT  NOT NULL,
    log_time      BIGINT  NOT NULL,
    PRIMARY KEY (goods_id, order_id, goods_number)
);

CREATE TABLE trade_coupon (
    coupon_id     BIGINT  PRIMARY KEY,
    coupon_price  BIGINT  NOT NULL CHECK (coupon_price >= 0),
    user_id       BIGINT  NOT NULL,
    order_id      BIGINT,
    is_used       BIGINT  NOT NULL DEFAULT 0 CHECK (is_used IN (0, 1)),   -- 0 unused, 1 used
    used_time     BIGINT
);

CREATE TABLE trade_user (
    user_id        BIGINT PRIMARY KEY,
    user_name      TEXT   NOT NULL,
    user_password  TEXT   NOT NULL,   -- a salted hash, never the password
    user_mobile    TEXT   NOT NULL DEFAULT '',
    user_score     BIGINT NOT NULL DEFAULT 0,
    user_reg_time  BIGINT NOT NULL,
    user_money     BIGINT NOT NULL CHECK (user_money >= 0)
);

-- One payment (1) and at most one refund (2) per user and order.
CREATE TABLE trade_user_money_log (
    user_id         BIGINT  NOT NULL,
    order_id        BIGINT  NOT NULL,
    money_log_type  BIGINT  NOT NULL CHECK (money_log_type IN (1, 2)),
    use_money       BIGINT  NOT NULL,
    create_time     BIGINT  NOT NULL,
    PRIMARY KEY (user_id, order_id, money_log_type)
);

CREATE TABLE trade_order (
    order_id         BIGINT  PRIMARY KEY,
    user_id          BIGINT  NOT NULL,
    order_status     BIGINT  NOT NULL DEFAULT 0,   -- 0 unconfirmed, 1 confirmed, 2 cancelled, 3 invalid, 4 refunded
    pay_status       BIGINT  NOT NULL DEFAULT 0,   -- 0 unpaid, 1 paying, 2 paid
    shipping_status  BIGINT  NOT NULL DEFAULT 0,   -- 0 not shipped, 1 shipped, 2 returned
    address          TEXT    NOT NULL DEFAULT '',
    consignee        TEXT    NOT NULL DEFAULT '',
    goods_id         BIGINT  NOT NULL,
    goods_number     BIGINT  NOT NULL,
    goods_price      BIGINT  NOT NULL,
    goods_amount     BIGINT  NOT NULL,
    shipping_fee     BIGINT  NOT NULL,
    order_amount     BIGINT  NOT NULL,
    coupon_id        BIGINT,
    coupon_paid      BIGINT  NOT NULL DEFAULT 0,
    money_paid       BIGINT  NOT NULL DEFAULT 0,
    pay_amount       BIGINT  NOT NULL,
    add_time         BIGINT  NOT NULL,
    confirm_time     BIGINT,
    pay_time         BIGINT
);

CREATE TABLE trade_pay (
    pay_id      BIGINT  PRIMARY KEY,
    order_id    BIGINT  NOT NULL,
    pay_amount  BIGINT  NOT NULL,
    is_paid     BIGINT  NOT NULL DEFAULT 1 CHECK (is_paid IN (1, 2))   -- 1 not paid, 2 paid
);
CREATE INDEX trade_pay_order ON trade_pay (order_id);

-- The transactional outbox of the payment callback; the relay sends pending rows and marks them sent.
CREATE TABLE trade_mq_producer_temp (
    id           BIGINT  PRIMARY KEY,
    group_name   TEXT    NOT NULL,
    msg_topic    TEXT    NOT NULL,
    msg_tag      TEXT    NOT NULL,
    msg_key      TEXT    NOT NULL,
    msg_body     TEXT    NOT NULL,
    msg_status   BIGINT  NOT NULL DEFAULT 0,   -- 0 pending, 1 sent
    create_time  BIGINT  NOT NULL
);
CREATE INDEX trade_mq_producer_temp_pending ON trade_mq_producer_temp (msg_status, create_time);

-- What the pay-log consumer records: one row per payment (an addition to the notes' nine tables, so that
-- the third pay consumer has an effect of its own to make idempotent).
CREATE TABLE trade_pay_log (
    pay_id      BIGINT  PRIMARY KEY,
    order_id    BIGINT  NOT NULL,
    pay_amount  BIGINT  NOT NULL,
    log_time    BIGINT  NOT NULL
);
