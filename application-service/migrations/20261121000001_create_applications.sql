-- Applications (purchase requests). Money is kept exactly as an integer count of minor units.
CREATE TABLE applications (
    id                 uuid        PRIMARY KEY,
    applicant          text        NOT NULL,
    title              text        NOT NULL,
    description        text,
    items              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    total_amount_minor bigint      NOT NULL CHECK (total_amount_minor >= 0),
    status             text        NOT NULL
        CONSTRAINT applications_status_known
        CHECK (status IN ('NEW', 'PROCESSING', 'COMPLETED', 'CANCELLED', 'REJECTED')),
    applied_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    cancel_reason      text,
    cancelled_at       timestamptz,
    rejection_reason   text,
    -- Optimistic concurrency: every change bumps it, and writers update only the version they read.
    version            bigint      NOT NULL DEFAULT 1,
    -- The transaction that last wrote the row; lets derived indexes catch up without gaps.
    change_xid         xid8        NOT NULL DEFAULT pg_current_xact_id()
);

-- Newest first with a unique tie-breaker: the keyset order of every listing.
CREATE INDEX applications_by_applied_at ON applications (applied_at DESC, id DESC);
CREATE INDEX applications_by_status_applied_at ON applications (status, applied_at DESC, id DESC);
CREATE INDEX applications_by_applicant_applied_at ON applications (applicant, applied_at DESC, id DESC);
CREATE INDEX applications_by_change_xid ON applications (change_xid);

-- Idempotency keys: the same key from the same applicant replays the first answer. Single and
-- batch create share one key space; the fingerprint covers the operation.
CREATE TABLE idempotency_keys (
    applicant           text        NOT NULL,
    operation           text        NOT NULL,
    request_id          text        NOT NULL,
    request_fingerprint bytea       NOT NULL,
    application_ids     uuid[]      NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (applicant, request_id)
);
CREATE INDEX idempotency_keys_by_created_at ON idempotency_keys (created_at);
