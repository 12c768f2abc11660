-- One row per extract attempt: what was asked, for which run, and how the requests went.
CREATE TABLE raw.extract_batches (
    batch_id       bigserial PRIMARY KEY,
    dag_id         text        NOT NULL,
    run_id         text        NOT NULL,
    snapshot_type  text        NOT NULL,
    snapshot_date  date        NOT NULL,
    query          jsonb       NOT NULL,            -- params sent to GET /v4/anime (without page)
    requests       integer     NOT NULL DEFAULT 0,  -- HTTP requests sent, retries included
    retries        integer     NOT NULL DEFAULT 0,
    rate_limited   integer     NOT NULL DEFAULT 0,  -- 429 responses received
    pages          integer     NOT NULL DEFAULT 0,
    received       integer     NOT NULL DEFAULT 0,  -- records in all pages, duplicates included
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL
);
CREATE INDEX extract_batches_snapshot_idx ON raw.extract_batches (snapshot_type, snapshot_date);
CREATE INDEX extract_batches_run_idx ON raw.extract_batches (dag_id, run_id);

-- Every page as Jikan sent it (the JSON body), with the URL that fetched it.
CREATE TABLE raw.jikan_pages (
    batch_id     bigint      NOT NULL REFERENCES raw.extract_batches (batch_id),
    page         integer     NOT NULL,
    request_url  text        NOT NULL,
    http_status  integer     NOT NULL,
    fetched_at   timestamptz NOT NULL,
    body         jsonb       NOT NULL,
    PRIMARY KEY (batch_id, page)
);
