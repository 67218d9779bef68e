-- One row per report job: what was asked, how far it got, and where the file is.
CREATE TABLE reports (
    id           uuid        PRIMARY KEY,
    owner        text        NOT NULL,
    owner_role   text        NOT NULL CHECK (owner_role IN ('applicant', 'operator', 'service')),
    kind         text        NOT NULL CHECK (kind IN ('PURCHASE', 'APPLICATIONS_SUMMARY')),
    format       text        NOT NULL CHECK (format IN ('CSV', 'JSON', 'XLSX')),
    -- The job's parameters as it named them (applicationId, appliedFrom, appliedTo, statuses).
    parameters   jsonb       NOT NULL,
    status       text        NOT NULL DEFAULT 'QUEUED'
                             CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED')),
    -- Builds started: a build whose worker died counts, and so does each retry.
    attempts     integer     NOT NULL DEFAULT 0,
    percent      smallint    NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100),
    error        text,
    requested_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    -- Set once COMPLETED.
    row_count    bigint,
    size         bigint,
    sha256       text,
    file_name    text,
    object_key   text,
    CONSTRAINT reports_completed_has_file CHECK (
        status <> 'COMPLETED'
        OR (size IS NOT NULL AND sha256 IS NOT NULL AND file_name IS NOT NULL
            AND object_key IS NOT NULL)
    )
);

-- Listings, newest first: a person's own, and everyone's for operators.
CREATE INDEX reports_by_owner_newest ON reports (owner, created_at DESC, id DESC);
CREATE INDEX reports_newest ON reports (created_at DESC, id DESC);
