-- Work tables of one generator run (temporary, gone at commit).
--   history_corpus   the corpus records (typed snapshot columns as JSON), in corpus file order
--   history_pools    per snapshot type: which corpus titles match its filter, and how many variants of each
CREATE TEMP TABLE history_corpus (
    corpus_order  integer NOT NULL,
    record        jsonb   NOT NULL
) ON COMMIT DROP;

CREATE TEMP TABLE history_pools (
    snapshot_type  text    NOT NULL,
    base_mal_id    integer NOT NULL,
    variants       integer NOT NULL,
    PRIMARY KEY (snapshot_type, base_mal_id)
) ON COMMIT DROP;

CREATE TEMP TABLE history_daily (
    snapshot_date  date    NOT NULL,
    mal_id         integer NOT NULL,
    score          numeric(4, 2),
    scored_by      integer,
    members        integer,
    favorites      integer,
    rank           integer,
    popularity     integer
) ON COMMIT DROP;
