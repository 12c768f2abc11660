-- Typed snapshot rows: one per title, snapshot type and snapshot date.
CREATE TABLE core.anime_snapshots (
    snapshot_type   text        NOT NULL,
    snapshot_date   date        NOT NULL,
    mal_id          integer     NOT NULL,
    list_position   integer     NOT NULL,   -- 1-based place in the list Jikan returned
    title           text        NOT NULL,
    title_english   text,
    title_japanese  text,
    type            text,
    source          text,
    episodes        integer,
    status          text,
    airing          boolean,
    aired_from      timestamptz,
    aired_to        timestamptz,
    duration        text,
    rating          text,
    score           numeric(4, 2),
    scored_by       integer,
    rank            integer,
    popularity      integer,
    members         integer,
    favorites       integer,
    season          text,
    year            integer,
    genres          text[]      NOT NULL DEFAULT '{}',
    themes          text[]      NOT NULL DEFAULT '{}',
    demographics    text[]      NOT NULL DEFAULT '{}',
    studios         text[]      NOT NULL DEFAULT '{}',
    payload         jsonb       NOT NULL,   -- the full Jikan object
    batch_id        bigint      NOT NULL REFERENCES raw.extract_batches (batch_id),
    run_id          text        NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_type, snapshot_date, mal_id),
    CHECK (score IS NULL OR score BETWEEN 0 AND 10)
);
CREATE INDEX anime_snapshots_title_history_idx ON core.anime_snapshots (mal_id, snapshot_date);

-- Valid, de-duplicated records of one extract batch, waiting for (or kept after) the upsert.
CREATE TABLE core.staged_records (
    batch_id       bigint  NOT NULL REFERENCES raw.extract_batches (batch_id),
    mal_id         integer NOT NULL,
    list_position  integer NOT NULL,
    record         jsonb   NOT NULL,   -- typed columns, as validated
    payload        jsonb   NOT NULL,   -- the object as received
    PRIMARY KEY (batch_id, mal_id)
);

-- Records that failed validation, with why.
CREATE TABLE core.rejects (
    reject_id      bigserial   PRIMARY KEY,
    batch_id       bigint      NOT NULL REFERENCES raw.extract_batches (batch_id),
    dag_id         text        NOT NULL,
    run_id         text        NOT NULL,
    snapshot_type  text        NOT NULL,
    snapshot_date  date        NOT NULL,
    page           integer     NOT NULL,
    mal_id         integer,               -- when the record had a usable one
    payload        jsonb       NOT NULL,
    errors         jsonb       NOT NULL,  -- [{loc, msg, type, input}]
    rejected_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_batch_idx ON core.rejects (batch_id);

-- One row per DAG run that loaded a snapshot (rewritten when the upsert is rerun).
CREATE TABLE core.run_metrics (
    dag_id            text        NOT NULL,
    run_id            text        NOT NULL,
    snapshot_type     text        NOT NULL,
    snapshot_date     date        NOT NULL,
    batch_id          bigint      NOT NULL REFERENCES raw.extract_batches (batch_id),
    requests          integer     NOT NULL,
    retries           integer     NOT NULL,
    rate_limited      integer     NOT NULL,
    pages             integer     NOT NULL,
    received          integer     NOT NULL,
    distinct_records  integer     NOT NULL,
    duplicates        integer     NOT NULL,
    rejected          integer     NOT NULL,
    inserted          integer     NOT NULL,
    updated           integer     NOT NULL,
    removed           integer     NOT NULL,  -- rows of the same snapshot no longer in the list
    started_at        timestamptz NOT NULL,  -- extract start
    finished_at       timestamptz NOT NULL,  -- upsert commit
    duration_seconds  numeric(10, 3) NOT NULL,
    outcome           text        NOT NULL,
    PRIMARY KEY (dag_id, run_id)
);
CREATE INDEX run_metrics_snapshot_idx ON core.run_metrics (snapshot_type, snapshot_date);
