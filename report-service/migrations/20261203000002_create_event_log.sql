-- The durable log of what browsers are told over WebSocket: this service's report events,
-- appended in the transaction that changes the report, and application status changes,
-- appended once each from report-service.application-events. Every replica follows it in
-- commit order (xid, id), woken by NOTIFY event_log.
CREATE TABLE event_log (
    id         bigserial   PRIMARY KEY,
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    at         timestamptz NOT NULL DEFAULT now(),
    -- The user the event belongs to; operators see every owner's.
    owner      text        NOT NULL,
    -- report.progress | report.completed | report.failed | application.status_changed
    type       text        NOT NULL,
    -- The message fields besides id/type/at (reportId, format, percent, size, reason,
    -- applicationId, status).
    body       jsonb       NOT NULL,
    -- The broker message id for consumed events (dedup); the event id for our own.
    message_id uuid        UNIQUE
);
CREATE INDEX event_log_at ON event_log (at);

CREATE FUNCTION event_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('event_log', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER event_log_notify AFTER INSERT ON event_log
    FOR EACH STATEMENT EXECUTE FUNCTION event_log_notify();
