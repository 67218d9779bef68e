-- The transactional outbox (zayavki_common::outbox): every change writes its events here in the
-- same transaction, and the relay publishes them to RabbitMQ in commit order.
CREATE TABLE outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id  uuid        NOT NULL,
    exchange    text        NOT NULL,
    routing_key text        NOT NULL,
    -- json, not jsonb: published exactly as written, keys in their order.
    body        json        NOT NULL,
    traceparent text,
    occurred_at timestamptz NOT NULL,
    -- The writing transaction: the relay publishes a row only once every older transaction has
    -- finished, so a late commit is never skipped.
    change_xid  xid8        NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX outbox_in_commit_order ON outbox (change_xid, id);

-- How far the relay has published, in commit order: every row at or before it is out.
CREATE TABLE outbox_relay (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    published_xid bigint      NOT NULL DEFAULT 0,
    published_id  bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO outbox_relay DEFAULT VALUES;

-- Wakes the relay when messages commit (a notification is delivered at commit, once per
-- transaction however many statements sent it).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
