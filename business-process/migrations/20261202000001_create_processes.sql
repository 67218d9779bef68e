-- One process per application: a persisted state machine driven by events, operators and time.
CREATE TABLE processes (
    application_id      uuid        PRIMARY KEY,
    applicant           text        NOT NULL,
    title               text        NOT NULL,
    total_amount_minor  bigint      NOT NULL CHECK (total_amount_minor >= 0),
    applied_at          timestamptz NOT NULL,
    state               text        NOT NULL
        CONSTRAINT processes_state_known CHECK (state IN (
            'STARTING', 'AWAITING_DECISION', 'APPROVING', 'REJECTING', 'CANCELLING',
            'COMPLETED', 'REJECTED', 'CANCELLED')),
    -- Why the process rejects or was rejected (over budget, an operator's comment, the deadline).
    reason              text,
    -- The latest application version this process has taken into account (events and answers of
    -- application-service); an event at or below it is stale, one above it by more than one early.
    application_version bigint      NOT NULL,
    -- Optimistic concurrency on the process itself.
    version             bigint      NOT NULL DEFAULT 1,
    decision_due_at     timestamptz,
    purchase_report_id  uuid,
    -- When the driver may take the next step (later after a passing failure), and why it failed.
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    attempts            integer     NOT NULL DEFAULT 0,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- The driver picks up what has work to do; operators list what waits, oldest first.
CREATE INDEX processes_with_work ON processes (next_attempt_at)
    WHERE state IN ('STARTING', 'APPROVING', 'REJECTING', 'CANCELLING');
CREATE INDEX processes_by_state ON processes (state, created_at, application_id);
CREATE INDEX processes_by_applicant ON processes (applicant, created_at);

-- Wakes the driver when a process gets work to do, and the timer loop when a deadline is set
-- (delivered at commit, once per transaction).
CREATE FUNCTION notify_channel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER processes_with_work_notify AFTER INSERT OR UPDATE OF state, next_attempt_at ON processes
    FOR EACH ROW WHEN (NEW.state IN ('STARTING', 'APPROVING', 'REJECTING', 'CANCELLING'))
    EXECUTE FUNCTION notify_channel('process_work');

-- Announces every change of a process (`<application id> <state>`), for whoever follows them.
CREATE FUNCTION notify_process_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('process_changed', NEW.application_id::text || ' ' || NEW.state);
    RETURN NULL;
END;
$$;
CREATE TRIGGER processes_changed_notify AFTER INSERT OR UPDATE OF state ON processes
    FOR EACH ROW EXECUTE FUNCTION notify_process_changed();

-- Every step of every process, with its time and details, in order.
CREATE TABLE process_steps (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id uuid        NOT NULL REFERENCES processes (application_id),
    step           text        NOT NULL,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX process_steps_by_application ON process_steps (application_id, id);

-- Messages already handled, per consumer: a redelivered or duplicated message is a no-op.
CREATE TABLE inbox (
    consumer   text        NOT NULL,
    message_id uuid        NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Application events that arrived before their predecessor; applied when it has taken effect.
CREATE TABLE deferred_events (
    application_id uuid        NOT NULL,
    version        bigint      NOT NULL,
    message_id     uuid        NOT NULL,
    body           jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (application_id, version)
);

-- Budgets: a monthly limit per applicant (the default when absent) and the reservations held
-- against each calendar month (UTC) of `applied_at`.
CREATE TABLE budgets (
    applicant           text        PRIMARY KEY,
    monthly_limit_minor bigint      NOT NULL CHECK (monthly_limit_minor >= 0),
    updated_by          text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE reservations (
    application_id uuid        PRIMARY KEY,
    applicant      text        NOT NULL,
    month          date        NOT NULL,
    amount_minor   bigint      NOT NULL CHECK (amount_minor >= 0),
    state          text        NOT NULL
        CONSTRAINT reservations_state_known CHECK (state IN ('RESERVED', 'COMMITTED', 'RELEASED')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reservations_by_applicant_month ON reservations (applicant, month) WHERE state <> 'RELEASED';
-- Serialises reservations of one applicant and month (a row locked FOR UPDATE while reserving).
CREATE TABLE budget_months (
    applicant text NOT NULL,
    month     date NOT NULL,
    PRIMARY KEY (applicant, month)
);

-- Durable timers: a decision deadline fires once, even across restarts.
CREATE TABLE timers (
    application_id uuid        PRIMARY KEY,
    kind           text        NOT NULL,
    due_at         timestamptz NOT NULL,
    fired_at       timestamptz,
    cancelled_at   timestamptz
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
CREATE TRIGGER timers_notify AFTER INSERT OR UPDATE OF due_at ON timers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('timers');

-- Operators' decisions, replayed for a repeated request_id.
CREATE TABLE decisions (
    request_id     text        NOT NULL,
    operator       text        NOT NULL,
    application_id uuid        NOT NULL,
    decision       text        NOT NULL,
    comment        text,
    decided_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operator, request_id)
);

-- Notifications to deliver through the outside notification service, written in the same
-- transaction as the step that causes them; delivered at least once with a stable id.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    body            text        NOT NULL,
    application_id  uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL;

-- Reports requested through this service (on-demand summaries and purchase reports).
CREATE TABLE report_requests (
    report_id    uuid        PRIMARY KEY,
    kind         text        NOT NULL,
    format       text        NOT NULL,
    owner        text        NOT NULL,
    owner_role   text        NOT NULL,
    application_id uuid,
    requested_at timestamptz NOT NULL DEFAULT now(),
    status       text        NOT NULL DEFAULT 'REQUESTED',
    size_bytes   bigint,
    reason       text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
